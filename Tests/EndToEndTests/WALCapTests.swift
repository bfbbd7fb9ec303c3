import Foundation
import PrometheusProto
import Snappy
import Testing

/// The WAL's caps (`wal.max_size`, `wal.max_age`) with the real binary while the receiver is
/// down: the log stays bounded, what the caps remove is counted per endpoint, and once the
/// receiver is back every sample is either received or counted as dropped.
@Suite("WAL caps")
struct WALCapTests {
    /// A target with `series` gauges; at scrape `n`, series `i` is `n + i/4096` (series 0 is
    /// exactly `n`), so values differ per scrape and series and compress poorly.
    final class ManySeriesTarget: Sendable {
        let server: TestHTTPServer
        /// `servedAt[n - 1]`: when scrape `n` was served (Unix seconds).
        private let servedAt: Locked<[Double]>

        init(series: Int) async throws {
            let servedAt = Locked<[Double]>([])
            self.servedAt = servedAt
            server = try await TestHTTPServer { request in
                guard request.uri.hasPrefix("/metrics") else { return CannedResponse(status: 404) }
                let n = servedAt.withLock { times in
                    times.append(Date().timeIntervalSince1970)
                    return times.count
                }
                var body = "# TYPE wal_cap_series gauge\n"
                body.reserveCapacity(series * 40)
                for i in 0..<series {
                    body += "wal_cap_series{i=\"\(i)\"} \(Double(n) + Double(i) / 4096)\n"
                }
                return CannedResponse(headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(body.utf8))
            }
        }

        var scrapes: Int { servedAt.withLock { $0.count } }
        var servedTimes: [Double] { servedAt.value }
    }

    /// Answers 503 until `available`, then 204; counts every sample of the requests it accepted.
    final class CountingReceiver: Sendable {
        struct State {
            var available = false
            var samples = 0
            var staleMarkers = 0
            var acceptedRequests = 0
            var refusedRequests = 0
            /// Values of `wal_cap_series{i="0"}` (the scrape numbers), with their timestamps.
            var firstSeries: [(time: Double, value: Double)] = []
        }

        let server: TestHTTPServer
        private let state: Locked<State>

        init() async throws {
            let state = Locked(State())
            self.state = state
            server = try await TestHTTPServer { request in
                guard state.withLock({ $0.available }) else {
                    state.withLock { $0.refusedRequests += 1 }
                    return CannedResponse(status: 503, body: Array("receiver down (test)\n".utf8))
                }
                guard let body = try? Snappy.decompress(request.body), let decoded = try? WriteRequest(serializedBytes: body) else {
                    return CannedResponse(status: 400, body: Array("undecodable\n".utf8))
                }
                state.withLock { state in
                    state.acceptedRequests += 1
                    for series in decoded.timeseries {
                        state.samples += series.samples.count
                        state.staleMarkers += series.samples.filter { $0.value.bitPattern == 0x7ff0_0000_0000_0002 }.count
                        let labels = Dictionary(series.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
                        if labels["__name__"] == "wal_cap_series", labels["i"] == "0" {
                            state.firstSeries += series.samples.filter { $0.value.bitPattern != 0x7ff0_0000_0000_0002 }
                                .map { (time: Double($0.timestamp) / 1000, value: $0.value) }
                        }
                    }
                }
                return CannedResponse(status: 204)
            }
        }

        var url: String { "http://\(server.address)/api/v1/write" }
        var snapshot: State { state.value }
        func setAvailable(_ available: Bool) { state.withLock { $0.available = available } }
    }

    /// Samples the WAL directory's size every 100 ms until cancelled.
    final class SizeSampler: Sendable {
        struct Figures {
            var readings = 0
            var maximum = 0
            var overCap = 0
            /// The WAL's files at the largest reading.
            var atMaximum = ""
        }
        let figures = Locked(Figures())
        private let task: Locked<Task<Void, Never>?> = Locked(nil)

