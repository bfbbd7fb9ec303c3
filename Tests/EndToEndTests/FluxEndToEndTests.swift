import Foundation
import Testing

/// The Flux jobs of the shipped configuration (config/kubernetes/base/agent.yaml), run by the
/// real agent against a fake API server holding the pods of a Flux v2 install (labels, ports
/// and scrape annotations as Flux's manifests give them), each controller's `/metrics` served
/// from its fixture (Fixtures/flux/), into a real Prometheus hub.
@Suite("Flux end to end")
struct FluxEndToEndTests {
    /// Every controller a Flux v2 install can run: the default four, the image automation pair
    /// and source-watcher. The value is the named ports its container declares besides
    /// `http-prom` (from the controllers' deployment manifests).
    static let controllers: [(name: String, otherPorts: [String])] = [
        ("source-controller", ["http", "healthz"]),
        ("kustomize-controller", ["healthz"]),
        ("helm-controller", ["healthz"]),
        ("notification-controller", ["http", "http-webhook", "healthz"]),
        ("image-reflector-controller", ["healthz"]),
        ("image-automation-controller", ["healthz"]),
        ("source-watcher", ["http", "healthz"]),
    ]
    static let shippedConfig = Paths.packageRoot.appendingPathComponent("config/kubernetes/base/agent.yaml")
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/flux")

