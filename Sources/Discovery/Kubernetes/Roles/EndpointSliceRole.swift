import Model

/// The `endpointslice` role (Prometheus `discovery/kubernetes/endpointslice.go`, discovery.k8s.io/v1):
/// one target per address of each endpoint and each port of the slice, with the labels of the
/// backing pod and of the container port matching the slice port; then one target per container
/// port of each backing pod that no slice port covered. The group carries the labels of the
/// Service named by the slice's `kubernetes.io/service-name` label, when there is one; the
/// secondary slice of a dual-stack Service gives no targets.
public enum EndpointSliceRole {
    static let prefix = Meta.prefix + "endpointslice_"
    static let addressType = prefix + "address_type"
    static let portName = prefix + "port_name"
    static let portProtocol = prefix + "port_protocol"
    static let port = prefix + "port"
    static let portAppProtocol = prefix + "port_app_protocol"
    static let conditionsReady = prefix + "endpoint_conditions_ready"
    static let conditionsServing = prefix + "endpoint_conditions_serving"
    static let conditionsTerminating = prefix + "endpoint_conditions_terminating"
    static let zone = prefix + "endpoint_zone"
    static let hostname = prefix + "endpoint_hostname"
    static let nodeName = prefix + "endpoint_node_name"
    static let addressTargetKind = prefix + "address_target_kind"
    static let addressTargetName = prefix + "address_target_name"
    static let topologyPrefix = prefix + "endpoint_topology_"
    static let topologyPresentPrefix = prefix + "endpoint_topology_present_"

    /// `endpointslice/<namespace>/<name>`.
    public static func source(namespace: String, name: String) -> String {
        "endpointslice/" + Meta.namespacedName(namespace, name)
    }

    /// The group of `slice`, looking the Service, the pods and the nodes up in the lists given.
    /// `nodes` (`attach_metadata.node`) and `namespace` (`attach_metadata.namespace`, the slice's
    /// namespace object) add their labels.
    public static func groups(
        for slice: EndpointSlice, services: [KubernetesService], pods: [Pod], nodes: [Node] = [], namespace: Namespace? = nil,
        controllers: PodControllers = .none
    ) -> TargetGroup {
        let lookup = ObjectLookup(services: services, pods: pods, nodes: nodes)
        return groups(for: slice, service: lookup.service, pod: lookup.pod, node: lookup.node, namespace: namespace,
            controllers: controllers)
    }

    /// The group of `slice`, looking objects up by `(namespace, name)` through the closures.
    public static func groups(
        for slice: EndpointSlice,
        service: (_ namespace: String, _ name: String) -> KubernetesService?,
        pod: (_ namespace: String, _ name: String) -> Pod?,
        node: (_ name: String) -> Node? = { _ in nil },
        namespace namespaceObject: Namespace? = nil,
        controllers: PodControllers = .none
    ) -> TargetGroup {
        let namespace = slice.metadata.namespace ?? ""

        var groupLabels: LabelMap = [Meta.namespace: namespace, addressType: slice.addressType]
        Meta.addObjectMetaLabels(&groupLabels, slice.metadata, role: "endpointslice")
        let svc = slice.metadata.labels?[EndpointSlice.serviceNameLabel].flatMap { service(namespace, $0) }
        if let svc {
            groupLabels.merge(ServiceRole.serviceLabels(svc))
        }
        Meta.addNamespaceLabels(&groupLabels, namespaceObject)
        if isSecondaryFamilySlice(slice, of: svc) {
            // Its targets would repeat the primary slice's: the group keeps its labels, no targets.
            return TargetGroup(source: source(namespace: namespace, name: slice.metadata.name), labels: groupLabels.labels)
        }

        var targets: [Labels] = []
        var bases: [Labels] = []
        var seenPods = SeenPods()

        func add(_ address: String, _ endpoint: SliceEndpoint, _ slicePort: SlicePort) {
            var target: LabelMap = [Meta.address: address]
            if let number = slicePort.port {
                target[Meta.address] = Meta.joinHostPort(address, number)
                target[port] = String(number)
            }
            if let name = slicePort.name { target[portName] = name }
            if let proto = slicePort.protocol { target[portProtocol] = proto }
            if let app = slicePort.appProtocol { target[portAppProtocol] = app }
            if let value = endpoint.conditions?.ready { target[conditionsReady] = String(value) }
            if let value = endpoint.conditions?.serving { target[conditionsServing] = String(value) }
            if let value = endpoint.conditions?.terminating { target[conditionsTerminating] = String(value) }
            if let value = endpoint.hostname { target[hostname] = value }
            if let ref = endpoint.targetRef {
                target[addressTargetKind] = ref.kind ?? ""
                target[addressTargetName] = ref.name ?? ""
            }
            if let value = endpoint.nodeName { target[nodeName] = value }
            if let value = endpoint.zone { target[zone] = value }
            for (key, value) in (endpoint.deprecatedTopology ?? [:]).sorted(by: { $0.key < $1.key }) {
                let name = Meta.sanitize(key)
                target[topologyPrefix + name] = value
                target[topologyPresentPrefix + name] = Meta.present
            }
            // attach_metadata.node: the node the endpoint refers to, else its node name.
            if let ref = endpoint.targetRef, ref.kind == "Node" {
                Meta.addNodeLabels(&target, node(ref.name ?? ""))
            } else if let name = endpoint.nodeName {
                Meta.addNodeLabels(&target, node(name))
            }

            guard let backing = EndpointsRole.resolvePodRef(endpoint.targetRef, pod) else {
                targets.append(target.labels)
                bases.append(.empty)
                return
            }
            let podLabels = seenPods.labels(of: backing, controllers: controllers)
            if let number = slicePort.port {
                // The container port matching the slice port; the last container wins.
                for (container, isInit) in PodRole.allContainers(backing) {
                    for cport in container.ports ?? [] where cport.containerPort == number {
                        target[PodRole.containerName] = container.name
                        target[PodRole.containerImage] = container.image ?? ""
                        target[PodRole.containerPortName] = cport.name ?? ""
                        target[PodRole.containerPortNumber] = String(number)
                        target[PodRole.containerPortProtocol] = cport.protocol ?? ""
                        target[PodRole.containerInit] = String(isInit)
                        break
                    }
                }
            }
            seenPods.record(backing, port: slicePort.port)
            targets.append(target.labels)
            bases.append(podLabels)
        }

        for endpoint in slice.endpoints ?? [] {
            for slicePort in slice.ports ?? [] {
                for address in endpoint.addresses {
                    add(address, endpoint, slicePort)
                }
            }
        }

        for (own, base) in seenPods.uncoveredPortTargets(controllers: controllers) {
            targets.append(own)
            bases.append(base)
        }
        return TargetGroup(
            source: source(namespace: namespace, name: slice.metadata.name), targets: targets, bases: bases, labels: groupLabels.labels)
    }

    /// True when `slice` is the secondary slice of a dual-stack Service (Prometheus
    /// `nonPrimaryIPFamilySlice`): the Service's `ipFamilyPolicy` is `PreferDualStack` or
    /// `RequireDualStack`, it lists IP families, and the slice's address type is not the first
    /// (primary) one. Kubernetes makes one slice per family; only the primary one gives targets.
    static func isSecondaryFamilySlice(_ slice: EndpointSlice, of service: KubernetesService?) -> Bool {
        guard let spec = service?.spec, spec.ipFamilyPolicy == "PreferDualStack" || spec.ipFamilyPolicy == "RequireDualStack",
            let primary = spec.ipFamilies?.first
        else { return false }
        return slice.addressType != primary
    }
}
