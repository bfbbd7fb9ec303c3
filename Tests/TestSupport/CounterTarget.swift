import Foundation

/// A scrape target exposing one counter whose value is the number of scrapes served so far
/// (1, 2, 3, …), so a receiver that got every scrape holds exactly the values 1…N. It records
/// when each value was served, so a test can tell which values a crash or a shutdown may have
/// cost.
public final class CounterTarget: Sendable {
    public let server: TestHTTPServer
    /// `servedAt[v - 1]`: when value `v` was served (Unix seconds).
    private let servedAt: Locked<[Double]>

    /// Serves `GET /metrics` (anything else: 404) with the counter `metric`.
    public init(metric: String = "e2e_counter_total") async throws {
        let servedAt = Locked<[Double]>([])
        self.servedAt = servedAt
        server = try await TestHTTPServer { request in
            guard request.uri.hasPrefix("/metrics") else { return CannedResponse(status: 404) }
            let value = servedAt.withLock { times in
                times.append(Date().timeIntervalSince1970)
                return times.count
            }
            let body = """
                # HELP \(metric) Scrapes served by the test target.
                # TYPE \(metric) counter
                \(metric) \(value)

                """
            return CannedResponse(headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(body.utf8))
        }
    }

    /// The number of scrapes served so far, which is also the last value served.
    public var scrapesServed: Int { servedAt.withLock { $0.count } }
    /// When each value was served (Unix seconds), value 1 first.
    public var servedTimes: [Double] { servedAt.value }
}
