/// An `http_sd_configs` entry (Prometheus's `discovery/http`): target groups fetched as JSON
/// from `url` every `refreshInterval`.
public struct HTTPSDConfig: Sendable, Equatable {
    /// An absolute `http://` or `https://` URL with a host (checked at load time).
    public var url: String
    /// Prometheus's default: 60s. Also the timeout of each request.
    public var refreshInterval: Duration = .seconds(60)
    /// How to reach `url` (TLS, authorization, proxy, redirects).
    public var httpClient = HTTPClientConfig()

    public init(url: String) {
        self.url = url
    }
}
