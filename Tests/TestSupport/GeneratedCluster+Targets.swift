/// One active scrape target as `/api/v1/targets` shows it: its job, its scrape URL and its labels
/// after relabeling (`job` and `instance` included, no `__` labels).
public struct ScrapeTarget: Hashable, Sendable, CustomStringConvertible {
    public var job: String
    public var url: String
    public var labels: [String: String]

    public init(job: String, url: String, labels: [String: String]) {
        self.job = job
        self.url = url
        self.labels = labels
    }

    public var description: String {
        "\(job) \(url) {" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
    }
}

/// The scrape jobs of the scale test and the targets they must show, derived from the model by
/// the rules written in the jobs, not by the agent's code.
extension GeneratedCluster {
    public static let podJob = "kubernetes-pods"
    public static let endpointSliceJob = "kubernetes-service-endpoints"
    public static let nodeJob = "kubernetes-nodes"
    public static let jobs = [podJob, endpointSliceJob, nodeJob]

    /// The three jobs as `scrape_configs` entries (YAML, indented for a top-level
    /// `scrape_configs:` key), discovering from `apiServer`: the usual `prometheus.io/*` annotation
    /// rules of Prometheus's example configuration for pods and for service endpoints
    /// (EndpointSlices), and the nodes with their labels. ``expectedTargets()`` applies exactly
    /// these rules.
    public static func scrapeConfigs(apiServer: String) -> String {
        """
          - job_name: \(podJob)
            kubernetes_sd_configs:
              - role: pod
                api_server: \(apiServer)
            relabel_configs:
              - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
                action: keep
                regex: "true"
              - source_labels: [__meta_kubernetes_pod_phase]
                action: drop
                regex: Pending|Succeeded|Failed|Completed
              - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
                regex: (.+)
                target_label: __metrics_path__
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
          - job_name: \(endpointSliceJob)
            kubernetes_sd_configs:
              - role: endpointslice
                api_server: \(apiServer)
            relabel_configs:
              - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scrape]
                action: keep
                regex: "true"
              - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_path]
                regex: (.+)
                target_label: __metrics_path__
              - source_labels: [__address__, __meta_kubernetes_service_annotation_prometheus_io_port]
                regex: '([^:]+)(?::\\d+)?;(\\d+)'
                replacement: $1:$2
                target_label: __address__
              - action: labelmap
                regex: __meta_kubernetes_service_label_(.+)
              - source_labels: [__meta_kubernetes_namespace]
                target_label: namespace
              - source_labels: [__meta_kubernetes_service_name]
                target_label: service
              - source_labels: [__meta_kubernetes_pod_node_name]
                target_label: node
          - job_name: \(nodeJob)
            kubernetes_sd_configs:
              - role: node
                api_server: \(apiServer)
            relabel_configs:
              - action: labelmap
                regex: __meta_kubernetes_node_label_(.+)

        """
    }

    /// The active targets the jobs of ``scrapeConfigs(apiServer:)`` must show for the cluster as
    /// it is now. Targets with equal job, URL and labels are one target (as in Prometheus).
    public func expectedTargets() -> Set<ScrapeTarget> {
        var targets = Set<ScrapeTarget>()
        for workload in workloads {
            for pod in workload.pods { targets.formUnion(podTargets(pod, of: workload)) }
            targets.formUnion(endpointSliceTargets(workload))
        }
        for node in nodes {
            var labels = Self.mapped(node.labels)
            labels["job"] = Self.nodeJob
            labels["instance"] = node.name
            targets.insert(ScrapeTarget(job: Self.nodeJob, url: "http://\(node.ip):\(Self.kubeletPort)/metrics", labels: labels))
        }
        return targets
    }

    /// The pod role gives one target per declared container port of a pod with an IP; the rules
    /// keep `prometheus.io/scrape: "true"`, drop finished and pending phases, and take the port and
    /// path from the annotations.
    private func podTargets(_ pod: PodModel, of workload: Workload) -> [ScrapeTarget] {
        guard let ip = pod.ip, workload.podAnnotations["prometheus.io/scrape"] == "true", pod.phase == .running else { return [] }
        var labels = Self.mapped(workload.podLabels)
        labels["namespace"] = workload.namespace
        labels["pod"] = pod.name
        labels["job"] = Self.podJob
        return workload.containers.flatMap(\.ports).map { port in
            target(job: Self.podJob, ip: ip, port: port.number, annotations: workload.podAnnotations, labels: labels)
        }
    }

    /// The endpointslice role gives one target per endpoint address and slice port, then one per
    /// container port of each endpoint's pod that no slice port covers; the rules keep Services
    /// annotated `prometheus.io/scrape: "true"` and take the port and path from the Service's
    /// annotations.
    private func endpointSliceTargets(_ workload: Workload) -> [ScrapeTarget] {
        guard workload.serviceAnnotations["prometheus.io/scrape"] == "true" else { return [] }
        var targets: [ScrapeTarget] = []
        for pod in workload.pods where pod.isReady {
            guard let ip = pod.ip else { continue }
            var labels = Self.mapped(workload.serviceLabels)
            labels["namespace"] = workload.namespace
            labels["service"] = workload.name
            labels["node"] = nodes[pod.node].name
            labels["job"] = Self.endpointSliceJob
            let covered = Set(workload.slicePorts.map(\.number))
            let uncovered = workload.containers.flatMap(\.ports).map(\.number).filter { !covered.contains($0) }
            for port in workload.slicePorts.map(\.number) + uncovered {
                targets.append(target(job: Self.endpointSliceJob, ip: ip, port: port, annotations: workload.serviceAnnotations, labels: labels))
            }
        }
        return targets
    }

    /// `ip:port`, or `ip:<prometheus.io/port>`, at `prometheus.io/path` (default `/metrics`).
    private func target(job: String, ip: String, port: Int, annotations: [String: String], labels: [String: String]) -> ScrapeTarget {
        let address = "\(ip):\(annotations["prometheus.io/port"] ?? String(port))"
        let path = annotations["prometheus.io/path"] ?? "/metrics"
        var labels = labels
        labels["instance"] = address
        return ScrapeTarget(job: job, url: "http://\(address)\(path)", labels: labels)
    }

    /// A `labelmap` of Kubernetes labels: names sanitised to `[a-zA-Z0-9_]`, empty values left out
    /// (an empty label is no label).
    static func mapped(_ labels: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in labels where !value.isEmpty {
            result[String(key.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })] = value
        }
        return result
    }

    /// ``expectedTargets()`` counted by job.
    public static func counts(_ targets: Set<ScrapeTarget>) -> [String: Int] {
        var counts = Dictionary(uniqueKeysWithValues: jobs.map { ($0, 0) })
        for target in targets { counts[target.job, default: 0] += 1 }
        return counts
    }
}
