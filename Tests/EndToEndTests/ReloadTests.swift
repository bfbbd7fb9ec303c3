import Curl
import Foundation
import PrometheusProto
import Snappy
import Testing

/// Live reload with the real binary: SIGHUP, `POST /-/reload` and `--config.auto-reload-interval`,
/// against recording receivers and counting targets.
@Suite("Live reload")
struct ReloadTests {
    /// Records every decoded sample it receives.
    final class RecordingReceiver: Sendable {
        let server: TestHTTPServer
        private let series: Locked<[ProtoTimeSeries]>

        init() async throws {
            let series = Locked<[ProtoTimeSeries]>([])
            self.series = series
            server = try await TestHTTPServer { request in
                if let body = try? Snappy.decompress(request.body), let decoded = try? WriteRequest(serializedBytes: body) {
                    series.withLock { $0 += decoded.timeseries }
                }
                return CannedResponse(status: 204)
            }
        }

        var url: String { "http://\(server.address)/api/v1/write" }

        /// Samples of series whose labels include all of `matching`, in arrival order.
        func samples(_ matching: [String: String]) -> [ProtoSample] {
            series.value.filter { ts in
                let labels = Dictionary(uniqueKeysWithValues: ts.labels.map { ($0.name, $0.value) })
                return matching.allSatisfy { labels[$0.key] == $0.value }
            }.flatMap(\.samples)
        }
    }

    static func isStale(_ sample: ProtoSample) -> Bool { sample.value.bitPattern == 0x7ff0_0000_0000_0002 }

    @Test func reloadKeepsUnchangedTargetsStalesRemovedOnesAndRejectsInvalidFiles() async throws {
        let directory = try Paths.temporaryDirectory("reload")
        defer { Paths.removeUnlessKept(directory) }
        let keep = try await CounterTarget()
        let gone = try await CounterTarget()
        let added = try await CounterTarget()
        let retimed = try await CounterTarget()
        let first = try await RecordingReceiver()
        let second = try await RecordingReceiver()
        func config(jobs: [(String, String, String)], receivers: [RecordingReceiver]) -> String {
            """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
            \(jobs.map { "  - job_name: \($0.0)\n    scrape_interval: \($0.2)\n    static_configs:\n      - targets: [\"\($0.1)\"]" }.joined(separator: "\n"))
            remote_write:
            \(receivers.enumerated().map { "  - url: \($0.element.url)\n    name: r\($0.offset)\n    queue_config:\n      batch_send_deadline: 500ms" }.joined(separator: "\n"))
            """
        }
        let agent = try AgentHarness(directory: directory)
        agent.extraArguments = ["--web.enable-lifecycle"]  // for POST /-/reload
        try agent.start(config: config(
            jobs: [("keep", keep.server.address, "1s"), ("gone", gone.server.address, "1s"), ("retimed", retimed.server.address, "1s")],
            receivers: [first]))
        try await Task.sleep(for: .seconds(4))

        // SIGHUP: "gone" leaves, "added" arrives, "retimed" scrapes every 3 s instead of every
        // second, a second endpoint starts, "keep" is untouched.
        let configFile = directory.appendingPathComponent("agent.yml")
        let secondConfig = config(
            jobs: [("keep", keep.server.address, "1s"), ("added", added.server.address, "1s"), ("retimed", retimed.server.address, "3s")],
            receivers: [first, second])
        try secondConfig.write(to: configFile, atomically: true, encoding: .utf8)
        kill(agent.pid, SIGHUP)
        let retimedAtReload = retimed.scrapesServed
        try await Task.sleep(for: .seconds(6))
        let retimedAfter = retimed.scrapesServed - retimedAtReload

        // POST /-/reload: the first endpoint is removed; it receives nothing more.
        try config(
            jobs: [("keep", keep.server.address, "1s"), ("added", added.server.address, "1s"), ("retimed", retimed.server.address, "3s")],
            receivers: [second]
        ).replacingOccurrences(of: "name: r0", with: "name: r1").write(to: configFile, atomically: true, encoding: .utf8)
        let removal = try await TestClient.post("\(agent.baseURL)/-/reload")
        try await Task.sleep(for: .seconds(1))
        let firstAtRemoval = first.samples([:]).count
        try await Task.sleep(for: .seconds(3))
        let firstAfterRemoval = first.samples([:]).count

        // An invalid file changes nothing and is answered 500.
        try "scrape_configs: [{job_name: broken, scrape_interval: soon}]\n".write(to: configFile, atomically: true, encoding: .utf8)
        let reload = try await TestClient.post("\(agent.baseURL)/-/reload")
        let metrics = try await agent.metrics().text
        try await Task.sleep(for: .seconds(2))
        let status = await agent.stop()
        for target in [keep, gone, added, retimed] { try await target.server.stop() }
        try await first.server.stop()
        try await second.server.stop()

        #expect(status == 0, "\(agent.log)")
        #expect(removal.status == 200, "\(String(decoding: removal.body, as: UTF8.self))")
        #expect(firstAfterRemoval == firstAtRemoval, "a removed endpoint receives nothing more")
        #expect(retimedAfter >= 1 && retimedAfter <= 3, "3 s interval after the reload: \(retimedAfter) scrapes in 6 s")
        #expect(!first.samples(["job": "retimed"]).contains(where: Self.isStale), "a retimed target keeps its series: no markers")
        #expect(reload.status == 500)
        #expect(String(decoding: reload.body, as: UTF8.self).contains("invalid duration"))
        #expect(metrics.contains("prometheus_config_last_reload_successful 0"), "\(metrics)")

        // "keep" scraped on without a gap or a restart: every value 1…N, no staleness marker.
        // The first endpoint has values 1…m until it was removed, the second (added at the first
        // reload) from some k ≤ m+1 to the last scrape: together every scrape, none twice per endpoint.
        let keptByFirst = first.samples(["__name__": "e2e_counter_total", "job": "keep"]).map(\.value)
        let keptBySecond = second.samples(["__name__": "e2e_counter_total", "job": "keep"]).map(\.value)
        #expect(keptByFirst == (1...max(1, keptByFirst.count)).map(Double.init), "\(keptByFirst)")
        let secondStart = Int(keptBySecond.first ?? 0)
        #expect(secondStart >= 2 && secondStart <= keptByFirst.count + 1, "\(keptBySecond)")
        #expect(keptBySecond == (secondStart...max(secondStart, keep.scrapesServed)).map(Double.init), "\(keptBySecond)")
        #expect(!first.samples(["job": "keep"]).contains(where: Self.isStale))

        // "gone": its series and its synthetic series end with a staleness marker.
        for name in ["e2e_counter_total", "up", "scrape_duration_seconds"] {
            #expect(first.samples(["__name__": name, "job": "gone"]).last.map(Self.isStale) == true, "\(name) of the removed target goes stale")
        }
        let goneServed = gone.scrapesServed
        #expect(goneServed >= 3 && goneServed <= 6, "scraping stopped at the reload (\(goneServed))")

        // "added" is scraped after the reload, and the new endpoint got data from then on only.
        #expect(!first.samples(["job": "added"]).isEmpty)
        #expect(!second.samples(["job": "added"]).isEmpty)
        // A new endpoint starts at the current WAL position: of "gone" it may see the staleness
        // markers written at the reload, never an earlier sample.
        #expect(second.samples(["job": "gone"]).allSatisfy(Self.isStale), "a new endpoint starts at the current WAL position")
        #expect(second.samples(["job": "keep"]).count > first.samples(["job": "keep"]).count / 3, "the second endpoint kept receiving")
        #expect(agent.log.contains("configuration reloaded"))
    }

