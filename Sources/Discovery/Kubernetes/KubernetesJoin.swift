import AgentConfig

/// The objects one Kubernetes discoverer has seen and the target groups built from them, kept so
/// that a change costs in proportion to what it touches.
///
/// Each group is built from one *primary* object (a pod for `role: pod`, a slice for
/// `role: endpointslice`, …) and the objects its builder looked up (the slice's Service and pods,
/// a node or namespace for `attach_metadata`). Every lookup is recorded, found or not, as a
/// dependency of the group; a change to an object marks the groups that depend on it (and its own
/// group, if it is primary) dirty, and only dirty groups are rebuilt (a ReplicaSet that gains
/// its Deployment rebuilds its pods' groups). Keys are
/// `<kind>/<namespace>/<name>` (`<kind>/<name>` for cluster-scoped objects).
struct KubernetesJoin: Sendable {
    let role: KubernetesSDConfig.Role
    let attach: KubernetesSDConfig.AttachMetadata

    var pods: [String: Pod] = [:]
    var services: [String: KubernetesService] = [:]
    var nodes: [String: Node] = [:]
    var namespaces: [String: Namespace] = [:]
    var endpoints: [String: Endpoints] = [:]
    var slices: [String: EndpointSlice] = [:]
    var ingresses: [String: Ingress] = [:]
    var replicaSets: [String: ReplicaSet] = [:]
    var jobs: [String: Job] = [:]

    /// Primary keys whose group must be rebuilt.
    private(set) var dirty: Set<String> = []
    /// Dependency key → the primary keys whose last build looked it up.
    private var dependents: [String: Set<String>] = [:]
    /// Primary key → the dependency keys its last build looked up.
    private var dependencies: [String: [String]] = [:]
    /// Primary key → the source of the group last reported for it (to report it gone).
    private var reported: [String: String] = [:]
    /// Keys changed since the last ``takeDirty()``: a group built from a snapshot taken before such
    /// a change, which depends on it, is built again.
    private var changedSinceTake: Set<String> = []

    init(config: KubernetesSDConfig) {
        role = config.role
        attach = config.attachMetadata
    }

    static func key(_ kind: String, _ storeKey: String) -> String { kind + "/" + storeKey }

    /// The primary kind of the role.
    var primaryKind: String {
        switch role {
        case .pod: Pod.kind
        case .node: Node.kind
        case .service: KubernetesService.kind
        case .ingress: Ingress.kind
        case .endpoints: Endpoints.kind
        case .endpointslice: EndpointSlice.kind
        }
    }

    // MARK: Changes

    /// Applies an informer's changes to the objects of `Object`'s kind and marks what they touch.
    mutating func apply<Object: KubernetesResource>(_ changes: [InformerChange<Object>]) {
        for change in changes {
            let key = Self.key(Object.kind, change.key)
            let object: Object? = if case .upsert(_, let object) = change { object } else { nil }
            store(object, key: key)
            changedSinceTake.insert(key)
            if Object.kind == primaryKind { dirty.insert(key) }
            if let touched = dependents[key] { dirty.formUnion(touched) }
        }
    }

    /// Stores `object` under `key` (removes the key when nil) in the map of its kind.
    private mutating func store<Object: KubernetesResource>(_ object: Object?, key: String) {
        switch Object.kind {
        case Pod.kind: pods[key] = object as? Pod
        case KubernetesService.kind: services[key] = object as? KubernetesService
        case Node.kind: nodes[key] = object as? Node
        case Namespace.kind: namespaces[key] = object as? Namespace
        case Endpoints.kind: endpoints[key] = object as? Endpoints
        case EndpointSlice.kind: slices[key] = object as? EndpointSlice
        case Ingress.kind: ingresses[key] = object as? Ingress
        case ReplicaSet.kind: replicaSets[key] = object as? ReplicaSet
        case Job.kind: jobs[key] = object as? Job
        default: break
        }
    }

    /// Marks every primary object dirty (the first report after all informers listed).
    mutating func markAllDirty() {
        switch role {
        case .pod: dirty.formUnion(pods.keys)
        case .node: dirty.formUnion(nodes.keys)
        case .service: dirty.formUnion(services.keys)
        case .ingress: dirty.formUnion(ingresses.keys)
        case .endpoints: dirty.formUnion(endpoints.keys)
        case .endpointslice: dirty.formUnion(slices.keys)
        }
    }

