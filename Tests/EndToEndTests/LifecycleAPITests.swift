import Foundation
import Testing

/// `--web.enable-lifecycle` with the real binary: off (the default) `POST /-/reload` and
/// `/-/quit` answer 403 with Prometheus's message and change nothing, while SIGHUP still
/// reloads; on, `/-/quit` shuts the agent down gracefully, as SIGTERM does.
@Suite("Lifecycle API")
struct LifecycleAPITests {
    static func config(receiver: ReloadTests.RecordingReceiver, target: CounterTarget, interval: String = "1s") -> String {
        """
        global:
          scrape_interval: \(interval)
        scrape_configs:
          - job_name: counter
            static_configs:
              - targets: ["\(target.server.address)"]
        remote_write:
          - url: \(receiver.url)
            queue_config:
              batch_send_deadline: 200ms
        """
    }

    @Test("without --web.enable-lifecycle, POST /-/reload and /-/quit answer 403 and change nothing; SIGHUP still reloads")
    func lifecycleEndpointsAreForbiddenByDefault() async throws {
        let directory = try Paths.temporaryDirectory("lifecycle-off")
        defer { Paths.removeUnlessKept(directory) }
        let receiver = try await ReloadTests.RecordingReceiver()
        let target = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: Self.config(receiver: receiver, target: target))
        #expect(await agent.waitUntilReady())

        for path in ["/-/reload", "/-/quit"] {
            let response = try await TestClient.post(agent.baseURL + path)
            #expect(response.status == 403, "\(path)")
            #expect(String(decoding: response.body, as: UTF8.self) == "Lifecycle API is not enabled.", "\(path)")
        }
        let afterPosts = try await agent.metrics()
        #expect(afterPosts.sum("agent_config_reloads_total", ["trigger": "http"]) == 0)
        #expect(agent.process?.isRunning == true, "/-/quit did not stop the agent")

        // SIGHUP reloads whatever the flag says.
        try Self.config(receiver: receiver, target: target, interval: "2s").write(to: agent.configFile, atomically: true, encoding: .utf8)
        kill(agent.pid, SIGHUP)
        let reloaded = try await eventually(timeout: .seconds(10)) {
            try await agent.metrics().sum("agent_config_reloads_total", ["trigger": "signal", "result": "success"]) == 1
        }
        #expect(reloaded, "\(agent.logTail())")
        #expect(try await agent.metrics().sum("prometheus_config_last_reload_successful") == 1)
        #expect(await agent.stop() == 0)
    }

    @Test("with --web.enable-lifecycle, POST /-/quit drains remote write and exits 0, as SIGTERM does; GET /-/quit is 405")
    func quitShutsDownGracefully() async throws {
        let directory = try Paths.temporaryDirectory("lifecycle-quit")
        defer { Paths.removeUnlessKept(directory) }
        let receiver = try await ReloadTests.RecordingReceiver()
        let target = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        agent.extraArguments = ["--web.enable-lifecycle"]
        try agent.start(config: Self.config(receiver: receiver, target: target))
        #expect(await agent.waitUntilReady())
        let scraped = await eventually(timeout: .seconds(20)) { target.scrapesServed >= 2 }
        #expect(scraped)

        let get = try await TestClient.get(agent.baseURL + "/-/quit")
        #expect(get.status == 405)
        let quit = try await TestClient.post(agent.baseURL + "/-/quit")
        #expect(quit.status == 200)
        #expect(String(decoding: quit.body, as: UTF8.self) == "Requesting termination... Goodbye!")
        let status = await agent.process?.waitForExit(killAfter: .seconds(30))
        #expect(status == 0, "\(agent.logTail())")

        // The graceful path: scraping stopped (a scrape in flight is aborted, so the last value
        // served may be missing), then remote write sent every value stored before exiting.
        let served = target.scrapesServed
        let values = Set(receiver.samples(["__name__": "e2e_counter_total", "job": "counter"]).map { Int($0.value) })
        let newest = values.max() ?? 0
        #expect(newest >= served - 1 && values == Set(1...max(newest, 1)), "received \(values.sorted()), served \(served)")
        #expect(agent.log.contains("shutdown requested"))
        #expect(agent.log.contains("agent stopped"))
    }
}
