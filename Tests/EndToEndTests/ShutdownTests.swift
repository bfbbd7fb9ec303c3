import Foundation
import Testing

/// SIGTERM with the real binary: a receiver that is down must not hold the process (everything
/// stays in the WAL for the next start), and a receiver that works gets what was queued before
/// the process exits.
@Suite("Graceful shutdown")
struct ShutdownTests {
    /// The issue's bound for SIGTERM with the receiver down; the flush deadline is a minute.
    static let exitBound: Duration = .seconds(5)

    /// Waits until the agent has committed exactly the scrapes `target` served (no scrape in
    /// flight) and returns that number, S: the agent scraped and stored the values 1…S. Also
    /// returns how many of those scrapes failed (stored as `up` 0 without the counter).
    static func committedScrapes(_ agent: AgentHarness, _ target: CounterTarget, job: String) async throws -> (count: Int, failed: Int)? {
        var result: (Int, Int)?
        _ = try await eventually(timeout: .seconds(20)) {
            let before = target.scrapesServed
            let metrics = try await agent.metrics()
            let scrapes = Int(metrics.sum("agent_scrapes_total", ["scrape_job": job]))
            guard before == target.scrapesServed, scrapes == before else { return false }
            result = (scrapes, Int(metrics.sum("agent_scrape_failures_total", ["scrape_job": job])))
            return true
        }
        return result
    }

    /// The distinct integer values VictoriaMetrics holds for `selector`.
    static func values(_ vm: VictoriaMetrics, _ selector: String) async throws -> Set<Int> {
        Set(try await vm.export(selector).flatMap { $0.samples.compactMap { Int(exactly: $0.value) } })
    }

