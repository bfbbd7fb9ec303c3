import AgentConfig
import Curl
import Foundation
import Model
import Relabel
import Testing

/// The Kubernetes deployment in config/kubernetes: its manifests (scripts/check-manifests.py) and
/// the agent configuration its ConfigMap carries, checked by the built agent.
@Suite("Kubernetes manifests")
struct ManifestTests {
    static let kubernetes = Paths.packageRoot.appendingPathComponent("config/kubernetes")
    static let agentConfig = kubernetes.appendingPathComponent("base/agent.yaml")
    static let productionEnvironment = ["CLUSTER_NAME": "production", "HUB_URL": "https://hub.example.com/api/v1/write"]

    /// Runs `executable arguments` with `environment` added to completion (through
    /// /usr/bin/env, which finds `executable` on the PATH).
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(300))
        async throws -> (status: Int32, output: String)
    {
        let run = try await ChildProcess.run(
            "/usr/bin/env", [executable] + arguments, name: "manifests", environment: environment, timeout: timeout)
        #expect(run.status != -1, "\(executable) \(arguments) did not finish: \(run.output)")
        return (run.status, run.output)
    }

    /// A python3 that has PyYAML: the one on PATH, else Debian's (python3-yaml).
    func python() async throws -> String? {
        for candidate in ["python3", "/usr/bin/python3"] {
            if try await run(candidate, ["-c", "import yaml"]).status == 0 { return candidate }
        }
        return nil
    }

    /// The script renders every entry point and every component with kustomize (it fails
    /// without one: scripts/install-deps.sh test installs kubectl) and checks the output.
    @Test func checkManifestsScriptRendersAndPasses() async throws {
        let python = try #require(try await python(), "no python3 with PyYAML (Debian: python3-yaml)")
        let script = Paths.packageRoot.appendingPathComponent("scripts/check-manifests.py").path
        let (status, output) = try await run(python, [script, "--agent", Paths.agentBinary])
        #expect(status == 0, "\(output)")
        for built in [
            "config/kubernetes/base", "config/kubernetes/overlays/production", "config/kubernetes/overlays/staging",
            "config/kubernetes/variants/sharded", "base + config/kubernetes/components/durable-wal",
            "base + config/kubernetes/components/apiserver-proxy",
        ] {
            #expect(output.contains("kustomize \(built): "), "not rendered: \(built)\n\(output)")
            #expect(output.contains("ok    agent config check: \(built) (built)"), "config not checked: \(built)\n\(output)")
        }
        #expect(!output.contains("skip"), "\(output)")
    }

    @Test func baseConfigPassesAgentConfigCheckWithExpandedEnvironment() async throws {
        let (status, output) = try await run(
            Paths.agentBinary, ["config", "check", "--config.expand-env", Self.agentConfig.path], environment: Self.productionEnvironment)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\(Self.agentConfig.path): valid (14 scrape configs, 1 static targets, 1 remote write endpoints)"), "\(output)")
    }

    @Test func expandedConfigCarriesTheClusterAndTheHub() throws {
        let config = try ConfigLoader.load(file: Self.agentConfig.path, expandEnvironment: true, environment: Self.productionEnvironment)
        #expect(config.global.externalLabels["cluster"] == "production")
        #expect(config.remoteWrite.map(\.url) == ["https://hub.example.com/api/v1/write"])
        #expect(
            config.scrapeConfigs.map(\.jobName) == [
                "kubelet", "kubelet-cadvisor", "kubelet-probes",
                "kubelet-apiserver-proxy", "kubelet-cadvisor-apiserver-proxy", "kubelet-probes-apiserver-proxy",
                "apiserver", "node-exporter", "node-exporter-https", "kube-state-metrics", "kube-state-metrics-https",
                "kubernetes-pods", "flux-system", "metrics-agent",
            ])
        #expect(config.scrapeConfigs.map(\.metricsPath).prefix(3) == ["/metrics", "/metrics/cadvisor", "/metrics/probes"])
        let flux = try #require(config.scrapeConfigs.first { $0.jobName == "flux-system" })
        #expect(flux.kubernetesSDConfigs.map(\.namespaces) == [["flux-system"]])
        #expect(config.wal.maxSize == 1 << 30, "WAL_MAX_SIZE unset: the emptyDir's 1GiB")
        let durable = try ConfigLoader.load(
            file: Self.agentConfig.path, expandEnvironment: true, environment: Self.productionEnvironment.merging(["WAL_MAX_SIZE": "4GiB"]) { $1 })
        #expect(durable.wal.maxSize == 4 << 30)
        // Without HUB_URL the file is invalid, so a pod without its environment fails loudly.
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.load(file: Self.agentConfig.path, expandEnvironment: true, environment: [:])
        }
    }

    /// The labels a shipped job gives a target discovered with `discovered` (Prometheus's
    /// order: discovered labels, then the job's defaults, then relabel_configs; `__` labels
    /// other than the address and path then leave), or nil when the job drops it.
    func targetLabels(_ job: ScrapeConfig, _ discovered: [String: String]) -> [String: String]? {
        var labels = discovered
        for (name, value) in ["job": job.jobName, "__scheme__": job.scheme, "__metrics_path__": job.metricsPath] where labels[name] == nil {
            labels[name] = value
        }
        guard let relabeled = Relabeler.process(Labels(labels.map { Label($0.key, $0.value) }), with: job.relabelConfigs) else { return nil }
        var result: [String: String] = [:]
        for label in relabeled.pairs where !label.name.hasPrefix("__") || ["__address__", "__metrics_path__", "__scheme__"].contains(label.name) {
            result[label.name] = label.value
        }
        if result["instance"] == nil { result["instance"] = result["__address__"] }
        return result
    }

    /// A node as `role: node` discovers it.
    static let node: [String: String] = [
        "__address__": "192.0.2.7:10250", "__meta_kubernetes_node_name": "node-7",
        "__meta_kubernetes_node_label_kubernetes_io_hostname": "node-7", "__meta_kubernetes_node_address_InternalIP": "192.0.2.7",
    ]

    /// The kubelet jobs give their targets the labels of kube-prometheus's kubelet
    /// ServiceMonitor (what kubernetes-mixin selects on), directly by default and through the API
    /// server's node proxy with KUBELET_ROUTE=apiserver-proxy, with the same series labels.
    @Test(arguments: ["direct", "apiserver-proxy"])
    func kubeletJobsProduceKubePrometheusLabels(route: String) throws {
        let config = try ConfigLoader.load(
            file: Self.agentConfig.path, expandEnvironment: true,
            environment: Self.productionEnvironment.merging(route == "direct" ? [:] : ["KUBELET_ROUTE": route]) { $1 })
        let kubeletJobs = config.scrapeConfigs.filter { $0.jobName.hasPrefix("kubelet") }
        var byPath: [String: [String: String]] = [:]
        for job in kubeletJobs {
            guard let labels = targetLabels(job, Self.node) else { continue }
            #expect(job.jobName.hasSuffix("apiserver-proxy") == (route == "apiserver-proxy"), "\(job.jobName) active on route \(route)")
            byPath[labels["metrics_path"] ?? "?"] = labels
        }
        #expect(Set(byPath.keys) == ["/metrics", "/metrics/cadvisor", "/metrics/probes"], "\(byPath)")
        for (path, labels) in byPath {
            let visible = labels.filter { !$0.key.hasPrefix("__") }
            #expect(
                visible == [
                    "job": "kubelet", "metrics_path": path, "instance": "192.0.2.7:10250", "node": "node-7",
                    "namespace": "kube-system", "service": "kubelet", "endpoint": "https-metrics",
                ], "\(route) \(path): \(labels)")
            if route == "direct" {
                #expect(labels["__address__"] == "192.0.2.7:10250" && labels["__metrics_path__"] == path)
            } else {
                #expect(labels["__address__"] == "kubernetes.default.svc:443" && labels["__metrics_path__"] == "/api/v1/nodes/node-7/proxy\(path)")
            }
        }
        #expect(kubeletJobs.allSatisfy { $0.honorLabels }, "cAdvisor's own namespace/pod/container must win")
    }

    /// The optional exporters' and the API server's jobs find their Services by kube-prometheus's
    /// and the Helm charts' labels and port names, label targets as kube-prometheus does, and
    /// leave everything else alone (nothing is found where they are not installed).
    @Test func exporterAndAPIServerJobsFollowKubePrometheus() throws {
        let config = try ConfigLoader.load(file: Self.agentConfig.path, expandEnvironment: true, environment: Self.productionEnvironment)
        func endpoint(service: String, app: String?, port: String, namespace: String = "monitoring", pod: String? = nil) -> [String: String] {
            var labels = [
                "__address__": "192.0.2.9:9100", "__meta_kubernetes_namespace": namespace,
                "__meta_kubernetes_service_name": service, "__meta_kubernetes_endpointslice_port_name": port,
                "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name": service,
            ]
            if let app { labels["__meta_kubernetes_service_label_app_kubernetes_io_name"] = app }
            if let pod {
                labels["__meta_kubernetes_pod_name"] = pod
                labels["__meta_kubernetes_pod_node_name"] = "node-9"
                labels["__meta_kubernetes_pod_container_name"] = "exporter"
            }
            return labels
        }
        func active(_ discovered: [String: String]) -> [(job: String, labels: [String: String])] {
            config.scrapeConfigs.filter { $0.kubernetesSDConfigs.first?.role == .endpointslice }.compactMap { job in
                targetLabels(job, discovered).map { (job.jobName, $0) }
            }
        }
        // node-exporter: Helm chart (http-metrics) and kube-prometheus (https behind kube-rbac-proxy).
        let helmNode = active(endpoint(service: "prometheus-node-exporter", app: "prometheus-node-exporter", port: "http-metrics", pod: "ne-abc"))
        #expect(helmNode.map(\.job) == ["node-exporter"])
        #expect(
            helmNode.first?.labels.filter { !$0.key.hasPrefix("__") } == [
                "job": "node-exporter", "instance": "node-9", "namespace": "monitoring", "service": "prometheus-node-exporter",
                "endpoint": "http-metrics", "pod": "ne-abc", "container": "exporter",
            ])
        let kpNode = active(endpoint(service: "node-exporter", app: "node-exporter", port: "https", pod: "ne-def"))
        #expect(kpNode.map(\.job) == ["node-exporter-https"] && kpNode.first?.labels["__scheme__"] == "https")
        #expect(kpNode.first?.labels["job"] == "node-exporter")
        // kube-state-metrics: object metrics without the exporter's own namespace/pod/service/endpoint.
        let ksmMain = active(endpoint(service: "kube-state-metrics", app: "kube-state-metrics", port: "https-main", pod: "ksm-1"))
        #expect(ksmMain.map(\.job) == ["kube-state-metrics-https"])
        #expect(ksmMain.first?.labels.filter { !$0.key.hasPrefix("__") } == ["job": "kube-state-metrics", "instance": "192.0.2.9:9100", "container": "exporter"])
        let ksmSelf = active(endpoint(service: "kube-state-metrics", app: "kube-state-metrics", port: "metrics", pod: "ksm-1"))
        #expect(ksmSelf.map(\.job) == ["kube-state-metrics"] && ksmSelf.first?.labels["namespace"] == "monitoring")
        // The API server: default/kubernetes, port https.
        let apiserver = active(endpoint(service: "kubernetes", app: nil, port: "https", namespace: "default"))
        #expect(apiserver.map(\.job) == ["apiserver"])
        #expect(
            apiserver.first?.labels.filter { !$0.key.hasPrefix("__") } == [
                "job": "apiserver", "instance": "192.0.2.9:9100", "namespace": "default", "service": "kubernetes", "endpoint": "https",
            ])
        // Anything else: no job takes it.
        #expect(active(endpoint(service: "web", app: "web", port: "http", namespace: "shop", pod: "web-1")).isEmpty)
        #expect(active(endpoint(service: "kubernetes", app: nil, port: "https", namespace: "shop")).isEmpty)
    }

    /// agent.yaml's sharding rules (hashmod of __address__ by ${SHARDS}, keep ${SHARD}), run by
    /// real agents: three shards split a set of targets between them, each target to exactly one;
    /// with neither variable set (the Deployment) one agent keeps them all.
    @Test func shardingRulesSplitTargetsAcrossReplicas() async throws {
        let text = try String(contentsOf: Self.agentConfig, encoding: .utf8)
        let start = try #require(text.range(of: "      - source_labels: [__address__]\n        action: hashmod\n"))
        let stop = try #require(text.range(of: "regex: ${SHARD:-0}\n", range: start.upperBound..<text.endIndex))
        let rules = String(text[start.lowerBound..<stop.upperBound])
        let targets = (1...12).map { "127.0.0.\($0):10250" }
        let config = """
            global:
              scrape_interval: 1h
            scrape_configs:
              - job_name: sharded
                static_configs:
                  - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]
                relabel_configs:
            \(rules.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

            """
        let directory = try Paths.temporaryDirectory("manifests-shards")
        defer { Paths.removeUnlessKept(directory) }
        let file = directory.appendingPathComponent("agent.yml")
        try config.write(to: file, atomically: true, encoding: .utf8)

        func activeTargets(shard: Int?) async throws -> Set<String> {
            let port = try freePort()
            let name = shard.map { "agent-\($0)" } ?? "agent-all"
            let agent = try ChildProcess(
                name: name, executable: Paths.agentBinary,
                arguments: [
                    "run", "--config.file=\(file.path)", "--config.expand-env",
                    "--storage.path=\(directory.path)/\(name)", "--web.listen-address=127.0.0.1:\(port)",
                ],
                logDirectory: directory, environment: shard.map { ["SHARDS": "3", "SHARD": "\($0)"] } ?? [:])
            var active: Set<String> = []
            let listed = await eventually(timeout: .seconds(20)) {
                guard
                    let response = try? await TestClient.get("http://127.0.0.1:\(port)/api/v1/targets?state=any", timeout: .seconds(2)),
                    let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                    let data = json["data"] as? [String: Any],
                    let activeList = data["activeTargets"] as? [[String: Any]],
                    let droppedList = data["droppedTargets"] as? [[String: Any]]
                else { return false }
                active = Set(activeList.compactMap { ($0["discoveredLabels"] as? [String: String])?["__address__"] })
                return activeList.count + droppedList.count == targets.count
            }
            let status = await agent.stop()
            #expect(listed, "\(agent.log)")
            #expect(status == 0, "\(agent.log)")
            return active
        }

        #expect(try await activeTargets(shard: nil) == Set(targets))
        var shards: [Set<String>] = []
        for shard in 0..<3 { shards.append(try await activeTargets(shard: shard)) }
        #expect(shards.reduce(Set<String>()) { $0.union($1) } == Set(targets), "\(shards)")
        #expect(shards.map(\.count).reduce(0, +) == targets.count, "a target in two shards: \(shards)")
        #expect(shards.filter { !$0.isEmpty }.count >= 2, "\(shards)")
    }
}
