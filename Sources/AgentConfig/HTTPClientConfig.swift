/// How to reach a target or endpoint over HTTP: Prometheus's `http_config` fields.
public struct HTTPClientConfig: Sendable, Equatable {
    public var tls = TLSConfig()
    public var basicAuth: BasicAuth?
    public var authorization: Authorization?
    public var oauth2: OAuth2Config?
    public var proxyURL: String?
    /// Prometheus's default: true.
    public var followRedirects = true

    public init() {}
}

/// `tls_config`.
public struct TLSConfig: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var insecureSkipVerify = false
    /// `TLS10`, `TLS11`, `TLS12` or `TLS13`.
    public var minVersion: String?

    public init() {}
}

/// A secret given inline or read from a file (re-read as it may be rotated).
public enum Secret: Sendable, Equatable {
    case inline(String)
    case file(String)
}

/// `basic_auth`.
public struct BasicAuth: Sendable, Equatable {
    public var username: String
    public var password: Secret?

    public init(username: String, password: Secret?) {
        self.username = username
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