    @Test("SIGTERM with the remote-write receiver down exits 0 within 5 s (flush deadline 1m); after a restart every sample scraped before it arrives")
    func sigtermWithReceiverDownExitsAtOnceAndLosesNothing() async throws {
        let directory = try Paths.temporaryDirectory("e2e-sigterm-down")
        defer { Paths.removeUnlessKept(directory) }
        let vm = try VictoriaMetrics(directory: directory)
        try await vm.start()
        let target = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        agent.flushDeadline = nil  // the default, 1m: a down receiver must not hold the process for it
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: sigterm-down
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(target.server.address)"]
            remote_write:
              - url: \(vm.writeURL)
                name: vm
                queue_config:
                  batch_send_deadline: 500ms
                  min_backoff: 100ms
                  max_backoff: 1s
            """)
        let selector = #"e2e_counter_total{cluster="sigterm-down"}"#
        let sending = try await eventually(timeout: .seconds(30)) { try await Self.values(vm, selector).count >= 3 }
        try #require(sending, "VictoriaMetrics receives before the outage; log:\n\(agent.logTail())")

        await vm.stop()
        let servedAtOutage = target.scrapesServed
        // The agent scrapes on for a few intervals and retries meanwhile.
        let retrying = try await eventually(timeout: .seconds(30)) {
            let failures = try await agent.metrics().sum("agent_remote_write_request_failures_total", ["remote_name": "vm"])
            return failures >= 2 && target.scrapesServed >= servedAtOutage + 4
        }
        try #require(retrying, "the agent retries while scraping on; log:\n\(agent.logTail())")
        let committed = try #require(
            try await Self.committedScrapes(agent, target, job: "counter"), "scrapes settle; log:\n\(agent.logTail())")

        let signalled = ContinuousClock.now
        kill(agent.pid, SIGTERM)
        // Killed after 15 s, so that an agent that waits for the flush deadline fails in 15 s, not 60.
        let status = await agent.process!.waitForExit(killAfter: .seconds(15))
        let exitTook = ContinuousClock.now - signalled
        let servedAtExit = target.scrapesServed
        let logAtExit = agent.logTail(30)

        // The receiver comes back; before the agent restarts, it lacks what was scraped during the outage.
        try await vm.start()
        let heldBeforeRestart = try await Self.values(vm, selector)
        try agent.restart()
        var received = heldBeforeRestart
        let arrived = try await eventually(timeout: .seconds(60)) {
            received = try await Self.values(vm, selector)
            return received.isSuperset(of: 1...committed.count)
        }
        let finalStatus = await agent.stop()
        try await target.server.stop()
        await vm.stop()

        let missing = Set(1...committed.count).subtracting(received).sorted()
        print("""
            sigterm with the receiver down: exit status \(status) after \(exitTook); values 1…\(committed.count) committed \
            (\(committed.failed) failed scrapes), \(servedAtExit) served before the exit, outage from value \(servedAtOutage + 1); \
            VictoriaMetrics held \(heldBeforeRestart.count) before the restart, \(received.count) after
            """)
        #expect(status == 0, "exit status after SIGTERM; log tail:\n\(logAtExit)")
        #expect(exitTook < Self.exitBound, "SIGTERM with the receiver down took \(exitTook) (flush deadline 1m)")
        #expect(
            !heldBeforeRestart.isSuperset(of: 1...committed.count),
            "the receiver lacked the outage's values until the restart: \(heldBeforeRestart.sorted().suffix(10))")
        #expect(arrived, "every value committed before SIGTERM arrived after the restart")
        #expect(missing.count <= committed.failed, "values scraped before SIGTERM and never received: \(missing)")
        #expect(received.isSubset(of: Set(1...max(1, target.scrapesServed))), "only values the target served")
        #expect(finalStatus == 0, "the restarted agent stops cleanly; log tail:\n\(agent.logTail())")
    }

    @Test("SIGTERM while the receiver works sends every queued sample, then exits 0 before the flush deadline")
    func sigtermWithReceiverUpDrainsTheQueue() async throws {
        let directory = try Paths.temporaryDirectory("e2e-sigterm-drain")
        defer { Paths.removeUnlessKept(directory) }
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        let target = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        agent.flushDeadline = nil  // 1m
        // A batch waits up to 10 minutes for more samples: at SIGTERM everything scraped is queued.
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: sigterm-drain
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(target.server.address)"]
            remote_write:
              - url: \(hub.writeURL)
                name: hub
                queue_config:
                  batch_send_deadline: 10m
                  max_samples_per_send: 10000
            """)
        let scraped = await eventually(timeout: .seconds(30)) { target.scrapesServed >= 5 }
        try #require(scraped, "the agent scrapes; log:\n\(agent.logTail())")
        let committed = try #require(
            try await Self.committedScrapes(agent, target, job: "counter"), "scrapes settle; log:\n\(agent.logTail())")
        let selector = #"e2e_counter_total{cluster="sigterm-drain"}[1h]"#
        let heldBeforeSIGTERM = try await hub.samples(selector).first?.values.count ?? 0
        let pending = try await agent.metrics().sum("prometheus_remote_storage_samples_pending", ["remote_name": "hub"])

        let signalled = ContinuousClock.now
        let status = await agent.stop(timeout: .seconds(90))
        let exitTook = ContinuousClock.now - signalled
        let values = try await hub.samples(selector).first?.values.map(\.value) ?? []
        try await target.server.stop()
        await hub.stop()

        let received = Set(values.compactMap { Int(exactly: $0) })
        let missing = Set(1...committed.count).subtracting(received).sorted()
        print("""
            sigterm while the receiver works: \(pending) samples pending and \(heldBeforeSIGTERM) counter values at the hub \
            before SIGTERM; exit status \(status) after \(exitTook); values 1…\(committed.count) committed, hub has \(received.count)
            """)
        #expect(heldBeforeSIGTERM == 0, "nothing was sent before SIGTERM (the batch deadline is 10m)")
        #expect(status == 0, "exit status after SIGTERM; log tail:\n\(agent.logTail())")
        #expect(exitTook < .seconds(60), "drained before the 1m flush deadline: \(exitTook)")
        #expect(missing.count <= committed.failed, "queued values that never arrived: \(missing)")
        #expect(received.isSubset(of: Set(1...max(1, target.scrapesServed))), "only values the target served")
    }
}
