import CCurl

/// An ``HTTPRequest`` validated and turned into what libcurl's options need.
///
/// Built on the caller's thread, so that malformed requests (bad headers, a bad server name, a
/// key without a certificate) fail before anything is queued, and the I/O thread only copies
/// options into an easy handle.
struct PreparedRequest: Sendable {
    /// How the response body is handled.
    enum Mode: Sendable {
        /// Collect the whole body, abort past `maxBodyBytes`, give up after `timeout`.
        case collect(maxBodyBytes: Int?, timeout: Duration)
        /// Hand the body over as it arrives; no total timeout; `idleTimeout` via the low-speed limit.
        case stream(idleTimeout: Duration?)
    }

    var mode: Mode
    var method: HTTPMethod
    /// The URL given to libcurl (the server name's, when ``TLSOptions/serverName`` rewrote it).
    var url: String
    /// A `CURLOPT_CONNECT_TO` entry, for ``TLSOptions/serverName``.
    var connectTo: String?
    /// `CURLOPT_HTTPHEADER` lines, validated.
    var headerLines: [String]
    /// `CURLOPT_PROXYHEADER` lines, validated; empty unless the URL is `https://`.
    var proxyHeaderLines: [String]
    var allowsHTTP2: Bool
    var body: [UInt8]
    var connectTimeout: Duration?
    var acceptEncoding: String?
    var followRedirects: Bool
    var tls: TLSOptions
    var proxyURL: String?
    var basicAuth: BasicAuth?

    init(_ request: HTTPRequest, mode: Mode) throws(CurlError) {
        let target = try Target(request)
        if let auth = request.basicAuth, auth.username.utf8.contains(0) || auth.password.utf8.contains(0) {
            throw CurlError(kind: .other, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                            message: "basic auth credentials must not contain NUL")
        }
        try Self.validate(request.tls)
        self.mode = mode
        method = request.method
        url = target.url
        connectTo = target.connectTo
        headerLines = try Self.headerLines(for: request, host: target.hostHeader)
        proxyHeaderLines = request.url.prefix(8).lowercased() == "https://"
            ? try request.proxyConnectHeaders.map { name, value throws(CurlError) in try Self.headerLine(name, value) }
            : []
        allowsHTTP2 = request.allowsHTTP2
        body = request.method == .post ? request.body : []
        connectTimeout = request.connectTimeout
        acceptEncoding = request.acceptEncoding
        followRedirects = request.followRedirects
        tls = request.tls
        proxyURL = request.proxyURL
        basicAuth = request.basicAuth
    }

    /// One validated `Name: value` line for a libcurl header list.
    private static func headerLine(_ name: String, _ value: String) throws(CurlError) -> String {
        let valid = !name.isEmpty
            && !name.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == 13 || $0 == 10 || $0 == 0 })
            && !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 })
        guard valid else {
            throw CurlError(kind: .other, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                            message: "invalid request header \(String(reflecting: name))")
        }
        // "Name:" would make libcurl remove the header; "Name;" sends it empty.
        return value.isEmpty ? "\(name);" : "\(name): \(value)"
    }

    /// Rejects TLS options libcurl would misread: a key without a certificate, a file and PEM
    /// text for the same thing, a maximum version below the minimum.
    private static func validate(_ tls: TLSOptions) throws(CurlError) {
        func given(_ value: String?) -> Bool { !(value?.isEmpty ?? true) }
        func fail(_ message: String) -> CurlError {
            CurlError(kind: .tls, code: Int32(CURLE_SSL_CERTPROBLEM.rawValue), message: message)
        }
        if given(tls.keyFile) || given(tls.keyPEM), !given(tls.certFile), !given(tls.certPEM) {
            throw fail(given(tls.keyFile) ? "client key file \(tls.keyFile!) given without a client certificate" : "client key given without a client certificate")
        }
        for (what, file, pem) in [("CA", tls.caFile, tls.caPEM), ("client certificate", tls.certFile, tls.certPEM), ("client key", tls.keyFile, tls.keyPEM)]
        where given(file) && given(pem) {
            throw fail("the \(what) is given both as a file and as PEM text")
        }
        if let min = tls.minVersion, let max = tls.maxVersion, max < min {
            throw CurlError(kind: .tls, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                            message: "TLS max version \(max.rawValue) is below min version \(min.rawValue)")
        }
    }

    /// The body limit in ``Mode/collect(maxBodyBytes:timeout:)`` mode.
    var maxBodyBytes: Int? {
        if case .collect(let limit, _) = mode { return limit }
        return nil
    }

    /// Header lines for `CURLOPT_HTTPHEADER`, validated.
    ///
    /// - Parameter host: A `Host` header to add unless the request has one.
    private static func headerLines(for request: HTTPRequest, host: String?) throws(CurlError) -> [String] {
        var lines: [String] = []
        lines.reserveCapacity(request.headers.count + 3)
        var hasExpect = false, hasContentType = false, hasHost = false
        for (name, value) in request.headers {
            let lowered = name.lowercased()
            hasExpect = hasExpect || lowered == "expect"
            hasContentType = hasContentType || lowered == "content-type"
            hasHost = hasHost || lowered == "host"
            lines.append(try headerLine(name, value))
        }
        if let host, !hasHost {
            lines.append("Host: \(host)")
        }
        if request.method == .post {
            // Suppress libcurl's `Expect: 100-continue` (a round trip per request) and its
            // default `application/x-www-form-urlencoded` content type.
            if !hasExpect { lines.append("Expect:") }
            if !hasContentType { lines.append("Content-Type:") }
        }
        return lines
    }
}

