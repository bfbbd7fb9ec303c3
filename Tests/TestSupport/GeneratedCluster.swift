/// A Kubernetes cluster made up from a seed, for Kubernetes discovery at scale: namespaces, nodes,
/// Deployments whose pods have realistic specs (about 7 KB of JSON each: labels, annotations
/// with `prometheus.io/*`, 1–3 containers with ports, env, resources, probes, volumes, status with
/// conditions and `podIPs`, managed fields), and for each Deployment a Service with one
/// EndpointSlice (`discovery.k8s.io/v1`) whose endpoints point at the ready pods.
///
/// The cluster is a model of plain values; ``load(into:)`` writes it to a
/// ``FakeKubernetesAPIServer`` and ``churn(_:)`` changes both (a pod deleted, a replacement added,
/// the Deployment's EndpointSlice updated each time). ``expectedTargets()`` derives, from this
/// model alone and independently of the agent's code, the scrape targets that the jobs of
/// ``scrapeConfigs(apiServer:)`` must show (GeneratedCluster+Targets.swift).
///
/// Every address is on the loopback network (pods `127.16.0.0`–`127.31.255.255`, nodes
/// `127.254.0.0/16`, services `127.96.0.0/16`) and every port is one nothing here listens on, so
/// the scrapes the agents attempt end at once with "connection refused" and never leave the
/// machine.
///
/// Invariants: pod names and IPs are never reused; a pod with an IP is `Running` (and then ready,
/// and an endpoint of its Deployment's slice) or `Succeeded` (not ready, no endpoint); a `Pending`
/// pod has no IP. Replica counts stay constant under churn (a delete is followed by an add to
/// the same Deployment).
public struct GeneratedCluster {
    /// How big the cluster is.
    public struct Shape: Sendable {
        public var namespaces: Int
        public var nodes: Int
        /// Deployments, each with one Service and one EndpointSlice.
        public var services: Int
        public var pods: Int

        public init(namespaces: Int, nodes: Int, services: Int, pods: Int) {
            // Two pods per Deployment on average, so that churn always finds one to delete.
            precondition(namespaces > 0 && nodes > 0 && services >= namespaces && pods >= 2 * services)
            self.namespaces = namespaces
            self.nodes = nodes
            self.services = services
            self.pods = pods
        }

        /// Issue 13's cluster: 10,000 pods, 50 namespaces, 2,000 services, 200 nodes.
        public static let issue13 = Shape(namespaces: 50, nodes: 200, services: 2_000, pods: 10_000)
    }

    struct Port: Sendable, Hashable {
        var name: String
        var number: Int
        var `protocol` = "TCP"
    }

    struct Container: Sendable {
        var name: String
        var image: String
        var ports: [Port]
        var env: [(name: String, value: String)]
        var cpuRequest: String
        var memoryRequest: String
        var memoryLimit: String
    }

    struct NodeModel: Sendable {
        var name: String
        var ip: String
        var zone: String
        var instanceType: String
        var labels: [String: String]
    }

    enum Phase: String, Sendable {
        case pending = "Pending", running = "Running", succeeded = "Succeeded"
    }

    struct PodModel: Sendable {
        var name: String
        var uid: String
        /// `nil` while `Pending`.
        var ip: String?
        var node: Int
        var phase: Phase
        var containerIDs: [String]
        /// Ready pods are the endpoints of their Deployment's slice.
        var isReady: Bool { phase == .running }
    }

    /// A Deployment with its pods, its Service and its EndpointSlice.
    struct Workload: Sendable {
        var namespace: String
        var name: String
        var templateHash: String
        var podLabels: [String: String]
        var podAnnotations: [String: String]
        var containers: [Container]
        var serviceLabels: [String: String]
        var serviceAnnotations: [String: String]
        var serviceUID: String
        var clusterIP: String
        /// The slice's ports: container ports of the first container (by number).
        var slicePorts: [Port]
        var sliceName: String
        var sliceUID: String
        var pods: [PodModel]
    }

    public let shape: Shape
    let namespaces: [String]
    let nodes: [NodeModel]
    var workloads: [Workload]
    private var random: SeededGenerator
    private var nextPodIndex = 0
    /// The Deployment that lost a pod in the last ``churn(_:)`` and gets the next one.
    private var shortOf: Int?

