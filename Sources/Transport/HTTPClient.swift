import AgentConfig
import Curl

/// Applies a Prometheus `http_config` (TLS, proxy, redirects, basic auth, authorization) to
/// requests, reading credential files through ``SecretReader``s so rotated secrets are picked up.
/// One instance per scrape job or remote endpoint.
public struct HTTPClient: Sendable {
    public let config: HTTPClientConfig
    private let password: SecretReader?
    private let credentials: SecretReader?

    public init(config: HTTPClientConfig) {
        self.config = config
        password = config.basicAuth?.password.map(SecretReader.init)
        credentials = config.authorization?.credentials.map(SecretReader.init)
    }

    /// Whether a 401 may be cured by re-reading a credential file.
    public var hasCredentialFile: Bool { password?.isFile == true || credentials?.isFile == true }

    /// Sets `request`'s transport and credentials; `refreshCredentials` re-reads credential files.
    public func apply(to request: inout HTTPRequest, refreshCredentials: Bool = false) throws {
        request.followRedirects = config.followRedirects
        request.proxyURL = config.proxyURL
        request.tls = TLSOptions(
            caFile: config.tls.caFile, certFile: config.tls.certFile, keyFile: config.tls.keyFile,
            serverName: config.tls.serverName, insecureSkipVerify: config.tls.insecureSkipVerify,
            // Prometheus's default minimum is TLS 1.2.
            minVersion: config.tls.minVersion.flatMap(TLSVersion.init(rawValue:)) ?? .tls12)
        if let basic = config.basicAuth {
            request.basicAuth = CurlBasicAuth(username: basic.username, password: try password?.value(refresh: refreshCredentials) ?? "")
        }
        if let authorization = config.authorization {
            let value = try credentials?.value(refresh: refreshCredentials) ?? ""
            request.headers.append(("Authorization", "\(authorization.type) \(value)"))
        }
    }
}
