import AgentConfig
import Model
import Synchronization

/// Discovers the targets of one `kubernetes_sd_configs` entry: it subscribes to the shared
/// informers (LIST then WATCH) of the objects its role needs, in the configured namespaces, and
/// reports Prometheus's target groups.
///
/// Nothing is reported until every informer it subscribed to has listed (so an endpointslice's
/// first group already carries its pods' labels); then every group, then only the groups a change
/// touched (``KubernetesJoin``): a pod event rebuilds that pod's group, or the slices that point at
/// it, not the whole job. Bursts are coalesced by the ``DiscoveryManager``.
public final class KubernetesDiscoverer: Discoverer {
    public let config: KubernetesSDConfig
    private let api: KubernetesAPIConfig
    private let informers: SharedInformers

    /// - Throws: when the API server cannot be determined (no in-cluster environment, a bad
    ///   kubeconfig).
    public init(config: KubernetesSDConfig, informers: SharedInformers) throws {
        self.config = config
        self.api = try KubernetesAPIConfig.resolve(config, httpClient: config.httpClient)
        self.informers = informers
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

    /// The informers the role needs: its own objects with its selectors (in every namespace),
    /// Services and pods for the endpoint roles (with those roles' selectors, as Prometheus does),
    /// cluster-wide Nodes (node selectors) and Namespaces, and ReplicaSets and Jobs, for
    /// `attach_metadata`.
    private var needs: [(type: any KubernetesResource.Type, key: InformerKey)] {
        func keys(_ type: any KubernetesResource.Type, role: KubernetesSDConfig.Role?, clusterWide: Bool = false)
            -> [(type: any KubernetesResource.Type, key: InformerKey)]
        {
            let (label, field) = role.map(selector) ?? (nil, nil)
            return (clusterWide ? [nil] : namespaces).map {
                (type, InformerKey(api: api, collection: type.clusterPath, namespace: $0, labelSelector: label, fieldSelector: field))
            }
        }
        var needs: [(type: any KubernetesResource.Type, key: InformerKey)]
        switch config.role {
        case .pod: needs = keys(Pod.self, role: .pod)
        case .node: needs = keys(Node.self, role: .node, clusterWide: true)
        case .service: needs = keys(KubernetesService.self, role: .service)
        case .ingress: needs = keys(Ingress.self, role: .ingress)
        case .endpoints:
            needs = keys(Endpoints.self, role: .endpoints) + keys(KubernetesService.self, role: .service) + keys(Pod.self, role: .pod)
        case .endpointslice:
            needs = keys(EndpointSlice.self, role: .endpointslice) + keys(KubernetesService.self, role: .service)
                + keys(Pod.self, role: .pod)
        }
        let podRoles: [KubernetesSDConfig.Role] = [.pod, .endpoints, .endpointslice]
        if config.attachMetadata.node, podRoles.contains(config.role) {
            needs += keys(Node.self, role: .node, clusterWide: true)
        }
        // The controllers above a pod, in the watched namespaces, without selectors (as Prometheus).
        if config.attachMetadata.deployment, podRoles.contains(config.role) {
            needs += keys(ReplicaSet.self, role: nil)
        }
        if config.attachMetadata.job || config.attachMetadata.cronJob, podRoles.contains(config.role) {
            needs += keys(Job.self, role: nil)
        }
        if config.attachMetadata.namespace {
            needs += keys(Namespace.self, role: nil, clusterWide: true)
        }
        return needs
    }

    public func run(send: @escaping @Sendable ([TargetGroup]) async -> Void) async {
        let join = SharedJoin(KubernetesJoin(config: config))
        let (wake, wakeSink) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let needs = self.needs
        let unsynced = Mutex(Set(needs.indices))
        var subscriptions: [InformerSubscription] = []
        for (index, need) in needs.enumerated() {
            subscriptions.append(subscribe(need.type, key: need.key, join: join) {
                unsynced.withLock { _ = $0.remove(index) }
                wakeSink.yield()
            })
        }
        defer { subscriptions.forEach { $0.cancel() } }

        var synced = false
        for await _ in wake {
            if !synced {
                guard unsynced.withLock({ $0.isEmpty }) else { continue }
                synced = true
                join.state.withLock { $0.markAllDirty() }
            }
            // Build from a copy, so informers are not held up while groups are built.
            let (snapshot, keys) = join.state.withLock { join -> (KubernetesJoin, Set<String>) in
                let keys = join.takeDirty()
                return (join, keys)
            }
            guard !keys.isEmpty else { continue }
            var builds: [KubernetesJoin.Built] = []
            builds.reserveCapacity(keys.count)
            for key in keys.sorted() {
                builds.append(snapshot.build(key))
                if builds.count % 512 == 0 { await Task.yield() }
            }
            let (groups, again) = join.state.withLock { join in
                let groups = join.record(builds)
                return (groups, !join.dirty.isEmpty)
            }
            if again { wakeSink.yield() }
            if !groups.isEmpty, !Task.isCancelled { await send(groups) }
        }
    }

    /// Subscribes to `key`: each batch of changes goes into `join`, then `changed` is called.
    private func subscribe<Object: KubernetesResource>(
        _ type: Object.Type, key: InformerKey, join: SharedJoin, changed: @escaping @Sendable () -> Void
    ) -> InformerSubscription {
        informers.subscribe(Object.self, key: key) { changes in
            join.state.withLock { $0.apply(changes) }
            changed()
        }
    }
}

/// The join of one discoverer, shared with its informers' handlers.
private final class SharedJoin: Sendable {
    let state: Mutex<KubernetesJoin>
    init(_ join: KubernetesJoin) { state = Mutex(join) }
}
