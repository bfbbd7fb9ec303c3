import Model

/// The `pod` role (Prometheus `discovery/kubernetes/pod.go`): one group per pod, one target per
/// declared container port (`podIP:port`), or one target with the bare pod IP for a container
/// that declares no port; init containers included, flagged by `__meta_kubernetes_pod_container_init`.
/// Only `status.podIP` is read: there are no per-family (`podIPs`) labels. The phase filters
/// nothing; a pod without an IP has no targets.
public enum PodRole {
    static let prefix = Meta.prefix + "pod_"
    static let ip = prefix + "ip"
    static let ready = prefix + "ready"
    static let phase = prefix + "phase"
    static let nodeName = prefix + "node_name"
    static let hostIP = prefix + "host_ip"
    static let uid = prefix + "uid"
    static let controllerKind = prefix + "controller_kind"
    static let controllerName = prefix + "controller_name"
    static let containerName = prefix + "container_name"
    static let containerID = prefix + "container_id"
    static let containerImage = prefix + "container_image"
    static let containerInit = prefix + "container_init"
    static let containerPortName = prefix + "container_port_name"
    static let containerPortNumber = prefix + "container_port_number"
    static let containerPortProtocol = prefix + "container_port_protocol"

    /// `pod/<namespace>/<name>`.
    public static func source(namespace: String, name: String) -> String {
        "pod/" + Meta.namespacedName(namespace, name)
    }

    /// The pod's group (Prometheus `buildPod`). A pod without an IP (starting, or evicted) gives
    /// an empty group, which drops any targets reported for it before.
    ///
    /// - Parameters:
    ///   - node: the pod's node (`spec.nodeName`), with `attach_metadata.node`: its labels go on the group.
    ///   - namespace: the pod's namespace object, with `attach_metadata.namespace`: its labels go on the group.
    ///   - attachNodeMetadata: `attach_metadata.node` is on. Then a pod whose node is not known
    ///     (`node` is nil: the node selectors filtered it out, or it is not listed yet) gives an
    ///     empty group, as in Prometheus.
    ///   - controllers: `attach_metadata.deployment`, `.job`, `.cronjob`.
    public static func groups(
        for pod: Pod, node: Node? = nil, namespace namespaceObject: Namespace? = nil, attachNodeMetadata: Bool = false,
        controllers: PodControllers = .none
    ) -> TargetGroup {
        let namespace = pod.metadata.namespace ?? ""
        var group = TargetGroup(source: source(namespace: namespace, name: pod.metadata.name))
        guard let podIP = pod.status?.podIP, !podIP.isEmpty else { return group }
        if attachNodeMetadata && node == nil { return group }

        var labels = podLabels(pod, controllers: controllers)
        labels[Meta.namespace] = namespace
        Meta.addNodeLabels(&labels, node)
        Meta.addNamespaceLabels(&labels, namespaceObject)
        group.labels = labels.labels

        for (container, isInit) in allContainers(pod) {
            let statuses = isInit ? pod.status?.initContainerStatuses : pod.status?.containerStatuses
            let id = statuses?.first { $0.name == container.name }?.containerID ?? ""
            let ports = container.ports ?? []
            if ports.isEmpty {
                // No port: the bare pod IP (an IPv6 one unbracketed, as in Prometheus); the user adds a port by relabeling.
                group.targets.append(
                    [
                        Meta.address: podIP,
                        containerName: container.name,
                        containerID: id,
                        containerImage: container.image ?? "",
                        containerInit: String(isInit),
                    ].labels)
                continue
            }
            for port in ports {
                let number = String(port.containerPort)
                group.targets.append(
                    [
                        Meta.address: Meta.joinHostPort(podIP, number),
                        containerName: container.name,
                        containerID: id,
                        containerImage: container.image ?? "",
                        containerPortNumber: number,
                        containerPortName: port.name ?? "",
                        containerPortProtocol: port.protocol ?? "",
                        containerInit: String(isInit),
                    ].labels)
            }
        }
        return group
    }

    /// The containers, then the init containers, each with its init flag.
    static func allContainers(_ pod: Pod) -> [(Container, isInit: Bool)] {
        (pod.spec?.containers ?? []).map { ($0, false) } + (pod.spec?.initContainers ?? []).map { ($0, true) }
    }

    /// The pod's own labels, without the namespace (Prometheus `podLabels`); the endpoints and
    /// endpointslice roles attach them to targets backed by the pod.
    static func podLabels(_ pod: Pod, controllers: PodControllers) -> LabelMap {
        var labels: LabelMap = [
            ip: pod.status?.podIP ?? "",
            ready: podReady(pod),
            phase: pod.status?.phase ?? "",
            nodeName: pod.spec?.nodeName ?? "",
            hostIP: pod.status?.hostIP ?? "",
            uid: pod.metadata.uid ?? "",
        ]

        Meta.addObjectMetaLabels(&labels, pod.metadata, role: "pod")

        if let controller = PodControllers.controller(of: pod.metadata) {
            if !controller.kind.isEmpty { labels[controllerKind] = controller.kind }
            if !controller.name.isEmpty { labels[controllerName] = controller.name }
            controllers.addLabels(&labels, controller: controller, namespace: pod.metadata.namespace ?? "")
        }
        return labels
    }

    /// The `Ready` condition's status in lower case, `unknown` when there is none.
    static func podReady(_ pod: Pod) -> String {
        for condition in pod.status?.conditions ?? [] where condition.type == "Ready" {
            return Meta.lowercased(condition.status)
        }
        return "unknown"
    }
}