    /// The ports the containers declare. Nothing on this machine listens on them (the pods'
    /// addresses are loopback ones, so a scrape gets "connection refused" at once).
    enum Ports {
        static let http = Port(name: "http", number: 18_080)
        static let metrics = Port(name: "metrics", number: 19_102)
        static let grpc = Port(name: "grpc", number: 19_090)
        static let envoyAdmin = Port(name: "admin", number: 19_901)
        static let envoyMetrics = Port(name: "http-envoy-prom", number: 25_090)
        static let logMetrics = Port(name: "http-metrics", number: 22_020)
    }

    /// The port of every node's kubelet.
    static let kubeletPort = 10_250

    /// Builds the cluster of `shape` from `seed` (the same seed, the same cluster and churn).
    public init(shape: Shape = .issue13, seed: UInt64 = 13) {
        self.shape = shape
        random = SeededGenerator(seed: seed)
        namespaces = (0..<shape.namespaces).map { index in
            "\(Words.teams[index % Words.teams.count])-\(Words.environments[(index / Words.teams.count) % Words.environments.count])"
                + (index >= Words.teams.count * Words.environments.count ? "-\(index)" : "")
        }
        var nodes: [NodeModel] = []
        for index in 0..<shape.nodes {
            let zone = "eu-west-1" + ["a", "b", "c"][index % 3]
            let type = ["m6i.2xlarge", "m6i.4xlarge", "c6i.4xlarge", "r6i.2xlarge"][index % 4]
            let ip = "127.254.\(index / 250).\(index % 250 + 1)"
            let name = "ip-" + ip.replacingOccurrences(of: ".", with: "-") + ".eu-west-1.compute.internal"
            nodes.append(
                NodeModel(
                    name: name, ip: ip, zone: zone, instanceType: type,
                    labels: [
                        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                        "node.kubernetes.io/instance-type": type, "topology.kubernetes.io/region": "eu-west-1",
                        "topology.kubernetes.io/zone": zone, "node-role.kubernetes.io/worker": "",
                        "nodepool": index % 5 == 0 ? "system" : "general",
                    ]))
        }
        self.nodes = nodes
        workloads = []
        let replicas = Self.replicaCounts(services: shape.services, pods: shape.pods, random: &random)
        for index in 0..<shape.services {
            var workload = makeWorkload(index: index, namespace: namespaces[index % shape.namespaces])
            for _ in 0..<replicas[index] { workload.pods.append(makePod(of: workload, initialPhase: true)) }
            workloads.append(workload)
        }
    }

    /// `services` replica counts between 1 and 3 × the mean, adding up to `pods`.
    private static func replicaCounts(services: Int, pods: Int, random: inout SeededGenerator) -> [Int] {
        let mean = pods / services
        var counts = [Int](repeating: mean, count: services)
        for index in 0..<(pods - mean * services) { counts[index % services] += 1 }
        // Move replicas between Deployments, keeping the sum.
        for _ in 0..<services {
            let from = random.below(services), to = random.below(services)
            let moved = random.below(max(1, mean))
            if from != to, counts[from] - moved >= 1, counts[to] + moved <= 3 * mean {
                counts[from] -= moved
                counts[to] += moved
            }
        }
        return counts
    }

