import Foundation
import Testing

/// The agent against real parts: Debian's Prometheus as the hub, Debian's node_exporter and an
/// in-process counter as targets.
@Suite("End to end with a real Prometheus hub", .serialized)
struct PrometheusReceiverTests {
    @Test("node_exporter series reach the hub with job, instance and the external label, one sample per scrape")
    func scrapedSeriesArriveWithTargetAndExternalLabels() async throws {
        let directory = try Paths.temporaryDirectory("e2e-node")
        defer { Paths.removeUnlessKept(directory) }
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        let nodePort = try freePort()
        let nodeExporter = try ChildProcess(
            name: "node-exporter", executable: "/usr/bin/prometheus-node-exporter",
            arguments: ["--web.listen-address=127.0.0.1:\(nodePort)"], logDirectory: directory)
        let counter = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 2s
              scrape_timeout: 2s
              external_labels:
                cluster: e2e
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ["127.0.0.1:\(nodePort)"]
              - job_name: counter
                static_configs:
                  - targets: ["\(counter.server.address)"]
            remote_write:
              - url: \(hub.writeURL)
                queue_config:
                  batch_send_deadline: 1s
            """)
        try await Task.sleep(for: .seconds(20))
        let status = await agent.stop()
        await nodeExporter.stop()
        try await counter.server.stop()
        defer { Task { await hub.stop() } }

        #expect(status == 0, "agent exit status; log:\n\(agent.log)")
        let up = try await hub.vector(#"up{job="node",cluster="e2e"}"#)
        #expect(up.count == 1)
        #expect(up.first?.value == 1)

        let cpu = try await hub.vector(#"node_cpu_seconds_total{cluster="e2e"}"#)
        #expect(!cpu.isEmpty)
        for series in cpu {
            #expect(series.labels["job"] == "node")
            #expect(series.labels["instance"] == "127.0.0.1:\(nodePort)")
            #expect(series.labels["cluster"] == "e2e")
        }

        // Every node series has as many samples as there were scrapes (within one).
        let scrapes = try await hub.samples(#"up{job="node",cluster="e2e"}[10m]"#).first?.values.count ?? 0
        #expect(scrapes >= 7, "about 10 scrapes in 20 s at 2 s")
        let nodeSeries = try await hub.samples(#"{job="node",cluster="e2e"}[10m]"#)
        #expect(nodeSeries.count > 100, "node_exporter exposes hundreds of series")
        // Filesystems other tests mount for a moment (the WAL's disk-full tests use tiny tmpfs
        // mounts under /tmp) come and go in node_exporter's output: their series are not the
        // agent's to keep.
        let outliers = nodeSeries
            .filter { !($0.labels["mountpoint"]?.hasPrefix("/tmp/") ?? false) }
            .filter { abs($0.values.count - scrapes) > 1 }.map { ($0.labels, $0.values.count) }
        #expect(outliers.isEmpty, "series whose sample count differs from \(scrapes) scrapes: \(outliers.prefix(5))")

        // The counter target saw every scrape, and the hub got each one.
        let counterValues = try await hub.samples(#"e2e_counter_total{cluster="e2e"}[10m]"#).first?.values.map(\.value) ?? []
        #expect(counterValues == (1...max(1, counter.scrapesServed)).map(Double.init))
    }

    @Test("stopping the hub for 10 s loses no sample: every scrape arrives after it returns")
    func receiverOutageLosesNothing() async throws {
        let directory = try Paths.temporaryDirectory("e2e-outage")
        defer { Paths.removeUnlessKept(directory) }
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        let counter = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: e2e
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(counter.server.address)"]
            remote_write:
              - url: \(hub.writeURL)
                queue_config:
                  batch_send_deadline: 1s
                  max_backoff: 1s
            """)
        try await Task.sleep(for: .seconds(6))
        await hub.stop()
        let servedBeforeOutage = counter.scrapesServed
        try await Task.sleep(for: .seconds(10))
        let servedDuringOutage = counter.scrapesServed - servedBeforeOutage
        try await hub.start()
        try await Task.sleep(for: .seconds(8))
        let status = await agent.stop()
        let served = counter.scrapesServed
        try await counter.server.stop()
        defer { Task { await hub.stop() } }

        #expect(status == 0, "agent exit status; log:\n\(agent.log)")
        #expect(servedDuringOutage >= 8, "the agent kept scraping while the hub was down")
        let values = try await hub.samples(#"e2e_counter_total{cluster="e2e"}[10m]"#).first?.values.map(\.value) ?? []
        #expect(values == (1...served).map(Double.init), "hub has \(values.count) of \(served) scrapes; agent log:\n\(agent.log)")
        #expect(agent.log.contains("remote write failed; retrying"))
    }
}
