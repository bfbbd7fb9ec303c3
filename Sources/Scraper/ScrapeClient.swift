import AgentConfig
import Transport
import Curl
import Model

/// How one scrape config's targets are requested: headers, compression, limits, TLS, proxy and
/// credentials. Shared by the job's scrape loops, so a credential file is read once per job.
struct ScrapeClient: Sendable {
    static let userAgent = "metrics-agent/\(AgentVersion.current)"

    let config: ScrapeConfig
    /// Built once per job from its `scrape_protocols`.
    let accept: AcceptHeader
    private let http: HTTPClient

    /// - Parameters:
    ///   - transport: Carries OAuth2 token requests.
    ///   - clock: Decides when an OAuth2 token has expired.
    init(config: ScrapeConfig, transport: HTTPTransport, clock: any AgentClock) {
        self.config = config
        accept = AcceptHeader(protocols: config.scrapeProtocols, escaping: config.nameSchemes.escaping)
        http = HTTPClient(config: config.httpClient, transport: transport, clock: clock)
    }

    /// Whether a 401 may be cured by refreshing credentials (a file or an OAuth2 token).
    var canRefreshCredentials: Bool { http.canRefreshCredentials }

    /// The request for one scrape of `target`; `refreshCredentials` re-reads credential files
    /// and replaces an OAuth2 token.
    func request(for target: Target, refreshCredentials: Bool = false) async throws -> HTTPRequest {
        var request = HTTPRequest(
            method: .get,
            url: target.url,
            headers: [
                ("Accept", accept.value),
                ("User-Agent", Self.userAgent),
                ("X-Prometheus-Scrape-Timeout-Seconds", Self.seconds(target.timeout)),
            ],
            timeout: target.timeout
        )
        if config.enableCompression {
            request.acceptEncoding = "gzip"
        } else {
            request.headers.append(("Accept-Encoding", "identity"))
        }
        if config.limits.bodySizeLimit > 0 { request.maxResponseBytes = config.limits.bodySizeLimit }
        try await http.apply(to: &request, refreshCredentials: refreshCredentials)
        return request
    }

    /// Seconds as Prometheus prints them in the timeout header (`10`, `2.5`).
    static func seconds(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        return ms % 1000 == 0 ? "\(ms / 1000)" : "\(Double(ms) / 1000)"
    }
}