    private mutating func makeWorkload(index: Int, namespace: String) -> Workload {
        let app = Words.apps[index % Words.apps.count]
        let name = "\(app)-\(index / Words.apps.count)"
        let team = namespace.split(separator: "-").first.map(String.init) ?? namespace
        let version = "v1.\(random.below(30)).\(random.below(10))"
        var main = Container(
            name: app, image: "registry.example.com/\(team)/\(app):\(version)", ports: [Ports.http],
            env: [], cpuRequest: "\(100 * (1 + random.below(10)))m", memoryRequest: "\(128 * (1 + random.below(8)))Mi",
            memoryLimit: "\(256 * (1 + random.below(8)))Mi")
        if random.below(2) == 0 { main.ports.append(Ports.metrics) }
        if random.below(5) == 0 { main.ports.append(Ports.grpc) }
        main.env = [
            ("SERVICE_NAME", name), ("LOG_LEVEL", ["info", "debug", "warn"][random.below(3)]),
            ("HTTP_PORT", "\(Ports.http.number)"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4317"),
            ("DATABASE_URL", "postgres://\(app)@\(app)-db.\(namespace):5432/\(app)?sslmode=require"),
            ("CACHE_TTL_SECONDS", "\(60 * (1 + random.below(10)))"), ("FEATURE_FLAGS", "checkout-v2,fast-path,new-ui"),
        ]
        var containers = [main]
        if random.below(10) < 3 {
            containers.append(
                Container(
                    name: "envoy", image: "docker.io/envoyproxy/envoy:v1.28.\(random.below(5))",
                    ports: [Ports.envoyAdmin, Ports.envoyMetrics],
                    env: [("ENVOY_UID", "0"), ("ENVOY_LOG_LEVEL", "info")], cpuRequest: "50m", memoryRequest: "64Mi",
                    memoryLimit: "256Mi"))
        }
        if random.below(10) < 3 {
            containers.append(
                Container(
                    name: "log-shipper", image: "cr.fluentbit.io/fluent/fluent-bit:2.2.\(random.below(3))",
                    ports: [Ports.logMetrics], env: [("FLUENT_OUTPUT", "loki"), ("NAMESPACE", namespace)],
                    cpuRequest: "20m", memoryRequest: "32Mi", memoryLimit: "128Mi"))
        }

        var podAnnotations = [
            "kubectl.kubernetes.io/restartedAt": "2026-11-\(10 + random.below(18))T0\(random.below(10)):1\(random.below(10)):00Z",
            "checksum/config": random.hex(64),
            "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
        ]
        let metricsPort = main.ports.contains(Ports.metrics) ? Ports.metrics : Ports.http
        switch random.below(10) {
        case 0..<6:
            podAnnotations["prometheus.io/scrape"] = "true"
            if random.below(10) < 7 { podAnnotations["prometheus.io/port"] = "\(metricsPort.number)" }
            if random.below(10) < 3 { podAnnotations["prometheus.io/path"] = ["/stats/prometheus", "/metrics", "/internal/metrics"][random.below(3)] }
        case 6: podAnnotations["prometheus.io/scrape"] = "false"
        default: break
        }
        let templateHash = random.alphanumeric(10)
        let podLabels = [
            "app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/instance": name,
            "app.kubernetes.io/version": version, "app.kubernetes.io/component": ["backend", "frontend", "worker"][index % 3],
            "app.kubernetes.io/part-of": team, "app.kubernetes.io/managed-by": "Helm", "pod-template-hash": templateHash,
            "team": team,
        ]

        var serviceAnnotations = ["meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": namespace]
        if random.below(10) < 4 {
            serviceAnnotations["prometheus.io/scrape"] = "true"
            if random.below(2) == 0 { serviceAnnotations["prometheus.io/port"] = "\(metricsPort.number)" }
            if random.below(10) < 2 { serviceAnnotations["prometheus.io/path"] = "/metrics" }
        }
        return Workload(
            namespace: namespace, name: name, templateHash: templateHash, podLabels: podLabels, podAnnotations: podAnnotations,
            containers: containers,
            serviceLabels: [
                "app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/instance": name,
                "app.kubernetes.io/part-of": team, "app.kubernetes.io/managed-by": "Helm",
            ],
            serviceAnnotations: serviceAnnotations, serviceUID: random.uuid(),
            clusterIP: "127.96.\(index / 250).\(index % 250 + 1)",
            slicePorts: main.ports.filter { $0 != Ports.grpc }, sliceName: "\(name)-\(random.alphanumeric(5))",
            sliceUID: random.uuid(), pods: [])
    }

    /// A new pod of `workload`: mostly `Running`; at generation (`initialPhase`) also 1 %
    /// `Pending` (no IP yet) and 1 % `Succeeded`.
    private mutating func makePod(of workload: Workload, initialPhase: Bool) -> PodModel {
        nextPodIndex += 1
        let roll = initialPhase ? random.below(100) : 50
        let phase: Phase = roll == 0 ? .pending : roll == 1 ? .succeeded : .running
        let index = nextPodIndex
        return PodModel(
            name: "\(workload.name)-\(workload.templateHash)-\(random.alphanumeric(5))", uid: random.uuid(),
            ip: phase == .pending ? nil : "127.\(16 + (index >> 16)).\((index >> 8) & 255).\(index & 255)",
            node: random.below(nodes.count), phase: phase,
            containerIDs: workload.containers.map { _ in "containerd://" + random.hex(64) })
    }

    // MARK: Churn

    /// What one ``churn(_:)`` step changed in the API server.
    public struct ChurnStep: Sendable {
        /// `true`: a pod was added; `false`: one was deleted.
        public var added: Bool
        /// EndpointSlices modified (0 or 1).
        public var sliceUpdates: Int
    }

    /// One pod event, alternating: a pod of a random Deployment (with more than one) is deleted;
    /// then a replacement pod (new name, new IP, `Running` and ready) is added to that Deployment.
    /// The Deployment's EndpointSlice is modified after each, when the pod is (or was) an endpoint.
    public mutating func churn(_ api: FakeKubernetesAPIServer) -> ChurnStep {
        if let index = shortOf {
            shortOf = nil
            let pod = makePod(of: workloads[index], initialPhase: false)
            workloads[index].pods.append(pod)
            api.add(path: Self.podsPath, object: podObject(pod, of: workloads[index]))
            api.modify(path: Self.slicesPath, object: sliceObject(workloads[index]))
            return ChurnStep(added: true, sliceUpdates: 1)
        }
        var index = random.below(workloads.count)
        while workloads[index].pods.count < 2 { index = (index + 1) % workloads.count }
        let pod = workloads[index].pods.remove(at: random.below(workloads[index].pods.count))
        shortOf = index
        api.delete(path: Self.podsPath, namespace: workloads[index].namespace, name: pod.name)
        guard pod.isReady else { return ChurnStep(added: false, sliceUpdates: 0) }
        api.modify(path: Self.slicesPath, object: sliceObject(workloads[index]))
        return ChurnStep(added: false, sliceUpdates: 1)
    }

    // MARK: Loading

    static let namespacesPath = "/api/v1/namespaces"
    static let nodesPath = "/api/v1/nodes"
    static let podsPath = "/api/v1/pods"
    static let servicesPath = "/api/v1/services"
    static let slicesPath = "/apis/discovery.k8s.io/v1/endpointslices"

    /// What ``load(into:)`` wrote.
    public struct LoadSummary: Sendable, CustomStringConvertible {
        public var objects: [String: Int] = [:]
        /// The mean size of a pod's JSON, over the first 100 pods (serializing is slow).
        public var averagePodBytes = 0

        public var description: String {
            objects.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }
    }

    /// Adds every namespace, node, pod, Service and EndpointSlice to `api`.
    @discardableResult
    public func load(into api: FakeKubernetesAPIServer) -> LoadSummary {
        var summary = LoadSummary()
        for name in namespaces { api.add(path: Self.namespacesPath, object: namespaceObject(name)) }
        for node in nodes { api.add(path: Self.nodesPath, object: nodeObject(node)) }
        var sampled: [Int] = []
        for workload in workloads {
            for pod in workload.pods {
                let object = podObject(pod, of: workload)
                if sampled.count < 100 { sampled.append(Self.json(object).count) }
                api.add(path: Self.podsPath, object: object)
            }
            api.add(path: Self.servicesPath, object: serviceObject(workload))
            api.add(path: Self.slicesPath, object: sliceObject(workload))
        }
        summary.averagePodBytes = sampled.reduce(0, +) / max(1, sampled.count)
        summary.objects = [
            "namespaces": namespaces.count, "nodes": nodes.count, "pods": podCount, "services": workloads.count,
            "endpointslices": workloads.count,
        ]
        return summary
    }

    /// The pods now in the cluster.
    public var podCount: Int { workloads.reduce(0) { $0 + $1.pods.count } }
}

extension SeededGenerator {
    /// `count` lower-case hex digits.
    mutating func hex(_ count: Int) -> String {
        String((0..<count).map { _ in Array("0123456789abcdef")[below(16)] })
    }