    /// `--config.auto-reload-interval=1s`: an edit of the file is applied without SIGHUP or
    /// `/-/reload`; an invalid edit fails once, keeps the running jobs and is not tried again
    /// while the file stays as it is.
    @Test func anEditedConfigFileIsReloadedWithoutASignalOrARequest() async throws {
        let directory = try Paths.temporaryDirectory("auto-reload")
        defer { Paths.removeUnlessKept(directory) }
        let first = try await CounterTarget()
        let second = try await CounterTarget()
        func config(job: String, target: CounterTarget) -> String {
            """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: \(job)
                static_configs:
                  - targets: ["\(target.server.address)"]
            """
        }
        let agent = try AgentHarness(directory: directory)
        agent.extraArguments = ["--config.auto-reload-interval=1s"]
        try agent.start(config: config(job: "first", target: first))
        func reloads(_ result: String) async -> Double {
            (try? await agent.metrics().sum("agent_config_reloads_total", ["trigger": "file_change", "result": result])) ?? -1
        }
        let firstScraped = await eventually(timeout: .seconds(15)) { first.scrapesServed > 0 }

        try config(job: "second", target: second).write(to: agent.configFile, atomically: true, encoding: .utf8)
        let secondScraped = await eventually(timeout: .seconds(15)) { second.scrapesServed > 0 }
        let firstAfterEdit = first.scrapesServed
        let applied = await reloads("success")

        try "scrape_configs: [{job_name: broken, scrape_interval: soon}]\n".write(to: agent.configFile, atomically: true, encoding: .utf8)
        let failed = await eventually(timeout: .seconds(15)) { await reloads("failure") == 1 }
        // Three more scrapes of the running job: three intervals of the watcher go by.
        let secondAtFailure = second.scrapesServed
        let keptScraping = await eventually(timeout: .seconds(15)) { second.scrapesServed >= secondAtFailure + 3 }
        let metrics = try await agent.metrics()
        let targets = try await agent.get("/api/v1/targets")
        let status = await agent.stop()
        try await first.server.stop()
        try await second.server.stop()

        #expect(status == 0, "\(agent.logTail())")
        #expect(firstScraped && secondScraped, "\(agent.logTail())")
        #expect(applied == 1, "one reload for one edit")
        #expect(first.scrapesServed <= firstAfterEdit + 1, "the removed job stopped")
        #expect(failed && keptScraping, "\(agent.logTail())")
        #expect(metrics.sum("agent_config_reloads_total", ["trigger": "file_change", "result": "failure"]) == 1,
            "an invalid file is not retried until it changes: \(metrics.lines("agent_config_reloads_total"))")
        #expect(metrics.sum("agent_config_reloads_total", ["trigger": "file_change", "result": "success"]) == 1)
        #expect(metrics.sum("agent_config_reloads_total", ["trigger": "signal"]) == 0)
        #expect(metrics.sum("agent_config_reloads_total", ["trigger": "http"]) == 0)
        #expect(metrics.sum("prometheus_config_last_reload_successful") == 0)
        let body = String(decoding: targets.body, as: UTF8.self)
        #expect(body.contains(#""scrapePool":"second""#) && !body.contains(#""scrapePool":"first""#), "\(body)")
        #expect(agent.log.contains("configuration file changed; reloading"))
    }
}
