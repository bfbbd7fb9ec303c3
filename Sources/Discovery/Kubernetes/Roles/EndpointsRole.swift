import Model

/// The `endpoints` role (Prometheus `discovery/kubernetes/endpoints.go`): one target per
/// address and port of each subset (not-ready addresses too, `endpoint_ready="false"`), with the
/// labels of the backing pod and of the container port matching the endpoint port; then one
/// target per container port of each backing pod that no endpoint port covered. The group
/// carries the labels of the Service of the same name, when there is one.
public enum EndpointsRole {
    static let nodeName = Meta.prefix + "endpoint_node_name"
    static let hostname = Meta.prefix + "endpoint_hostname"
    static let ready = Meta.prefix + "endpoint_ready"
    static let portName = Meta.prefix + "endpoint_port_name"
    static let portProtocol = Meta.prefix + "endpoint_port_protocol"
    static let addressTargetKind = Meta.prefix + "endpoint_address_target_kind"
    static let addressTargetName = Meta.prefix + "endpoint_address_target_name"

    /// `endpoints/<namespace>/<name>`.
    public static func source(namespace: String, name: String) -> String {
        "endpoints/" + Meta.namespacedName(namespace, name)
    }

    /// The group of `endpoints`, looking the Service, the pods and the nodes up in the lists given
    /// (objects of other namespaces are ignored). `nodes` (`attach_metadata.node`) and `namespace`
    /// (`attach_metadata.namespace`, the endpoints' namespace object) add their labels.
    public static func groups(
        for endpoints: Endpoints, services: [KubernetesService], pods: [Pod], nodes: [Node] = [], namespace: Namespace? = nil,
        controllers: PodControllers = .none
    ) -> TargetGroup {
        let lookup = ObjectLookup(services: services, pods: pods, nodes: nodes)
        return groups(for: endpoints, service: lookup.service, pod: lookup.pod, node: lookup.node, namespace: namespace,
            controllers: controllers)
    }

    /// The group of `endpoints`, looking objects up by `(namespace, name)` through the closures,
    /// e.g. in a watch cache.
    public static func groups(
        for endpoints: Endpoints,
        service: (_ namespace: String, _ name: String) -> KubernetesService?,
        pod: (_ namespace: String, _ name: String) -> Pod?,
        node: (_ name: String) -> Node? = { _ in nil },
        namespace namespaceObject: Namespace? = nil,
        controllers: PodControllers = .none
    ) -> TargetGroup {
        let namespace = endpoints.metadata.namespace ?? ""
        let name = endpoints.metadata.name

        var groupLabels: LabelMap = [Meta.namespace: namespace]
        if let svc = service(namespace, name) {
            groupLabels.merge(ServiceRole.serviceLabels(svc))
        }
        Meta.addObjectMetaLabels(&groupLabels, endpoints.metadata, role: "endpoints")
        Meta.addNamespaceLabels(&groupLabels, namespaceObject)

        var targets: [Labels] = []
        var bases: [Labels] = []
        var seenPods = SeenPods()

        func add(_ address: EndpointAddress, _ port: EndpointPort, ready isReady: String) {
            var target: LabelMap = [
                Meta.address: Meta.joinHostPort(address.ip, port.port),
                portName: port.name ?? "",
                portProtocol: port.protocol ?? "",
                ready: isReady,
            ]
            if let ref = address.targetRef {
                target[addressTargetKind] = ref.kind ?? ""
                target[addressTargetName] = ref.name ?? ""
            }
            if let node = address.nodeName {
                target[nodeName] = node
            }
            if let host = address.hostname, !host.isEmpty {
                target[hostname] = host
            }
            // attach_metadata.node: the address's node, else the node it refers to.
            if let name = address.nodeName {
                Meta.addNodeLabels(&target, node(name))
            } else if let ref = address.targetRef, ref.kind == "Node" {
                Meta.addNodeLabels(&target, node(ref.name ?? ""))
            }

            guard let backing = resolvePodRef(address.targetRef, pod) else {
                // Not a pod: no pod labels.
                targets.append(target.labels)
                bases.append(.empty)
                return
            }
            let podLabels = seenPods.labels(of: backing, controllers: controllers)
            // The container port matching the endpoint port; the last container wins.
            for (container, isInit) in PodRole.allContainers(backing) {
                for cport in container.ports ?? [] where cport.containerPort == port.port {
                    target[PodRole.containerName] = container.name
                    target[PodRole.containerImage] = container.image ?? ""
                    target[PodRole.containerPortName] = cport.name ?? ""
                    target[PodRole.containerPortNumber] = String(port.port)
                    // As Prometheus does for this role: the endpoint port's protocol.
                    target[PodRole.containerPortProtocol] = port.protocol ?? ""
                    target[PodRole.containerInit] = String(isInit)
                    break
                }
            }
            seenPods.record(backing, port: port.port)
            targets.append(target.labels)
            bases.append(podLabels)
        }

        for subset in endpoints.subsets ?? [] {
            for port in subset.ports ?? [] {
                for address in subset.addresses ?? [] {
                    add(address, port, ready: "true")
                }
                for address in subset.notReadyAddresses ?? [] {
                    add(address, port, ready: "false")
                }
            }
        }

        for (own, base) in seenPods.uncoveredPortTargets(controllers: controllers) {
            targets.append(own)
            bases.append(base)
        }
        return TargetGroup(
            source: source(namespace: namespace, name: name), targets: targets, bases: bases, labels: groupLabels.labels)
    }