    /// A Flux controller's pod as its Deployment makes it, at 127.0.0.1: `http-prom` and the
    /// `prometheus.io/port` annotation name `metricsPort`, every other declared port `otherPort`.
    static func pod(controller: String, metricsPort: Int, otherPorts: [String], otherPort: Int) -> [String: Any] {
        let ports: [[String: Any]] =
            [["name": "http-prom", "containerPort": metricsPort, "protocol": "TCP"]]
            + otherPorts.map { ["name": $0, "containerPort": otherPort, "protocol": "TCP"] }
        return [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": "\(controller)-6d9f8c7b54-x2k4q", "namespace": "flux-system",
                "labels": [
                    "app": controller, "app.kubernetes.io/component": controller, "app.kubernetes.io/part-of": "flux",
                    "app.kubernetes.io/instance": "flux-system", "pod-template-hash": "6d9f8c7b54",
                ],
                "annotations": ["prometheus.io/scrape": "true", "prometheus.io/port": "\(metricsPort)"],
            ],
            "spec": [
                "nodeName": "node-1", "serviceAccountName": controller,
                "containers": [["name": "manager", "image": "ghcr.io/fluxcd/\(controller):v1.0.0", "ports": ports]],
            ],
            "status": ["phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1", "conditions": [["type": "Ready", "status": "True"]]],
        ]
    }

    /// An annotated pod outside Flux, for the shipped `kubernetes-pods` job.
    static func appPod(port: Int) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": "web-1", "namespace": "shop", "labels": ["app": "web"],
                "annotations": ["prometheus.io/scrape": "true", "prometheus.io/port": "\(port)"],
            ],
            "spec": ["nodeName": "node-1", "containers": [["name": "app", "image": "web:1", "ports": [["name": "http", "containerPort": port]]]]],
            "status": ["phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1", "conditions": [["type": "Ready", "status": "True"]]],
        ]
    }

    /// The lines of the shipped scrape config `job_name: name`, from its `- job_name` line to
    /// the next job or section comment, with the pod discovery pointed at `apiServer`.
    static func shippedJob(_ name: String, in text: String, apiServer: String, token: String) throws -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "  - job_name: \(name)" }, "no job \(name) in agent.yaml")
        var end = start + 1
        while end < lines.count, !lines[end].hasPrefix("  - job_name:"), !lines[end].hasPrefix("  # ---"),
            lines[end].isEmpty || lines[end].hasPrefix(" ")
        {
            end += 1
        }
        var job: [String] = []
        for line in lines[start..<end] {
            job.append(String(line))
            if line == "      - role: pod" {
                job += ["        api_server: \(apiServer)", "        authorization:", "          credentials: \(token)"]
            }
        }
        #expect(job.contains("        api_server: \(apiServer)"), "job \(name) has no pod discovery")
        return job.joined(separator: "\n")
    }

    /// The metric names of a fixture exposition.
    static func metricNames(_ exposition: String) -> Set<String> {
        Set(
            exposition.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { line in
                String(line.prefix { $0 != "{" && $0 != " " })
            })
    }

    @Test func shippedFluxJobScrapesEveryControllerWithItsLabelsAndOnlyOnce() async throws {
        let directory = try Paths.temporaryDirectory("flux-e2e")
        defer { Paths.removeUnlessKept(directory) }
        let token = "flux-test-token"
        let api = try await FakeKubernetesAPIServer(token: token)

        // One local target per controller, serving its fixture; one server for every other
        // declared port (nothing may scrape it); one annotated application pod.
        var expositions: [String: String] = [:]
        var targets: [String: TestHTTPServer] = [:]
        let scrapes = Locked<[String: Int]>([:])
        for (controller, _) in Self.controllers {
            let body = try String(contentsOf: Self.fixtures.appendingPathComponent("\(controller).prom"), encoding: .utf8)
            expositions[controller] = body
            targets[controller] = try await TestHTTPServer { request in
                guard request.path == "/metrics" else { return CannedResponse(status: 404) }
                scrapes.withLock { $0[controller, default: 0] += 1 }
                return CannedResponse(contentType: "text/plain; version=0.0.4", body: body)
            }
        }
        let otherRequests = Locked(0)
        let other = try await TestHTTPServer { _ in
            otherRequests.withLock { $0 += 1 }
            return CannedResponse(status: 404)
        }
        let app = try await CounterTarget()
        for (controller, otherPorts) in Self.controllers {
            api.add(
                path: "/api/v1/pods",
                object: Self.pod(controller: controller, metricsPort: targets[controller]!.port, otherPorts: otherPorts, otherPort: other.port))
        }
        api.add(path: "/api/v1/pods", object: Self.appPod(port: app.server.port))

        let shipped = try String(contentsOf: Self.shippedConfig, encoding: .utf8)
        let jobs = try ["flux-system", "kubernetes-pods"].map { try Self.shippedJob($0, in: shipped, apiServer: api.url, token: token) }
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        let agent = try AgentHarness(directory: directory)
        agent.extraArguments = ["--config.expand-env"]
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: flux-test
            scrape_configs:
            \(jobs.joined(separator: "\n"))
            remote_write:
              - url: \(hub.writeURL)
                queue_config:
                  batch_send_deadline: 500ms

            """)

        let scraped = await eventually(timeout: .seconds(30)) {
            let counts = scrapes.value
            return Self.controllers.allSatisfy { counts[$0.name, default: 0] >= 3 } && app.scrapesServed >= 3
        }
        let expectedFamilies = expositions.mapValues(Self.metricNames)
        var received: [String: [[String: String]]] = [:]
        let arrived = await eventually(timeout: .seconds(20)) {
            for (controller, _) in Self.controllers {
                received[controller] = (try? await hub.series(match: #"{job="flux-system",app="\#(controller)"}"#)) ?? []
            }
            return Self.controllers.allSatisfy { controller in
                expectedFamilies[controller.name]!.isSubset(of: Set(received[controller.name]!.compactMap { $0["__name__"] }))
            }
        }
        let appSeries = try await hub.series(match: #"e2e_counter_total{job="kubernetes-pods"}"#)
        let fluxUnderOtherJobs = try await hub.series(match: #"{__name__=~"gotk_.+|controller_runtime_.+|workqueue_.+",job!="flux-system"}"#)
        let status = await agent.stop()
        for target in targets.values { try await target.stop() }
        try await other.stop()
        try await app.server.stop()
        await hub.stop()

        #expect(status == 0, "\(agent.logTail())")
        #expect(scraped, "scrapes per controller: \(scrapes.value), app \(app.scrapesServed)\n\(agent.logTail())")
        #expect(arrived, "families missing at the hub: \(expectedFamilies.mapValues { $0.count }) expected")
        for (controller, _) in Self.controllers {
            let series = received[controller] ?? []
            let missing = expectedFamilies[controller]!.subtracting(series.compactMap { $0["__name__"] })
            #expect(missing.isEmpty, "\(controller): families not received: \(missing.sorted())")
            let port = targets[controller]!.port
            for labels in series {
                #expect(labels["namespace"] == "flux-system", "\(labels)")
                #expect(labels["pod"] == "\(controller)-6d9f8c7b54-x2k4q", "\(labels)")
                #expect(labels["container"] == "manager", "\(labels)")
                #expect(labels["endpoint"] == "http-prom", "\(labels)")
                #expect(labels["instance"] == "127.0.0.1:\(port)", "\(labels)")
                #expect(labels["cluster"] == "flux-test", "\(labels)")
                #expect(labels.keys.allSatisfy { $0 == "__name__" || !$0.hasPrefix("__") }, "\(labels)")
            }
            // The Flux object's own namespace survives as exported_namespace.
            let ready = series.filter { $0["__name__"] == "gotk_reconcile_condition" && $0["status"] == "True" }
            #expect(!ready.isEmpty && ready.allSatisfy { ["flux-system", "apps"].contains($0["exported_namespace"]) }, "\(ready)")
        }
        #expect(otherRequests.value == 0, "only http-prom is scraped, not the other declared ports")
        #expect(fluxUnderOtherJobs.isEmpty, "Flux scraped twice: \(fluxUnderOtherJobs.prefix(5))")
        #expect(appSeries.count == 1 && appSeries.first?["namespace"] == "shop", "the kubernetes-pods job still scrapes annotated pods: \(appSeries)")
    }
}