        init(agent: AgentHarness, cap: Int) {
            let figures = figures
            task.withLock {
                $0 = Task.detached {
                    while !Task.isCancelled {
                        let files = agent.walListing()
                        let size = files.reduce(0) { $0 + $1.size }
                        figures.withLock {
                            $0.readings += 1
                            if size > $0.maximum {
                                $0.maximum = size
                                $0.atMaximum = files.map { "\($0.name) \($0.size)" }.joined(separator: ", ")
                            }
                            if cap > 0, size > cap { $0.overCap += 1 }
                        }
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        }

        func stop() -> Figures {
            task.withLock { $0?.cancel() }
            return figures.value
        }
    }

    static let seriesCount = 2000
    static let endpoint = "hub"

    static func config(target: ManySeriesTarget?, receiver: CountingReceiver, wal: String) -> String {
        let scrape = target.map {
            """
            scrape_configs:
              - job_name: walcap
                static_configs:
                  - targets: ["\($0.server.address)"]

            """
        } ?? ""
        return """
            global:
              scrape_interval: 250ms
              scrape_timeout: 250ms
            \(scrape)wal:
            \(wal)
            remote_write:
              - url: \(receiver.url)
                name: \(endpoint)
                queue_config:
                  batch_send_deadline: 500ms
                  min_backoff: 100ms
                  max_backoff: 1s
            """
    }

    /// The counts the acceptance criterion compares, from `/metrics` and the receiver.
    struct Counts: CustomStringConvertible {
        var appended: Double
        var appendedMetric: String
        var received: Int
        var dropped: [String: Double]
        var agentDropped: [String: Double]
        var sent: Double
        var pending: Double
        var metricsText: AgentMetrics

        var description: String {
            "appended \(Int(appended)) (\(appendedMetric); scrapes \(Int(metricsText.sum("agent_scrapes_total"))), failed \(Int(metricsText.sum("agent_scrape_failures_total")))), received \(received), sent \(Int(sent)), dropped \(dropped) (agent_wal_endpoint_samples_dropped_total \(agentDropped)), pending \(pending)"
        }
    }

    static func counts(_ agent: AgentHarness, _ receiver: CountingReceiver) async throws -> Counts {
        let metrics = try await agent.metrics()
        let appendedMetric = metrics.has("agent_wal_samples_appended_total") ? "agent_wal_samples_appended_total" : "agent_scrape_samples_appended_total"
        var dropped: [String: Double] = [:]
        var agentDropped: [String: Double] = [:]
        for sample in metrics.samples where sample.labels["remote_name"] == endpoint {
            let reason = sample.labels["reason"] ?? "(none)"
            if sample.name == "prometheus_remote_storage_samples_dropped_total" { dropped[reason, default: 0] += sample.value }
            // The agent's own per-endpoint counter (named agent_wal_samples_dropped_total in the
            // issue; the scraper's agent_wal_samples_dropped_total has no remote_name).
            if sample.name == "agent_wal_endpoint_samples_dropped_total" || sample.name == "agent_wal_samples_dropped_total" {
                agentDropped[reason, default: 0] += sample.value
            }
        }
        return Counts(
            appended: metrics.sum(appendedMetric), appendedMetric: appendedMetric, received: receiver.snapshot.samples,
            dropped: dropped, agentDropped: agentDropped,
            sent: metrics.sum("prometheus_remote_storage_samples_total", ["remote_name": endpoint]),
            pending: metrics.sum("prometheus_remote_storage_samples_pending", ["remote_name": endpoint]),
            metricsText: metrics)
    }

    /// Stops scraping by a reload without the job (its staleness markers are the last samples),
    /// makes the receiver available, and waits until every appended sample is received or
    /// counted as dropped for `reason` and the numbers hold still.
    static func stopScrapingAndDrain(
        _ agent: AgentHarness, _ receiver: CountingReceiver, wal: String, reason: String, receiverAlreadyUp: Bool = false
    ) async throws -> (reload: Int, settled: Bool, counts: Counts) {
        let reload = try await agent.reload(config: config(target: nil, receiver: receiver, wal: wal))
        try await Task.sleep(for: .seconds(1))
        if !receiverAlreadyUp { receiver.setAvailable(true) }
        var previous: (Double, Int)?
        let settled = try await eventually(timeout: .seconds(60)) {
            let now = try await counts(agent, receiver)
            defer { previous = (now.appended, now.received) }
            let balanced = now.appended == Double(now.received) + (now.dropped[reason] ?? 0)
            return balanced && now.pending == 0 && previous.map { $0 == (now.appended, now.received) } == true
        }
        try await Task.sleep(for: .seconds(2))
        return (reload, settled, try await counts(agent, receiver))
    }

    @Test("receiver down: the WAL never outgrows wal.max_size, and appended = received + dropped{reason=\"wal_max_size\"} once it is back")
    func walStaysWithinMaxSizeAndAccountsForEverySample() async throws {
        let directory = try Paths.temporaryDirectory("e2e-walcap-size")
        defer { Paths.removeUnlessKept(directory) }
        let maxSize = 512 << 10
        let wal = """
              segment_size: 128KiB
              max_size: 512KiB
              compression: snappy
            """
        let target = try await ManySeriesTarget(series: Self.seriesCount)
        let receiver = try await CountingReceiver()
        let agent = try AgentHarness(directory: directory)
        agent.extraArguments = ["--web.enable-lifecycle"]  // for POST /-/reload
        try agent.start(config: Self.config(target: target, receiver: receiver, wal: wal))
        try #require(await agent.waitUntilReady(), "agent did not start:\n\(agent.log)")
        let sampler = SizeSampler(agent: agent, cap: maxSize)

        // Down long enough for the log to outgrow the cap several times over.
        let outage = ContinuousClock.now
        let droppedWhileDown = try await eventually(timeout: .seconds(40)) {
            (try await Self.counts(agent, receiver).dropped["wal_max_size"] ?? 0) > 0 && ContinuousClock.now - outage >= .seconds(20)
        }
        let scrapesWhileDown = target.scrapes
        let (reload, settled, final) = try await Self.stopScrapingAndDrain(agent, receiver, wal: wal, reason: "wal_max_size")
        let sizes = sampler.stop()
        let status = await agent.stop()
        try await target.server.stop()
        try await receiver.server.stop()
        let state = receiver.snapshot

        print("""
            WAL max_size \(maxSize) B: WAL size sampled \(sizes.readings) times, at most \(sizes.maximum) B \
            (\(String(format: "%.2f", Double(sizes.maximum) / Double(maxSize)))× the cap; files then: \(sizes.atMaximum)), \
            over the cap \(sizes.overCap) times; \
            \(scrapesWhileDown) scrapes of \(Self.seriesCount) series while the receiver was down (\(state.refusedRequests) requests refused); \
            \(final); stale markers received \(state.staleMarkers)
            """)

        #expect(status == 0, "graceful stop; log tail:\n\(agent.logTail())")
        #expect(reload == 200, "the reload that stops scraping")
        let exposesWALAppended = final.metricsText.has("agent_wal_samples_appended_total")
        #expect(
            exposesWALAppended,
            "agent_wal_samples_appended_total is not exposed; used instead:\n\(final.metricsText.lines("agent_scrape_samples_appended_total"))")
        #expect(droppedWhileDown, "samples dropped for wal_max_size within 40 s of the outage: \(final)")
        #expect(scrapesWhileDown >= 30, "the agent kept scraping while capped (\(scrapesWhileDown) scrapes)")
        #expect(sizes.readings >= 100, "the WAL size was sampled throughout (\(sizes.readings) readings)")
        #expect(sizes.maximum <= maxSize, "WAL at most \(sizes.maximum) B, cap \(maxSize) B (over it in \(sizes.overCap) of \(sizes.readings) readings)")
        #expect(settled, "appended = received + dropped did not settle within 60 s: \(final)")
        #expect(final.appended == Double(final.received) + (final.dropped["wal_max_size"] ?? 0), "\(final)")
        #expect(final.appended > 0 && final.received > 0)
        #expect((final.dropped["wal_max_size"] ?? 0) > 0, "\(final)")
        #expect(final.agentDropped["wal_max_size"] == final.dropped["wal_max_size"], "both drop counters agree: \(final)")
        #expect(final.sent == Double(final.received), "prometheus_remote_storage_samples_total counts what the receiver got: \(final)")
        // The newest samples survive the cap: the staleness markers written at the reload arrived
        // for every series of the target (and its 5 synthetic ones).
        #expect(state.staleMarkers >= Self.seriesCount, "newest samples (the reload's staleness markers) arrived: \(state.staleMarkers)")
    }

    @Test("receiver down longer than wal.max_age: older samples are dropped as wal_max_age, newer ones all arrive")
    func walDropsSamplesOlderThanMaxAgeAndSendsNewerOnes() async throws {
        let directory = try Paths.temporaryDirectory("e2e-walcap-age")
        defer { Paths.removeUnlessKept(directory) }
        let maxAge = 5.0
        let wal = """
              segment_size: 64KiB
              max_size: 0
              max_age: 5s
            """
        let target = try await ManySeriesTarget(series: 1000)
        let receiver = try await CountingReceiver()
        let agent = try AgentHarness(directory: directory)
        agent.extraArguments = ["--web.enable-lifecycle"]  // for POST /-/reload
        try agent.start(config: Self.config(target: target, receiver: receiver, wal: wal))
        try #require(await agent.waitUntilReady(), "agent did not start:\n\(agent.log)")

        try await Task.sleep(for: .seconds(15))
        let droppedWhileDown = try await Self.counts(agent, receiver).dropped["wal_max_age"] ?? 0
        let backAt = Date().timeIntervalSince1970
        receiver.setAvailable(true)
        try await Task.sleep(for: .seconds(3))
        let (reload, settled, final) = try await Self.stopScrapingAndDrain(
            agent, receiver, wal: wal, reason: "wal_max_age", receiverAlreadyUp: true)
        let status = await agent.stop()
        try await target.server.stop()
        try await receiver.server.stop()
        let state = receiver.snapshot

        // Scrape n was served at servedTimes[n - 1]; its sample is stamped at the scrape's start,
        // a little earlier. Every scrape served less than max_age before the receiver came back
        // (minus 3 s: segments are removed whole, and the cap keeps applying while the backlog
        // drains) or after it must have arrived.
        let servedTimes = target.servedTimes
        let newer = servedTimes.indices.filter { servedTimes[$0] >= backAt - maxAge + 3 }.map { $0 + 1 }
        let receivedScrapes = Set(state.firstSeries.compactMap { Int(exactly: $0.value) })
        let missingNewer = newer.filter { !receivedScrapes.contains($0) }
        let oldest = state.firstSeries.map(\.time).min().map { backAt - $0 } ?? 0
        print("""
            WAL max_age \(maxAge) s: receiver down 15 s, dropped by then \(Int(droppedWhileDown)); \(final); \
            scrapes \(servedTimes.count), of which \(newer.count) newer than the cap, missing \(missingNewer.count); \
            oldest sample received \(String(format: "%.1f", oldest)) s before the receiver came back \
            (samples already queued in shards are sent whatever their age)
            """)

        #expect(status == 0, "graceful stop; log tail:\n\(agent.logTail())")
        #expect(reload == 200)
        #expect(droppedWhileDown > 0, "samples older than 5 s dropped while the receiver was down 15 s: \(final)")
        #expect(settled, "appended = received + dropped did not settle within 60 s: \(final)")
        #expect(final.appended == Double(final.received) + (final.dropped["wal_max_age"] ?? 0), "\(final)")
        #expect((final.dropped["wal_max_size"] ?? 0) == 0, "no size cap configured: \(final)")
        #expect(final.agentDropped["wal_max_age"] == final.dropped["wal_max_age"], "both drop counters agree: \(final)")
        #expect(missingNewer.isEmpty, "scrapes newer than max_age that never arrived: \(missingNewer)")
    }
}
