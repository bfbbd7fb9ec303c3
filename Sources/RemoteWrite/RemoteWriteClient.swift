import AgentConfig
import Transport
import Curl
import Foundation
import Model

/// Sends one compressed Remote Write body to an endpoint and says what the answer means: the
/// protocol's headers, the endpoint's own headers and credentials (credential files re-read and
/// OAuth2 tokens replaced before a retry after a 401; AWS SigV4 signing), one POST over the shared ``HTTPTransport``, and ``RetryRules`` on the
/// answer. Holds no connection of its own: the transport keeps the endpoint's connections alive.
struct RemoteWriteClient: Sendable {
    static let userAgent = "metrics-agent/\(AgentVersion.current)"

    let config: RemoteWriteConfig
    let transport: HTTPTransport
    let clock: any AgentClock
    private let http: HTTPClient
    /// Signs each request when the endpoint uses `sigv4`.
    private let signer: SigV4RequestSigner?
    let retryRules: RetryRules

    init(config: RemoteWriteConfig, transport: HTTPTransport, clock: any AgentClock) {
        self.config = config
        self.transport = transport
        self.clock = clock
        http = HTTPClient(config: config.httpClient, transport: transport, clock: clock)
        signer = config.sigv4.map { SigV4RequestSigner(config: $0, transport: transport, clock: clock) }
        retryRules = RetryRules(
            retryOn429: config.queueConfig.retryOnHTTP429, extraStatuses: Set(config.queueConfig.retryOnHTTPStatus),
            retryUnauthorized: http.canRefreshCredentials)
    }

    /// What one POST came to, and how long it took (for the send-time measurements).
    struct Answer: Sendable {
        var outcome: SendOutcome
        var elapsed: Duration
    }

    /// POSTs `body`. Transport failures are `.retry`; a cancelled task gets `.retry` too (the
    /// caller sees the cancellation and stops). `attempt` > 0 adds `Retry-Attempt` and re-reads
    /// credential files.
    func post(_ body: [UInt8], version: RemoteWriteConfig.ProtobufMessage, attempt: Int) async -> Answer {
        var request = HTTPRequest(
            method: .post,
            url: config.url,
            headers: [
                ("Content-Encoding", "snappy"),
                ("Content-Type", version == .v2 ? "application/x-protobuf;proto=io.prometheus.write.v2.Request" : "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", version == .v2 ? "2.0.0" : "0.1.0"),
                ("User-Agent", Self.userAgent),
            ],
            body: body,
            timeout: config.remoteTimeout
        )
        request.headers += config.headers
        if attempt > 0 { request.headers.append(("Retry-Attempt", "\(attempt)")) }
        let started = clock.now
        do {
            try await http.apply(to: &request, refreshCredentials: attempt > 0 && http.canRefreshCredentials)
            try await signer?.sign(&request)
            let response = try await transport.perform(request)
            let now = Date(timeIntervalSince1970: Double(clock.wallMilliseconds) / 1000)
            return Answer(outcome: retryRules.classify(response, now: now), elapsed: clock.now - started)
        } catch {
            return Answer(outcome: .retry(reason: "\(error)", after: nil), elapsed: clock.now - started)
        }
    }
}
