import AgentConfig
import Curl
import Foundation

/// Applies a Prometheus `http_config` (TLS, proxy, HTTP/2, redirects, basic auth,
/// authorization, `http_headers`) to requests, reading credential files through
/// ``SecretReader``s so rotated secrets are picked up. One instance per scrape job, remote
/// endpoint or discovery client.
public struct HTTPClient: Sendable {
    public let config: HTTPClientConfig
    private let username: SecretReader?
    private let password: SecretReader?
    private let credentials: SecretReader?
    private let headers: [ConfiguredHeader]
    private let proxy: ProxySelector

    /// `environment` is read here, once, for `proxy_from_environment` (as Prometheus reads it
    /// once per client).
    public init(config: HTTPClientConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.config = config
        username = config.basicAuth?.usernameFile.map { SecretReader(.file($0)) }
        password = config.basicAuth?.password.map(SecretReader.init)
        credentials = config.authorization?.credentials.map(SecretReader.init)
        headers = config.httpHeaders.map(ConfiguredHeader.init)
        if config.proxyFromEnvironment {
            proxy = ProxySelector(environment: environment)
        } else if let proxyURL = config.proxyURL {
            proxy = ProxySelector(proxyURL: proxyURL, noProxy: config.noProxy)
        } else {
            proxy = .direct
        }
    }

    /// Whether a 401 may be cured by re-reading a credential file (a password, user name,
    /// credentials or `http_headers` file).
    public var hasCredentialFile: Bool {
        [username, password, credentials].contains { $0?.isFile == true } || headers.contains { !$0.files.isEmpty }
    }

    /// Sets `request`'s transport and credentials; `refreshCredentials` re-reads credential files.
    ///
    /// - Throws: ``SecretError`` when a credential or header file cannot be read,
    ///   ``ProxySelectionError`` when Go would refuse the environment's proxy.
    public func apply(to request: inout HTTPRequest, refreshCredentials: Bool = false) throws {
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
