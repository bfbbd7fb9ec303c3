import Foundation
import Testing

/// The agent's OS threads are fixed, whatever it is configured to do. On this 2-core machine:
/// the cooperative pool (one thread per core: 2), the libcurl I/O thread that carries every HTTP
/// transfer (scrapes, remote write, Kubernetes lists and watches: 1), the WAL writer (1), the
/// blocking-I/O pool for fsync and file reads (2), the admin server's event loop (1), the main
/// thread (1), and the few threads libdispatch keeps for itself (its manager and a worker or
/// two): about 10–12. libcurl starts a resolver thread only while it resolves a host name, and
/// every address here is 127.0.0.1, so there is none.
@Suite("Threads")
struct ThreadCountTests {
    /// The bound for a plain config: the threads above, with room for libdispatch's.
    static let plainBound = 16
    /// The bound with any number of Kubernetes watches.
    static let discoveryBound = 24
    /// Threads that may come and go between two readings (libdispatch workers).
    static let transient = 2

    /// The agent's `agent_threads` and the entries of `/proc/PID/task`, each the highest of a
    /// few readings over a second and a half, so that a transient thread is seen rather than missed.
    static func threads(of agent: AgentHarness) async throws -> (metric: Int, proc: Int) {
        var metric = 0
        var proc = 0
        for reading in 1...5 {
            let metrics = try await agent.metrics()
            let exposed = metrics.has("agent_threads")
            if reading == 1 { #expect(exposed, "agent_threads is not among the agent's metrics") }
            metric = max(metric, Int(metrics.sum("agent_threads")))
            proc = max(proc, try #require(agent.threads(), "the agent runs; log:\n\(agent.logTail())"))
            try await Task.sleep(for: .milliseconds(300))
        }
        return (metric, proc)
    }

    @Test("agent_threads is exposed and stays at most 16 for a plain config that scrapes and remote-writes")
    func plainConfigRunsAFixedSmallSetOfThreads() async throws {
        let directory = try Paths.temporaryDirectory("e2e-threads")
        defer { Paths.removeUnlessKept(directory) }
        let target = try await CounterTarget()
        let writes = Locked(0)
        let receiver = try await TestHTTPServer { request in
            guard request.method == "POST" else { return CannedResponse(status: 404) }
            writes.withLock { $0 += 1 }
            return CannedResponse(status: 204)
        }
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 500ms
              scrape_timeout: 500ms
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(target.server.address)"]
            remote_write:
              - url: http://\(receiver.address)/api/v1/write
                queue_config:
                  batch_send_deadline: 500ms
            """)
        let working = await eventually(timeout: .seconds(30)) { target.scrapesServed >= 4 && writes.value >= 2 }
        try #require(working, "the agent scrapes and writes; log:\n\(agent.logTail())")
        let threads = try await Self.threads(of: agent)
        let status = await agent.stop()
        try await target.server.stop()
        try await receiver.stop()

        print("threads, plain config: agent_threads \(threads.metric), /proc/PID/task \(threads.proc)")
        #expect(threads.metric > 0 && threads.metric <= Self.plainBound, "agent_threads \(threads.metric)")
        #expect(threads.proc <= Self.plainBound, "/proc/PID/task has \(threads.proc) entries")
        #expect(abs(threads.metric - threads.proc) <= Self.transient, "agent_threads \(threads.metric) counts /proc's \(threads.proc)")
        #expect(status == 0, "log tail:\n\(agent.logTail())")
    }

    /// A pod in `namespace` on 127.0.0.1 with one container port.
    static func pod(_ name: String, namespace: String, port: Int) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": name, "namespace": namespace, "labels": ["app": name]],
            "spec": ["nodeName": "node-1", "containers": [["name": "app", "image": "app:1", "ports": [["name": "http", "containerPort": port]]]]],
            "status": ["phase": "Running", "podIP": "127.0.0.1", "hostIP": "10.0.0.1", "conditions": [["type": "Ready", "status": "True"]]],
        ]
    }

    /// Endpoints in `namespace` with one address, 127.0.0.1:`port`.
    static func endpoints(_ name: String, namespace: String, port: Int) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": ["name": name, "namespace": namespace],
            "subsets": [["addresses": [["ip": "127.0.0.1"]], "ports": [["name": "http", "port": port, "protocol": "TCP"]]]],
        ]
    }

    /// An agent with `jobs` Kubernetes-discovered jobs, each one `kubernetes_sd_configs` entry in
    /// a namespace of its own (`ns-0`, `ns-1`, …) finding one target: even jobs with role `pod`
    /// (one watch: pods), odd ones with role `endpoints` (three: endpoints, services, pods). Waits
    /// until every watch is open and every target scraped; returns the thread counts then.
    static func threadsWithDiscovery(jobs: Int, in directory: URL, target: CounterTarget) async throws -> (
        metric: Int, proc: Int, watches: Int
    ) {
        let api = try await FakeKubernetesAPIServer()
        var config = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        var expectedWatches = 0
        for job in 0..<jobs {
            let namespace = "ns-\(job)"
            let role = job % 2 == 0 ? "pod" : "endpoints"
            if role == "pod" {
                api.add(path: "/api/v1/pods", object: Self.pod("app-\(job)", namespace: namespace, port: target.server.port))
                expectedWatches += 1
            } else {
                api.add(path: "/api/v1/endpoints", object: Self.endpoints("svc-\(job)", namespace: namespace, port: target.server.port))
                expectedWatches += 3
            }
            config += """
                  - job_name: k8s-\(job)
                    kubernetes_sd_configs:
                      - role: \(role)
                        api_server: \(api.url)
                        namespaces:
                          names: [\(namespace)]

                """
        }
        let agent = try AgentHarness(directory: directory.appendingPathComponent("jobs-\(jobs)"))
        try FileManager.default.createDirectory(at: agent.directory, withIntermediateDirectories: true)
        try agent.start(config: config)
        var scrapes = 0.0
        var targets = 0.0
        let settled = try await eventually(timeout: .seconds(60)) {
            guard api.openWatches >= expectedWatches else { return false }
            let metrics = try await agent.metrics()
            targets = metrics.sum("prometheus_target_scrape_pool_targets")
            scrapes = metrics.sum("agent_scrapes_total")
            return targets == Double(jobs) && scrapes >= Double(2 * jobs)
        }
        try #require(
            settled,
            "\(jobs) jobs: \(api.openWatches) of \(expectedWatches) watches open, \(targets) targets, \(scrapes) scrapes; log:\n\(agent.logTail())")
        let threads = try await Self.threads(of: agent)
        let watches = api.openWatches
        let status = await agent.stop()
        #expect(status == 0, "log tail:\n\(agent.logTail())")
        return (threads.metric, threads.proc, watches)
    }

    @Test("Kubernetes discovery with 20 SD configs (40 open watches) runs no more threads than with one")
    func kubernetesWatchesAddNoThreads() async throws {
        let directory = try Paths.temporaryDirectory("e2e-threads-k8s")
        defer { Paths.removeUnlessKept(directory) }
        let target = try await CounterTarget()
        async let one = Self.threadsWithDiscovery(jobs: 1, in: directory, target: target)
        async let twenty = Self.threadsWithDiscovery(jobs: 20, in: directory, target: target)
        let (single, many) = try await (one, twenty)
        try await target.server.stop()

        print("""
            threads with Kubernetes discovery: 1 SD config (\(single.watches) watches): agent_threads \(single.metric), \
            /proc \(single.proc); 20 SD configs (\(many.watches) watches): agent_threads \(many.metric), /proc \(many.proc)
            """)
        #expect(many.watches >= 40, "20 SD configs hold 40 watches open: \(many.watches)")
        #expect(many.metric - single.metric <= Self.transient, "agent_threads: \(single.metric) with one watch, \(many.metric) with \(many.watches)")
        #expect(many.proc - single.proc <= Self.transient, "/proc/PID/task: \(single.proc) with one watch, \(many.proc) with \(many.watches)")
        #expect(many.metric < Self.discoveryBound && many.proc < Self.discoveryBound, "\(many.metric) / \(many.proc) threads")
    }
}
