import Foundation
import Testing

/// Two `remote_write` endpoints, Debian's Prometheus and Debian's VictoriaMetrics: one that is
/// down must not hold the other back, and must get everything once it is back.
@Suite("Two remote-write endpoints")
struct TwoEndpointTests {
    static let outage: Duration = .seconds(60)
    /// Largest age of Prometheus's newest sample tolerated during the outage: a few 1 s scrape
    /// intervals (plus the 500 ms batch deadline and the query's own delay).
    static let maxLag = 5.0

    @Test("VictoriaMetrics down for a minute: Prometheus keeps receiving on time, VictoriaMetrics catches up with every value")
    func endpointOutageDelaysNeitherTheOtherEndpointNorLosesSamples() async throws {
        let directory = try Paths.temporaryDirectory("e2e-two")
        defer { Paths.removeUnlessKept(directory) }
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        let vm = try VictoriaMetrics(directory: directory)
        try await vm.start()
        let target = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: two
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(target.server.address)"]
            remote_write:
              - url: \(hub.writeURL)
                name: prometheus
                queue_config:
                  batch_send_deadline: 500ms
                  max_backoff: 2s
              - url: \(vm.writeURL)
                name: victoria
                queue_config:
                  batch_send_deadline: 500ms
                  max_backoff: 2s
            """)
        #expect(await agent.waitUntilReady(), "agent did not become ready:\n\(agent.log)")

        let selector = #"e2e_counter_total{cluster="two"}"#
        func vmValues() async throws -> [Double] { try await vm.export(selector).flatMap { $0.samples.map(\.value) } }
        let bothReceive = try await eventually(timeout: .seconds(30)) {
            let victoriaHas = try await !vmValues().isEmpty
            let prometheusHas = try await !hub.vector(selector).isEmpty
            return victoriaHas && prometheusHas
        }
        try #require(bothReceive, "both endpoints receive before the outage; log:\n\(agent.logTail())")
        try await Task.sleep(for: .seconds(2))

        await vm.stop()
        let servedAtStop = target.scrapesServed
        let outageStart = ContinuousClock.now
        // Prometheus's newest sample, checked every second: its age, and how many values it is behind.
        var checks = 0
        var worstAge = 0.0
        var worstBehind = 0
        var late: [String] = []
        while ContinuousClock.now - outageStart < Self.outage {
            try await Task.sleep(for: .seconds(1))
            let newestTime = try await hub.vector("timestamp(\(selector))").first?.value ?? 0
            let newestValue = Int(exactly: try await hub.vector(selector).first?.value ?? 0) ?? 0
            let age = Date().timeIntervalSince1970 - newestTime
            let behind = target.scrapesServed - newestValue
            checks += 1
            worstAge = max(worstAge, age)
            worstBehind = max(worstBehind, behind)
            if age > Self.maxLag { late.append(String(format: "%.1fs after %.0fs", age, (ContinuousClock.now - outageStart) / .seconds(1))) }
        }
        let servedAtRestart = target.scrapesServed
        let vmMetricsDuringOutage = try await agent.metrics()
        try await vm.start()
        let restartedAt = ContinuousClock.now
        // Catches up by itself, while the agent keeps running.
        let caughtUp = try await eventually(timeout: .seconds(60)) {
            Set(try await vmValues().compactMap { Int(exactly: $0) }).isSuperset(of: 1...servedAtRestart)
        }
        let catchUp = ContinuousClock.now - restartedAt
        try await Task.sleep(for: .seconds(3))
        let status = await agent.stop()
        let served = target.scrapesServed
        try await target.server.stop()

        // Prometheus takes what the agent sent at once; VictoriaMetrics after a flush.
        let hubValues = try await hub.samples("\(selector)[1h]").first?.values.map(\.value) ?? []
        var victoria = try await vm.export(selector)
        _ = try await eventually(timeout: .seconds(15)) {
            victoria = try await vm.export(selector)
            return Set(victoria.flatMap { $0.samples.compactMap { Int(exactly: $0.value) } }).isSuperset(of: 1...served)
        }
        await hub.stop()
        await vm.stop()
        let victoriaValues = victoria.flatMap { $0.samples.map(\.value) }
        let victoriaSet = Set(victoriaValues.compactMap { Int(exactly: $0) })
        let expected = Set(1...served)
        print("""
            two endpoints: VictoriaMetrics down \(Self.outage) (values \(servedAtStop + 1)…\(servedAtRestart) served meanwhile); \
            Prometheus checked \(checks) times, newest sample at worst \(String(format: "%.2f", worstAge)) s old, \
            at worst \(worstBehind) values behind; VictoriaMetrics caught up \(caughtUp) in \(catchUp); \
            served \(served), Prometheus has \(hubValues.count), VictoriaMetrics \(victoriaValues.count) \
            (distinct \(victoriaSet.count), duplicates \(victoriaValues.count - victoriaSet.count)); \
            retried during the outage: \(vmMetricsDuringOutage.sum("prometheus_remote_storage_samples_retried_total", ["remote_name": "victoria"]))
            """)

        #expect(status == 0, "graceful stop; log tail:\n\(agent.logTail())")
        #expect(checks >= 40, "Prometheus was checked through the outage (\(checks) times)")
        #expect(late.isEmpty, "Prometheus's newest sample was older than \(Self.maxLag) s: \(late)")
        #expect(worstBehind <= 5, "Prometheus at worst \(worstBehind) values behind the target during the outage")
        #expect(servedAtRestart - servedAtStop >= 45, "the agent scraped on during the outage")
        #expect(
            vmMetricsDuringOutage.sum("agent_remote_write_request_failures_total", ["remote_name": "victoria"]) > 0,
            "the agent noticed the outage: \(vmMetricsDuringOutage.lines("agent_remote_write_request_failures_total"))")
        #expect(
            vmMetricsDuringOutage.sum("agent_remote_write_request_failures_total", ["remote_name": "prometheus"]) == 0,
            "the Prometheus endpoint never failed: \(vmMetricsDuringOutage.lines("agent_remote_write_request_failures_total"))")
        let fromMemory = vmMetricsDuringOutage.sum("agent_remote_wal_records_read_total", ["remote_name": "prometheus", "source": "memory"])
        let fromFiles = vmMetricsDuringOutage.sum("agent_remote_wal_records_read_total", ["remote_name": "prometheus", "source": "file"])
        #expect(
            fromMemory > fromFiles,
            "the caught-up endpoint read what the WAL had just written from memory (\(fromMemory) records) rather than from the files (\(fromFiles))")
        #expect(caughtUp, "VictoriaMetrics got every value served before it returned, within 60 s, while the agent ran")
        #expect(hubValues == (1...served).map(Double.init), "Prometheus has every value once, in order: \(hubValues.count) of \(served)")
        #expect(victoria.count == 1, "one series in VictoriaMetrics: \(victoria.map(\.labels))")
        let missing = expected.subtracting(victoriaSet).sorted()
        #expect(missing.isEmpty, "VictoriaMetrics lacks \(missing.count) values: \(missing.prefix(50))")
        #expect(victoriaSet.isSubset(of: expected), "VictoriaMetrics holds only values served")
        #expect(zip(victoriaValues, victoriaValues.dropFirst()).allSatisfy { $0 <= $1 }, "VictoriaMetrics' values rise with time")
    }
}
