import Curl
import Foundation
import Testing

/// Kubernetes discovery with the real binary: pods from a fake API server (the real JSON API:
/// LIST, then WATCH), the standard annotation relabel rules, scraped and stored in a real
/// Prometheus hub with their Kubernetes labels.
@Suite("Kubernetes discovery end to end")
struct KubernetesDiscoveryEndToEndTests {
    static func pod(_ name: String, port: Int, scrape: Bool) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": name, "namespace": "shop", "labels": ["app": "web", "pod-template-hash": "5d4f"],
                "annotations": ["prometheus.io/scrape": scrape ? "true" : "false", "prometheus.io/port": "\(port)"],
            ],
            "spec": ["nodeName": "node-1", "containers": [["name": "app", "image": "web:1", "ports": [["name": "http", "containerPort": port]]]]],
            "status": ["phase": "Running", "podIP": "127.0.0.1", "hostIP": "10.0.0.1", "conditions": [["type": "Ready", "status": "True"]]],
        ]
    }

    @Test func annotatedPodsAreDiscoveredScrapedAndFollowedThroughWatchEvents() async throws {
        let directory = try Paths.temporaryDirectory("k8s-sd")
        defer { Paths.removeUnlessKept(directory) }
        let api = try await FakeKubernetesAPIServer(token: "secret-token")
        let first = try await CounterTarget()
        let skipped = try await CounterTarget()
        let later = try await CounterTarget()
        api.add(path: "/api/v1/pods", object: Self.pod("web-1", port: first.server.port, scrape: true))
        api.add(path: "/api/v1/pods", object: Self.pod("web-2", port: skipped.server.port, scrape: false))
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: k8s
            scrape_configs:
              - job_name: kubernetes-pods
                kubernetes_sd_configs:
                  - role: pod
                    api_server: \(api.url)
                    authorization:
                      credentials: secret-token
                relabel_configs:
                  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
                    action: keep
                    regex: "true"
                  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
                    regex: '([^:]+)(?::\\d+)?;(\\d+)'
                    replacement: $1:$2
                    target_label: __address__
                  - action: labelmap
                    regex: __meta_kubernetes_pod_label_(.+)
                  - source_labels: [__meta_kubernetes_namespace]
                    target_label: namespace
                  - source_labels: [__meta_kubernetes_pod_name]
                    target_label: pod
            remote_write:
              - url: \(hub.writeURL)
                queue_config:
                  batch_send_deadline: 500ms
            """)
        let firstScraped = await eventually(timeout: .seconds(20)) { first.scrapesServed >= 2 }
        // A pod added while the agent watches is picked up within the 5 s batch window.
        api.add(path: "/api/v1/pods", object: Self.pod("web-3", port: later.server.port, scrape: true))
        let laterScraped = await eventually(timeout: .seconds(20)) { later.scrapesServed >= 2 }
        try await Task.sleep(for: .seconds(2))
        let metrics = (try? await agent.metrics().text) ?? ""
        let status = await agent.stop()
        for target in [first, skipped, later] { try await target.server.stop() }
        defer { Task { await hub.stop() } }

        #expect(status == 0, "\(agent.log)")
        #expect(firstScraped && laterScraped, "\(agent.log)")
        #expect(skipped.scrapesServed == 0, "a pod without prometheus.io/scrape=true is dropped")
        let series = try await hub.vector(#"e2e_counter_total{cluster="k8s"}"#)
        let byPod = Dictionary(uniqueKeysWithValues: series.map { ($0.labels["pod"] ?? "", $0.labels) })
        #expect(Set(byPod.keys) == ["web-1", "web-3"])
        let labels = try #require(byPod["web-1"])
        #expect(labels["job"] == "kubernetes-pods" && labels["namespace"] == "shop" && labels["app"] == "web")
        #expect(labels["pod_template_hash"] == "5d4f", "labelmap with sanitised names")
        #expect(labels["instance"] == "127.0.0.1:\(first.server.port)")
        #expect(labels.keys.allSatisfy { $0 == "__name__" || !$0.hasPrefix("__") }, "no discovery label leaks: \(labels)")
        #expect(api.requests.contains { $0.isWatch }, "the agent watches after listing")
        #expect(api.requests.allSatisfy { $0.authorization == "Bearer secret-token" })
        #expect(metrics.contains(#"prometheus_sd_kubernetes_events_total{role="pod",event="add"} 3"#), "\(metrics)")
        #expect(metrics.contains(#"prometheus_sd_discovered_targets{config="kubernetes-pods",name="scrape"} 3"#), "\(metrics)")
        #expect(metrics.contains(#"prometheus_target_scrape_pool_targets{scrape_job="kubernetes-pods"} 2"#), "\(metrics)")
    }
}