    /// Takes the dirty keys, to be built from a copy of this join (outside the lock that guards it).
    mutating func takeDirty() -> Set<String> {
        defer {
            dirty = []
            changedSinceTake = []
        }
        return dirty
    }

    // MARK: Building

    /// One built group (nil: the primary object is gone) and the keys its build looked up.
    struct Built: Sendable {
        var key: String
        var group: TargetGroup?
        var dependencies: [String]
        /// The object exists but gives no group (a node without an address): what was reported
        /// for it stays, as Prometheus sends nothing then.
        var keepsReported = false
    }

    /// Builds the group of primary `key` from the objects held now.
    func build(_ key: String) -> Built {
        var looked: [String] = []
        /// Looks `storeKey` up among the objects of `T`'s kind, recording the lookup.
        func lookup<T: KubernetesResource>(_ objects: [String: T], _ storeKey: String) -> T? {
            let key = Self.key(T.kind, storeKey)
            looked.append(key)
            return objects[key]
        }
        func node(_ name: String) -> Node? { attach.node ? lookup(nodes, name) : nil }
        func namespace(_ name: String?) -> Namespace? { attach.namespace ? name.flatMap { lookup(namespaces, $0) } : nil }
        func service(_ namespace: String, _ name: String) -> KubernetesService? { lookup(services, namespace + "/" + name) }
        func pod(_ namespace: String, _ name: String) -> Pod? { lookup(pods, namespace + "/" + name) }
        func replicaSet(_ namespace: String, _ name: String) -> ReplicaSet? { lookup(replicaSets, namespace + "/" + name) }
        func job(_ namespace: String, _ name: String) -> Job? { lookup(jobs, namespace + "/" + name) }
        let controllers = PodControllers(
            deployment: attach.deployment, job: attach.job, cronJob: attach.cronJob, replicaSet: replicaSet, job: job)

        let group: TargetGroup?
        switch role {
        case .pod:
            group = pods[key].map { pod in
                PodRole.groups(
                    for: pod, node: node(pod.spec?.nodeName ?? ""), namespace: namespace(pod.metadata.namespace),
                    attachNodeMetadata: attach.node, controllers: controllers)
            }
        case .node:
            if let node = nodes[key] {
                guard let built = NodeRole.groups(for: node) else {
                    return Built(key: key, group: nil, dependencies: [], keepsReported: true)
                }
                group = built
            } else {
                group = nil
            }
        case .service:
            group = services[key].map { ServiceRole.groups(for: $0, namespace: namespace($0.metadata.namespace)) }
        case .ingress:
            group = ingresses[key].map { IngressRole.groups(for: $0, namespace: namespace($0.metadata.namespace)) }
        case .endpoints:
            group = endpoints[key].map {
                EndpointsRole.groups(
                    for: $0, service: service, pod: pod, node: node, namespace: namespace($0.metadata.namespace),
                    controllers: controllers)
            }
        case .endpointslice:
            group = slices[key].map {
                EndpointSliceRole.groups(
                    for: $0, service: service, pod: pod, node: node, namespace: namespace($0.metadata.namespace),
                    controllers: controllers)
            }
        }
        return Built(key: key, group: group, dependencies: looked)
    }

    /// Records builds made from a copy of this join and returns the groups to report: the built
    /// ones, and an empty group for each primary object that is gone. A build that looked up a key
    /// changed since its copy was taken is marked dirty again.
    mutating func record(_ builds: [Built]) -> [TargetGroup] {
        var groups: [TargetGroup] = []
        groups.reserveCapacity(builds.count)
        for build in builds where !build.keepsReported {
            for old in dependencies[build.key] ?? [] {
                dependents[old]?.remove(build.key)
                if dependents[old]?.isEmpty == true { dependents[old] = nil }
            }
            if let group = build.group {
                dependencies[build.key] = build.dependencies.isEmpty ? nil : build.dependencies
                for dependency in build.dependencies { dependents[dependency, default: []].insert(build.key) }
                reported[build.key] = group.source
                groups.append(group)
            } else {
                dependencies[build.key] = nil
                if let source = reported.removeValue(forKey: build.key) { groups.append(TargetGroup(source: source)) }
            }
            if changedSinceTake.contains(build.key) || build.dependencies.contains(where: changedSinceTake.contains) {
                dirty.insert(build.key)
            }
        }
        return groups
    }
}
