import AgentConfig
import Curl
import Foundation
import Logging
import Model
import Transport

/// HTTP discovery, as Prometheus's `discovery/http`: every `refresh_interval` (and once at
/// start) a GET of the URL, whose answer must be `200` with `Content-Type: application/json`
/// (optionally `; charset=utf-8`) and a body that is a JSON list of `{targets, labels}`.
///
/// Group `i` of the list has source `"<url>:<i>"` and the label `__meta_url` (the URL). Only
/// groups that changed are reported; when the list gets shorter, the sources past its end are
/// reported empty, so their targets go away. A refresh that fails (transport error, another
/// status, another content type, invalid JSON, a `null` group, an invalid label name) changes
/// nothing: the last good groups stay, the failure is counted and logged.
struct HTTPDiscoverer: Discoverer {
    /// The label naming the URL a group came from.
    static let urlLabel = "__meta_url"
    static let userAgent = "metrics-agent/\(AgentVersion.current)"

    let config: HTTPSDConfig
    let transport: HTTPTransport
    let client: HTTPClient
    let clock: any AgentClock
    let logger: Logger
    let onFailure: @Sendable () -> Void

    init(
        config: HTTPSDConfig, transport: HTTPTransport, clock: any AgentClock, logger: Logger,
        onFailure: @escaping @Sendable () -> Void
    ) {
        self.config = config
        self.transport = transport
        client = HTTPClient(config: config.httpClient, transport: transport, clock: clock)
        self.clock = clock
        self.logger = logger
        self.onFailure = onFailure
    }

    /// A refresh that gave nothing usable.
    struct RefreshError: Error, CustomStringConvertible {
        var description: String
    }

    /// Refreshes at once and then on a fixed grid of `refresh_interval` from the start (a
    /// refresh slower than the interval skips the ticks it missed, as Go's ticker does).
    func run(send: @escaping @Sendable ([TargetGroup]) async -> Void) async {
        var changes = TargetGroupChanges()
        var tick = clock.now
        repeat {
            do {
                let changed = changes.update(to: try await refresh())
                if !changed.isEmpty { await send(changed) }
            } catch {
                if Task.isCancelled { return }
                onFailure()
                logger.error(
                    "cannot refresh HTTP SD target groups; keeping the last good ones",
                    metadata: ["url": "\(config.url)", "error": "\(error)"])
            }
            let now = clock.now
            repeat { tick = tick.advanced(by: config.refreshInterval) } while tick <= now
        } while await clock.sleepUnlessCancelled(until: tick)
    }

    /// One GET of the URL: its groups, or an error.
    func refresh() async throws -> [TargetGroup] {
        var response = try await transport.perform(try await request(refreshCredentials: false))
        if response.status == 401, client.canRefreshCredentials {
            response = try await transport.perform(try await request(refreshCredentials: true))
        }
        guard response.status == 200 else { throw RefreshError(description: "server returned HTTP status \(response.status)") }
        let contentType = response.header("Content-Type") ?? ""
        guard Self.isJSON(contentType: contentType) else {
            throw RefreshError(description: "unsupported content type \"\(contentType)\"")
        }
        let parsed: [(targets: [String], labels: Labels)]
        do {
            parsed = try TargetGroupJSON.parse(Data(response.body))
        } catch {
            throw RefreshError(description: error.message)
        }
        return parsed.enumerated().map { index, group in
            TargetGroup(
                source: "\(config.url):\(index)", addresses: group.targets, labels: group.labels.setting(Self.urlLabel, to: config.url))
        }
    }

    private func request(refreshCredentials: Bool) async throws -> HTTPRequest {
        var request = HTTPRequest(
            url: config.url,
            headers: [
                ("User-Agent", Self.userAgent), ("Accept", "application/json"),
                ("X-Prometheus-Refresh-Interval-Seconds", Self.seconds(config.refreshInterval)),
            ],
            // Prometheus: the client's timeout is the refresh interval.
            timeout: config.refreshInterval)
        request.acceptEncoding = "gzip"
        try await client.apply(to: &request, refreshCredentials: refreshCredentials)
        return request
    }

    /// Prometheus's test of the Content-Type header, `^(?i:application/json(;\s*charset=("utf-8"|utf-8))?)$`
    /// on the trimmed value.
    static func isJSON(contentType: String) -> Bool {
        let whitespace: Set<Character> = [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"]
        var rest = Substring(contentType.lowercased())
        while let first = rest.first, whitespace.contains(first) { rest = rest.dropFirst() }
        while let last = rest.last, whitespace.contains(last) { rest = rest.dropLast() }
        guard rest.hasPrefix("application/json") else { return false }
        rest = rest.dropFirst("application/json".count)
        if rest.isEmpty { return true }
        guard rest.first == ";" else { return false }
        rest = rest.dropFirst()
        // Go's \s: space, \t, \n, \f, \r (not \v).
        while let first = rest.first, first != "\u{0B}", whitespace.contains(first) { rest = rest.dropFirst() }
        return rest == "charset=utf-8" || rest == "charset=\"utf-8\""
    }

    /// Seconds as Go's `strconv.FormatFloat(s, 'f', -1, 64)` writes them: `60`, `0.5`, `90.25`.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds)" }
        return "\(Double(seconds) + Double(attoseconds) / 1e18)"
    }
}
