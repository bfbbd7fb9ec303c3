/// How to reach a target or endpoint over HTTP: Prometheus's `http_config` fields.
public struct HTTPClientConfig: Sendable, Equatable {
    public var tls = TLSConfig()
    public var basicAuth: BasicAuth?
    public var authorization: Authorization?
    public var oauth2: OAuth2Config?
    public var proxyURL: String?
    /// Prometheus's default: true.
    public var followRedirects = true
    /// Whether HTTP/2 may be negotiated (over TLS, by ALPN); false keeps every request on
    /// HTTP/1.1. Prometheus's default: true.
    public var enableHTTP2 = true
    /// `no_proxy`: hosts reached directly although ``proxyURL`` is set (only with it).
    public var noProxy: String?
    /// `proxy_from_environment`: the proxy comes from `HTTP_PROXY`, `HTTPS_PROXY` and
    /// `NO_PROXY` (or their lowercase forms) as Go's `httpproxy` reads them. Excludes
    /// ``proxyURL`` and ``noProxy``.
    public var proxyFromEnvironment = false
    /// `proxy_connect_header`: headers sent to the proxy with `CONNECT`. Values are secrets.
    public var proxyConnectHeaders: [ProxyConnectHeader] = []
    /// `http_headers`: headers added to every request, in configuration order.
    public var httpHeaders: [HTTPHeaderConfig] = []

    public init() {}
}

/// `tls_config`.
public struct TLSConfig: Sendable, Equatable, CustomStringConvertible {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// `ca`: the CA certificates as PEM text (excludes ``caFile``).
    public var ca: String?
    /// `cert`: the client certificate as PEM text (excludes ``certFile``).
    public var cert: String?
    /// `key`: the client key as PEM text (excludes ``keyFile``). A secret: never printed.
    public var key: String?
    public var serverName: String?
    public var insecureSkipVerify = false
    /// `TLS10`, `TLS11`, `TLS12` or `TLS13`.
    public var minVersion: String?
    /// `TLS10`, `TLS11`, `TLS12` or `TLS13`; not below ``minVersion``.
    public var maxVersion: String?

    public init() {}

    /// The fields, with an inline ``key`` shown as `<secret>`.
    public var description: String {
        let fields: [(String, String?)] = [
            ("ca_file", caFile), ("cert_file", certFile), ("key_file", keyFile), ("ca", ca), ("cert", cert),
            ("key", key.map { _ in "<secret>" }), ("server_name", serverName), ("min_version", minVersion),
            ("max_version", maxVersion),
        ]
        let set = fields.compactMap { name, value in value.map { "\(name): \($0)" } }
        return "TLSConfig(\((set + ["insecure_skip_verify: \(insecureSkipVerify)"]).joined(separator: ", ")))"
    }
}

/// A secret given inline or read from a file (re-read as it may be rotated). Printed as
/// `<secret>` or as the file's path, never as the inline value.
public enum Secret: Sendable, Equatable, CustomStringConvertible {
    case inline(String)
    case file(String)

    public var description: String {
        switch self {
        case .inline: "<secret>"
        case .file(let path): "file \(path)"
        }
    }
}

/// `basic_auth`.
public struct BasicAuth: Sendable, Equatable {
    public var username: String
    /// `username_file`: the user name is read from this file (and re-read like the password
    /// file) instead of ``username``.
    public var usernameFile: String?
    public var password: Secret?

    public init(username: String, usernameFile: String? = nil, password: Secret?) {
        self.username = username
        self.usernameFile = usernameFile
        self.password = password
    }
}

/// `authorization` (and the older `bearer_token` / `bearer_token_file`): an
/// `Authorization: <type> <credentials>` header.
public struct Authorization: Sendable, Equatable {
    /// Prometheus's default: Bearer.
    public var type: String
    public var credentials: Secret?

    public init(type: String = "Bearer", credentials: Secret?) {
        self.type = type
        self.credentials = credentials
    }
}

/// One `http_headers` entry: the header `name` is sent once per value, in the order
/// `values`, `secrets`, then the trimmed contents of `files` (read for each request, re-read
/// when they change). Printed without the secrets.
public struct HTTPHeaderConfig: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var values: [String]
    public var secrets: [String]
    public var files: [String]

    public init(name: String, values: [String] = [], secrets: [String] = [], files: [String] = []) {
        self.name = name
        self.values = values
        self.secrets = secrets
        self.files = files
    }

    public var description: String {
        "\(name): values \(values), \(secrets.count) secret(s), files \(files)"
    }
}

/// One `proxy_connect_header` entry: sent to the proxy once per value with `CONNECT`.
/// Values are secrets: printed as a count.
public struct ProxyConnectHeader: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var values: [String]

    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }

    public var description: String { "\(name): \(values.count) secret value(s)" }
}