    /// The pod an address refers to, if it refers to a pod that is known.
    static func resolvePodRef(_ ref: ObjectReference?, _ pod: (String, String) -> Pod?) -> Pod? {
        guard let ref, ref.kind == "Pod" else { return nil }
        return pod(ref.namespace ?? "", ref.name ?? "")
    }
}

/// Dictionaries over the object lists handed to the endpoints and endpointslice roles.
struct ObjectLookup {
    private var services: [String: KubernetesService] = [:]
    private var pods: [String: Pod] = [:]
    private var nodes: [String: Node] = [:]

    init(services: [KubernetesService], pods: [Pod], nodes: [Node] = []) {
        for node in nodes {
            self.nodes[node.metadata.name] = node
        }
        for svc in services {
            self.services[Meta.namespacedName(svc.metadata.namespace ?? "", svc.metadata.name)] = svc
        }
        for pod in pods {
            self.pods[Meta.namespacedName(pod.metadata.namespace ?? "", pod.metadata.name)] = pod
        }
    }

    func service(_ namespace: String, _ name: String) -> KubernetesService? {
        services[Meta.namespacedName(namespace, name)]
    }

    func pod(_ namespace: String, _ name: String) -> Pod? {
        pods[Meta.namespacedName(namespace, name)]
    }

    func node(_ name: String) -> Node? {
        nodes[name]
    }
}

/// The pods that back endpoint addresses, in the order first seen, with the endpoint ports
/// already turned into targets for each.
struct SeenPods {
    private var order: [String] = []
    private var entries: [String: (pod: Pod, ports: [Int], labels: Labels?)] = [:]

    private static func key(_ pod: Pod) -> String { Meta.namespacedName(pod.metadata.namespace ?? "", pod.metadata.name) }

    mutating func record(_ pod: Pod, port: Int?) {
        let key = Self.key(pod)
        if entries[key] == nil {
            order.append(key)
            entries[key] = (pod, [], nil)
        }
        if let port { entries[key]!.ports.append(port) }
    }

    /// The pod's labels (``PodRole/podLabels(_:controllers:)``), built once per pod of the group
    /// however many endpoints and ports it backs. A target's own labels and the pod's have
    /// distinct names (the pod's are `__meta_kubernetes_pod_*` other than `pod_container_*`), so
    /// a target's own labels and these (its base labels) never overlap.
    mutating func labels(of pod: Pod, controllers: PodControllers) -> Labels {
        record(pod, port: nil)
        let key = Self.key(pod)
        if let labels = entries[key]!.labels { return labels }
        let labels = PodRole.podLabels(pod, controllers: controllers).labels
        entries[key]!.labels = labels
        return labels
    }

    /// One target per container port (init containers included) that no endpoint port covered,
    /// at `podIP:port`, with the pod's labels (`base`, shared); pods without an IP are skipped.
    /// Prometheus visits the pods in Go map order (random); here they come in the order first seen.
    mutating func uncoveredPortTargets(controllers: PodControllers) -> [(own: Labels, base: Labels)] {
        var targets: [(own: Labels, base: Labels)] = []
        for key in order {
            let (pod, covered, _) = entries[key]!
            guard let podIP = pod.status?.podIP, !podIP.isEmpty else { continue }
            for (container, isInit) in PodRole.allContainers(pod) {
                for cport in container.ports ?? [] where !covered.contains(cport.containerPort) {
                    let number = String(cport.containerPort)
                    let target: LabelMap = [
                        Meta.address: Meta.joinHostPort(podIP, number),
                        PodRole.containerName: container.name,
                        PodRole.containerImage: container.image ?? "",
                        PodRole.containerPortName: cport.name ?? "",
                        PodRole.containerPortNumber: number,
                        PodRole.containerPortProtocol: cport.protocol ?? "",
                        PodRole.containerInit: String(isInit),
                    ]
                    targets.append((target.labels, labels(of: pod, controllers: controllers)))
                }
            }
        }
        return targets
    }
}
