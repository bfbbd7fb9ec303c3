import AgentConfig
import Curl
import Foundation
import Model

/// Applies a Prometheus `http_config` (TLS, proxy, HTTP/2, redirects, basic auth,
/// authorization, OAuth2, `http_headers`) to requests, reading credential files through
/// ``SecretReader``s so rotated secrets are picked up, and OAuth2 tokens through an
/// ``OAuth2TokenSource``. One instance per scrape job, remote endpoint or SD config: the
/// instance's copies share one token.
public struct HTTPClient: Sendable {
    public let config: HTTPClientConfig
    private let username: SecretReader?
    private let password: SecretReader?
    private let credentials: SecretReader?
    private let oauth2: OAuth2TokenSource?
    private let headers: [ConfiguredHeader]
    private let proxy: ProxySelector

    /// - Parameters:
    ///   - transport: Carries the OAuth2 token requests (the requests themselves are the
    ///     caller's to send).
    ///   - clock: Decides when an OAuth2 token has expired.
    ///   - environment: Read here, once, for `proxy_from_environment` (as Prometheus reads it
    ///     once per client).
    public init(
        config: HTTPClientConfig, transport: HTTPTransport, clock: any AgentClock = SystemClock(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.config = config
        username = config.basicAuth?.usernameFile.map { SecretReader(.file($0)) }
        password = config.basicAuth?.password.map(SecretReader.init)
        credentials = config.authorization?.credentials.map(SecretReader.init)
        oauth2 = config.oauth2.map { OAuth2TokenSource(config: $0, transport: transport, clock: clock) }
        headers = config.httpHeaders.map(ConfiguredHeader.init)
        if config.proxyFromEnvironment {
            proxy = ProxySelector(environment: environment)
        } else if let proxyURL = config.proxyURL {
            proxy = ProxySelector(proxyURL: proxyURL, noProxy: config.noProxy)
        } else {
            proxy = .direct
        }
    }

    /// Whether a 401 may be cured by refreshing the credentials: re-reading a credential file (a
    /// password, user name, credentials or `http_headers` file) or fetching a new OAuth2 token.
    public var canRefreshCredentials: Bool {
        [username, password, credentials].contains { $0?.isFile == true } || headers.contains { !$0.files.isEmpty } || oauth2 != nil
    }

    /// Sets `request`'s transport and credentials. `refreshCredentials` (after a 401) re-reads
    /// credential files and replaces the OAuth2 token. May wait for an OAuth2 token request.
    ///
    /// - Throws: ``SecretError`` when a credential or header file cannot be read,
    ///   ``ProxySelectionError`` when Go would refuse the environment's proxy.
    public func apply(to request: inout HTTPRequest, refreshCredentials: Bool = false) async throws {
        request.followRedirects = config.followRedirects
        request.allowsHTTP2 = config.enableHTTP2
        request.proxyURL = try proxy.proxy(for: request.url).map(Self.curlProxyURL)
        if request.proxyURL != nil {
            request.proxyConnectHeaders = config.proxyConnectHeaders.flatMap { header in
                header.values.map { (name: header.name, value: $0) }
            }
        }
        request.tls = TLSOptions(
            caFile: config.tls.caFile, certFile: config.tls.certFile, keyFile: config.tls.keyFile,
            serverName: config.tls.serverName, insecureSkipVerify: config.tls.insecureSkipVerify,
            // Prometheus's default minimum is TLS 1.2 (Go's client default).
            minVersion: config.tls.minVersion.flatMap(TLSVersion.init(rawValue:)) ?? .tls12,
            maxVersion: config.tls.maxVersion.flatMap(TLSVersion.init(rawValue:)),
            caPEM: config.tls.ca, certPEM: config.tls.cert, keyPEM: config.tls.key)
        if let basic = config.basicAuth {
            let name = try username?.value(refresh: refreshCredentials) ?? basic.username
            request.basicAuth = CurlBasicAuth(username: name, password: try password?.value(refresh: refreshCredentials) ?? "")
        }
        if let authorization = config.authorization {
            let value = try credentials?.value(refresh: refreshCredentials) ?? ""
            request.headers.append(("Authorization", "\(authorization.type) \(value)"))
        }
        if let oauth2 {
            let value = try await oauth2.authorization(refresh: refreshCredentials, timeout: request.timeout)
            request.headers.append(("Authorization", value))
        }
        for header in headers {
            try header.append(to: &request.headers, refresh: refreshCredentials)
        }
    }

    /// Go dials a `socks5://` proxy with the target's name, leaving name resolution to the
    /// proxy: libcurl's `socks5h://`.
    static func curlProxyURL(_ url: String) -> String {
        url.lowercased().hasPrefix("socks5://") ? "socks5h://" + url.dropFirst("socks5://".count) : url
    }
}

/// One `http_headers` entry, ready to add: plain values, secrets, then file contents (trimmed,
/// re-read like other credential files), as Prometheus adds them.
private struct ConfiguredHeader: Sendable {
    let name: String
    let fixed: [String]
    let files: [SecretReader]

    init(_ config: HTTPHeaderConfig) {
        name = config.name
        fixed = config.values + config.secrets
        files = config.files.map { SecretReader(.file($0)) }
    }

    func append(to headers: inout [(name: String, value: String)], refresh: Bool) throws {
        for value in fixed { headers.append((name, value)) }
        for file in files {
            do {
                headers.append((name, try file.value(refresh: refresh)))
            } catch let error as SecretError {
                throw SecretError(description: "header \(name): \(error.description)")
            }
        }
    }
}