    /// `count` characters as Kubernetes uses in generated names (no vowels).
    mutating func alphanumeric(_ count: Int) -> String {
        String((0..<count).map { _ in Array("bcdfghjklmnpqrstvwxz2456789")[below(27)] })
    }

    /// A random UUID, formatted as Kubernetes uids are.
    mutating func uuid() -> String {
        "\(hex(8))-\(hex(4))-\(hex(4))-\(hex(4))-\(hex(12))"
    }
}

/// Names the generated cluster draws from.
enum Words {
    static let teams = [
        "payments", "checkout", "search", "catalog", "identity", "platform", "data", "growth", "mobile", "ads",
        "billing", "shipping", "inventory", "support", "risk", "ml", "media", "notifications", "partners", "infra",
        "security", "analytics", "pricing", "loyalty", "reviews",
    ]
    static let environments = ["prod", "staging"]
    static let apps = [
        "api-gateway", "orders", "cart", "users", "sessions", "recommendations", "indexer", "thumbnails", "mailer",
        "scheduler", "ledger", "fraud-scorer", "feature-store", "webhooks", "graphql", "auth", "profile", "quotes",
        "stock", "tracking", "invoices", "coupons", "ratings", "exporter", "ingest", "router", "cache-warmer",
        "reporter", "sync", "frontend", "admin", "events", "audit", "search-api", "geo", "translations", "uploads",
        "payouts", "notifier", "catalog-api",
    ]
}
