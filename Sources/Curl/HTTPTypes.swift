/// The HTTP methods the agent needs.
public enum HTTPMethod: Sendable, Equatable {
    /// `GET`, used for scrapes.
    case get
    /// `POST` with ``HTTPRequest/body`` as the request body, used for remote write.
    case post
}

/// One HTTP request for ``HTTPTransport/perform(_:)`` or ``HTTPTransport/stream(_:idleTimeout:maxBufferedBytes:)``.
public struct HTTPRequest: Sendable {
    /// The method; `.post` sends ``body``.
    public var method: HTTPMethod
    /// An absolute `http://` or `https://` URL. Other schemes are refused.
    public var url: String
    /// Request headers, sent in order. Names and values must not contain CR or LF, names not
    /// `:` either. An empty value is sent as an empty header (not as a removal).
    /// User-Agent and Content-Type are whatever the caller passes here; no Content-Type is
    /// sent unless given.
    public var headers: [(name: String, value: String)]
    /// The request body, sent for `.post` only.
    public var body: [UInt8]
    /// Limit for the whole request: connect, send, wait and receive (`CURLOPT_TIMEOUT_MS`).
    /// Rounded to whole milliseconds, at least 1.
    public var timeout: Duration
    /// Optional separate limit for establishing the connection, TLS included
    /// (`CURLOPT_CONNECTTIMEOUT_MS`); `nil` leaves only ``timeout``.
    public var connectTimeout: Duration?
    /// When set, the transfer is aborted with ``CurlError/Kind-swift.enum/responseTooLarge`` once
    /// more than this many (decoded) body bytes have arrived.
    public var maxResponseBytes: Int?
    /// `Accept-Encoding` handling (`CURLOPT_ACCEPT_ENCODING`): `nil` sends none and leaves the
    /// body as received; `""` offers every encoding libcurl supports and decodes the body
    /// automatically; any other value is sent as given and decoded when libcurl can.
    public var acceptEncoding: String?
    /// Whether to follow 3xx redirects (at most 10, http/https only).
    public var followRedirects: Bool = true
    /// TLS settings for `https://` URLs. The default verifies the server against the system
    /// trust store.
    public var tls: TLSOptions = TLSOptions()
    /// The proxy to send the request through (`CURLOPT_PROXY`), for example
    /// `http://proxy.example:3128` or `socks5://127.0.0.1:1080`; `https://` targets are
    /// tunnelled with `CONNECT`. Credentials may be given in the URL. `nil` connects directly.
    /// The `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy` environment variables are
    /// always ignored.
    public var proxyURL: String?
    /// Headers sent to the proxy in the `CONNECT` request that tunnels an `https://` URL
    /// through ``proxyURL`` (`CURLOPT_PROXYHEADER`), never to the server. Not sent for
    /// `http://` URLs, which are forwarded without `CONNECT` (as in Go). Same rules as ``headers``.
    public var proxyConnectHeaders: [(name: String, value: String)] = []
    /// Whether HTTP/2 may be negotiated with TLS servers (ALPN offers `h2` and `http/1.1`,
    /// libcurl's `CURL_HTTP_VERSION_2TLS`); `false` uses HTTP/1.1 only
    /// (`CURL_HTTP_VERSION_1_1`). Plain `http://` requests are HTTP/1.1 either way.
    public var allowsHTTP2: Bool = true
    /// HTTP Basic authentication credentials, or `nil` for none. An `Authorization` header in
    /// ``headers`` takes precedence.
    public var basicAuth: BasicAuth?

    /// Creates a request.
    public init(
        method: HTTPMethod = .get,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A complete HTTP response. Any status, including 4xx and 5xx, is a response, not an error.
public struct HTTPResponse: Sendable {
    /// The status code of the final response (after redirects).
    public var status: Int
    /// The final response's headers in arrival order, names lowercased, values trimmed.
    /// Headers of redirect and `100 Continue` responses are not included.
    public var headers: [(name: String, value: String)]
    /// The body, decoded when ``HTTPRequest/acceptEncoding`` asked for it.
    public var body: [UInt8]

    /// Creates a response (useful for tests and fakes).
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of the header `name`, compared case-insensitively, or `nil`.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }
}

/// A transfer that failed before a complete response arrived.
public struct CurlError: Error, Sendable, CustomStringConvertible {
    /// A coarse classification, for retry decisions and metrics.
    public enum Kind: Sendable, Equatable {
        /// ``HTTPRequest/timeout`` or ``HTTPRequest/connectTimeout`` expired.
        case timeout
        /// The connection could not be made or broke: refused, DNS failure, reset, empty or
        /// truncated reply.
        case connection
        /// TLS failed: handshake error, server certificate not trusted or not matching the
        /// name, no common protocol version or cipher, or an unusable CA file, client
        /// certificate or key (libcurl codes 35, 51, 53, 58, 59, 60, 64, 66, 77, 80, 83, 90,
        /// 91). A server that rejects a missing client certificate only after the handshake
        /// (TLS 1.3) shows up as ``connection`` instead.
        case tls
        /// The body exceeded ``HTTPRequest/maxResponseBytes``.
        case responseTooLarge
        /// Anything else (malformed URL, unsupported scheme, invalid header, ...).
        case other
    }

    /// The classification.
    public var kind: Kind
    /// The libcurl `CURLcode` (for example 7 for "couldn't connect", 28 for a timeout).
    public var code: Int32
    /// libcurl's detailed message (`CURLOPT_ERRORBUFFER`), or `curl_easy_strerror` of the code.
    public var message: String

    /// Creates an error.
    public init(kind: Kind, code: Int32, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// `"curl error <code> (<kind>): <message>"`.
    public var description: String { "curl error \(code) (\(kind)): \(message)" }
}
