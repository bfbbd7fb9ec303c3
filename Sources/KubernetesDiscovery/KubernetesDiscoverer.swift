import AgentConfig
import Curl
import Foundation
import Logging
import Model

/// Discovers the targets of one `kubernetes_sd_configs` entry: informers (LIST then WATCH) for
/// the objects its role needs, in the configured namespaces, turned into Prometheus's target
/// groups. Changes are batched: after one, it waits `batchInterval` (Prometheus waits 5 s) for the
/// rest of a rollout before it reports the whole set, so a rollout does not restart every loop.
public final class KubernetesDiscoverer: Sendable {
    public let config: KubernetesSDConfig
    private let api: KubernetesAPIConfig
    private let transport: HTTPTransport
    private let batchInterval: Duration
    private let logger: Logger
    private let onEvent: @Sendable (InformerEventKind) -> Void
    private let onFailure: @Sendable (any Error) -> Void

    /// - Parameter transport: Carries every list and watch (shared with the rest of the agent).
    /// - Throws: when the API server cannot be determined (no in-cluster environment, a bad
    ///   kubeconfig).
    public init(
        config: KubernetesSDConfig, transport: HTTPTransport, batchInterval: Duration = .seconds(5), logger: Logger,
        onEvent: @escaping @Sendable (InformerEventKind) -> Void = { _ in },
        onFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) throws {
        self.config = config
        self.api = try KubernetesAPIConfig.resolve(config, httpClient: config.httpClient)
        self.transport = transport
        self.batchInterval = batchInterval
        self.logger = logger
        self.onEvent = onEvent
        self.onFailure = onFailure
    }

    /// The namespaces to watch: `nil` means all.
    private var namespaces: [String?] {
        var names = config.namespaces
        if config.ownNamespace, let own = api.namespace, !names.contains(own) { names.append(own) }
        return names.isEmpty ? [nil] : names
    }

    private func selector(_ role: KubernetesSDConfig.Role) -> (label: String?, field: String?) {
        let matching = config.selectors.filter { $0.role == role }
        func joined(_ parts: [String]) -> String? { parts.isEmpty ? nil : parts.joined(separator: ",") }
        return (joined(matching.compactMap(\.label)), joined(matching.compactMap(\.field)))
    }

    /// Informers for `T` in every namespace (one for all namespaces when `clusterWide`), with the
    /// selectors of `role` unless `selected` is false; each change marks the set dirty.
    private func informers<T: KubernetesResource>(
        _ type: T.Type, role: KubernetesSDConfig.Role, client: KubernetesClient, dirty: AsyncStream<Void>.Continuation,
        clusterWide: Bool = false, selected: Bool = true
    ) -> [Informer<T>] {
        let (label, field) = selected ? selector(role) : (nil, nil)
        return (clusterWide ? [nil] : namespaces).map { namespace in
            Informer<T>(
                client: client, namespace: namespace, labelSelector: label, fieldSelector: field, logger: logger,
                onChange: { _ in dirty.yield() }, onEvent: onEvent,
                onFailure: { [logger, onFailure] error in
                    onFailure(error)
                    logger.warning("kubernetes discovery failed; keeping the last targets", metadata: ["role": "\(role.rawValue)", "error": "\(error)"])
                })
        }
    }

    private static func runner<T>(_ informer: Informer<T>) -> @Sendable () async -> Void {
        { await informer.run() }
    }

    private static func values<T>(_ informers: [Informer<T>]) -> [T] { informers.flatMap { $0.store.values } }

