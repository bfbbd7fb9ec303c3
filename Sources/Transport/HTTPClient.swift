import AgentConfig
import Curl
import Model

/// Applies a Prometheus `http_config` (TLS, proxy, redirects, basic auth, authorization,
/// OAuth2) to requests, reading credential files through ``SecretReader``s so rotated secrets
/// are picked up, and OAuth2 tokens through an ``OAuth2TokenSource``. One instance per scrape
/// job, remote endpoint or SD config: the instance's copies share one token.
public struct HTTPClient: Sendable {
    public let config: HTTPClientConfig
    private let password: SecretReader?
    private let credentials: SecretReader?
    private let oauth2: OAuth2TokenSource?

    /// - Parameters:
    ///   - transport: Carries the OAuth2 token requests (the requests themselves are the
    ///     caller's to send).
    ///   - clock: Decides when an OAuth2 token has expired.
    public init(config: HTTPClientConfig, transport: HTTPTransport, clock: any AgentClock = SystemClock()) {
        self.config = config
        password = config.basicAuth?.password.map(SecretReader.init)
        credentials = config.authorization?.credentials.map(SecretReader.init)
        oauth2 = config.oauth2.map { OAuth2TokenSource(config: $0, transport: transport, clock: clock) }
    }

    /// Whether a 401 may be cured by refreshing the credentials: re-reading a credential file
    /// or fetching a new OAuth2 token.
    public var canRefreshCredentials: Bool { password?.isFile == true || credentials?.isFile == true || oauth2 != nil }

    /// Sets `request`'s transport and credentials. `refreshCredentials` (after a 401) re-reads
    /// credential files and replaces the OAuth2 token. May wait for an OAuth2 token request.
    public func apply(to request: inout HTTPRequest, refreshCredentials: Bool = false) async throws {
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
        if let oauth2 {
            let value = try await oauth2.authorization(refresh: refreshCredentials, timeout: request.timeout)
            request.headers.append(("Authorization", value))
        }
    }
}