/// Where a request really goes: the URL given to libcurl, and for ``TLSOptions/serverName``
/// the `CURLOPT_CONNECT_TO` entry and `Host` header that keep the connection and the `Host`
/// header on the original host.
private struct Target {
    var url: String
    var connectTo: String?
    var hostHeader: String?

    /// libcurl (with OpenSSL) has no option to set SNI and the verified name apart from the
    /// URL host. So for `https://host:port/...` with server name `name`, the URL becomes
    /// `https://name:port/...` (SNI and verification use `name`), `CURLOPT_CONNECT_TO`
    /// `name:port:host:port` makes libcurl connect to the original address, and an explicit
    /// `Host: host[:port]` keeps the header the URL would have produced (port included when the
    /// URL has one, as Go does).
    init(_ request: HTTPRequest) throws(CurlError) {
        url = request.url
        guard let serverName = request.tls.serverName, !serverName.isEmpty else { return }
        let allowed = serverName.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default:
                false
            }
        }
        guard allowed else {
            throw CurlError(kind: .other, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                            message: "invalid TLS server name \(String(reflecting: serverName))")
        }
        guard let handle = curl_url() else {
            throw CurlError(kind: .other, code: Int32(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory")
        }
        defer { curl_url_cleanup(handle) }

        func fail(_ code: CURLUcode) -> CurlError {
            CurlError(kind: .other, code: Int32(CURLE_URL_MALFORMAT.rawValue),
                      message: "invalid URL \(String(reflecting: request.url)): \(String(cString: curl_url_strerror(code)))")
        }
        func get(_ part: CURLUPart, flags: UInt32 = 0) throws(CurlError) -> String? {
            var value: UnsafeMutablePointer<CChar>? = nil
            let code = curl_url_get(handle, part, &value, flags)
            defer { curl_free(value) }
            switch code {
            case CURLUE_OK: return value.map { String(cString: $0) }
            case CURLUE_NO_PORT, CURLUE_NO_SCHEME: return nil
            default: throw fail(code)
            }
        }

        let setCode = curl_url_set(handle, CURLUPART_URL, request.url, 0)
        guard setCode == CURLUE_OK else { throw fail(setCode) }
        // The server name only matters for TLS; plain http URLs are left alone.
        guard try get(CURLUPART_SCHEME)?.lowercased() == "https",
              let host = try get(CURLUPART_HOST),
              let port = try get(CURLUPART_PORT, flags: ccurl_url_default_port())
        else { return }
        guard host.lowercased() != serverName.lowercased() else { return }
        let explicitPort = try get(CURLUPART_PORT)

        let hostCode = curl_url_set(handle, CURLUPART_HOST, serverName, 0)
        guard hostCode == CURLUE_OK else { throw fail(hostCode) }
        guard let rewritten = try get(CURLUPART_URL) else { throw fail(CURLUE_MALFORMED_INPUT) }
        url = rewritten
        connectTo = "\(serverName):\(port):\(host):\(port)"
        hostHeader = explicitPort.map { "\(host):\($0)" } ?? host
    }
}