    /// The objects of `informers` by name (nodes, namespaces: cluster-scoped, so names are unique).
    private static func byName<T>(_ informers: [Informer<T>]) -> [String: T] {
        Dictionary(values(informers).map { ($0.metadata.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// `attach_metadata.node`: one cluster-wide Node informer (with the node selectors, as
    /// Prometheus does), or none.
    private func nodeInformers(client: KubernetesClient, dirty: AsyncStream<Void>.Continuation) -> [Informer<Node>] {
        config.attachMetadata.node ? informers(Node.self, role: .node, client: client, dirty: dirty, clusterWide: true) : []
    }

    /// `attach_metadata.namespace`: one cluster-wide Namespace informer (no selectors), or none.
    private func namespaceInformers(client: KubernetesClient, dirty: AsyncStream<Void>.Continuation) -> [Informer<Namespace>] {
        config.attachMetadata.namespace
            ? informers(Namespace.self, role: config.role, client: client, dirty: dirty, clusterWide: true, selected: false) : []
    }

    /// Informers for `T` joined with the services and pods behind it (and nodes and namespaces
    /// for `attach_metadata`): the endpoints and endpointslice roles.
    private func joinedWithServicesAndPods<T: KubernetesResource>(
        _ type: T.Type, role: KubernetesSDConfig.Role, client: KubernetesClient, dirty: AsyncStream<Void>.Continuation,
        build: @escaping @Sendable (T, [KubernetesService], [Pod], [Node], Namespace?) -> DiscoveredGroup
    ) -> (runs: [@Sendable () async -> Void], compute: @Sendable () -> [DiscoveredGroup]) {
        let objects = informers(T.self, role: role, client: client, dirty: dirty)
        let services = informers(KubernetesService.self, role: .service, client: client, dirty: dirty)
        let pods = informers(Pod.self, role: .pod, client: client, dirty: dirty)
        let nodes = nodeInformers(client: client, dirty: dirty)
        let namespaceObjects = namespaceInformers(client: client, dirty: dirty)
        let runs = objects.map(Self.runner) + services.map(Self.runner) + pods.map(Self.runner) + nodes.map(Self.runner)
            + namespaceObjects.map(Self.runner)
        let compute: @Sendable () -> [DiscoveredGroup] = {
            let (allServices, allPods, allNodes) = (Self.values(services), Self.values(pods), Self.values(nodes))
            let namespaceByName = Self.byName(namespaceObjects)
            return Self.values(objects).map { build($0, allServices, allPods, allNodes, namespaceByName[$0.metadata.namespace ?? ""]) }
        }
        return (runs, compute)
    }

    /// Runs until cancelled, calling `onChange` with every target group whenever the set changes.
    public func run(onChange: @escaping @Sendable ([DiscoveredGroup]) async -> Void) async {
        let client = KubernetesClient(config: api, transport: transport)
        let (dirty, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        var runs: [@Sendable () async -> Void] = []
        let compute: @Sendable () -> [DiscoveredGroup]
        switch config.role {
        case .pod:
            let pods = informers(Pod.self, role: .pod, client: client, dirty: continuation)
            let nodes = nodeInformers(client: client, dirty: continuation)
            let namespaceObjects = namespaceInformers(client: client, dirty: continuation)
            runs = pods.map(Self.runner) + nodes.map(Self.runner) + namespaceObjects.map(Self.runner)
            compute = {
                let (nodeByName, namespaceByName) = (Self.byName(nodes), Self.byName(namespaceObjects))
                return Self.values(pods).map {
                    PodRole.groups(
                        for: $0, node: nodeByName[$0.spec?.nodeName ?? ""], namespace: namespaceByName[$0.metadata.namespace ?? ""])
                }
            }
        case .node:
            let nodes = informers(Node.self, role: .node, client: client, dirty: continuation)
            runs = nodes.map(Self.runner)
            compute = { Self.values(nodes).compactMap(NodeRole.groups(for:)) }
        case .service:
            let services = informers(KubernetesService.self, role: .service, client: client, dirty: continuation)
            let namespaceObjects = namespaceInformers(client: client, dirty: continuation)
            runs = services.map(Self.runner) + namespaceObjects.map(Self.runner)
            compute = {
                let namespaceByName = Self.byName(namespaceObjects)
                return Self.values(services).map { ServiceRole.groups(for: $0, namespace: namespaceByName[$0.metadata.namespace ?? ""]) }
            }
        case .ingress:
            let ingresses = informers(Ingress.self, role: .ingress, client: client, dirty: continuation)
            let namespaceObjects = namespaceInformers(client: client, dirty: continuation)
            runs = ingresses.map(Self.runner) + namespaceObjects.map(Self.runner)
            compute = {
                let namespaceByName = Self.byName(namespaceObjects)
                return Self.values(ingresses).map { IngressRole.groups(for: $0, namespace: namespaceByName[$0.metadata.namespace ?? ""]) }
            }
        case .endpoints:
            (runs, compute) = joinedWithServicesAndPods(Endpoints.self, role: .endpoints, client: client, dirty: continuation) {
                EndpointsRole.groups(for: $0, services: $1, pods: $2, nodes: $3, namespace: $4)
            }
        case .endpointslice:
            (runs, compute) = joinedWithServicesAndPods(EndpointSlice.self, role: .endpointslice, client: client, dirty: continuation) {
                EndpointSliceRole.groups(for: $0, services: $1, pods: $2, nodes: $3, namespace: $4)
            }
        }
        let batchInterval = self.batchInterval
        await withDiscardingTaskGroup { group in
            for run in runs { group.addTask { await run() } }
            group.addTask {
                var last: [DiscoveredGroup]?
                for await _ in dirty {
                    // Wait for the rest of a burst (a rollout) before reporting.
                    try? await Task.sleep(for: batchInterval)
                    guard !Task.isCancelled else { return }
                    let groups = compute().sorted { $0.source < $1.source }
                    if groups != last {
                        last = groups
                        await onChange(groups)
                    }
                }
            }
        }
        continuation.finish()
    }
}
