import Model

/// The `service` role (Prometheus `discovery/kubernetes/service.go`): one target per service
/// port, at `<name>.<namespace>.svc:<port>`, with the cluster IP (the external name for an
/// `ExternalName` service) and, for a `LoadBalancer` service, its load balancer IPs.
public enum ServiceRole {
    static let portName = Meta.prefix + "service_port_name"
    static let portNumber = Meta.prefix + "service_port_number"
    static let portProtocol = Meta.prefix + "service_port_protocol"
    static let clusterIP = Meta.prefix + "service_cluster_ip"
    static let loadBalancerIP = Meta.prefix + "service_loadbalancer_ip"
    static let externalName = Meta.prefix + "service_external_name"
    static let type = Meta.prefix + "service_type"

    /// `svc/<namespace>/<name>`.
    public static func source(namespace: String, name: String) -> String {
        "svc/" + Meta.namespacedName(namespace, name)
    }

    /// The service's group; `namespace` (with `attach_metadata.namespace`) adds the labels of
    /// the service's namespace object to it.
    public static func groups(for service: KubernetesService, namespace namespaceObject: Namespace? = nil) -> TargetGroup {
        let namespace = service.metadata.namespace ?? ""
        let name = service.metadata.name
        let spec = service.spec
        let serviceType = spec?.type ?? ""
        var groupLabels = serviceLabels(service)
        Meta.addNamespaceLabels(&groupLabels, namespaceObject)
        var group = TargetGroup(source: source(namespace: namespace, name: name), labels: groupLabels.labels)
        for port in spec?.ports ?? [] {
            var target: LabelMap = [
                Meta.address: Meta.joinHostPort("\(name).\(namespace).svc", port.port),
                portName: port.name ?? "",
                portNumber: String(port.port),
                portProtocol: port.protocol ?? "",
                type: serviceType,
            ]
            if serviceType == "ExternalName" {
                target[externalName] = spec?.externalName ?? ""
            } else {
                target[clusterIP] = spec?.clusterIP ?? ""
            }
            if serviceType == "LoadBalancer" {
                target[loadBalancerIP] = loadBalancerIPs(service)
            }
            group.targets.append(target.labels)
        }
        return group
    }

    /// The IPs of `status.loadBalancer.ingress` joined by commas, else the deprecated
    /// `spec.loadBalancerIP` (Prometheus `loadBalancerIPs`); ingress entries with only a hostname are skipped.
    static func loadBalancerIPs(_ service: KubernetesService) -> String {
        let ips = (service.status?.loadBalancer?.ingress ?? []).compactMap(\.ip).filter { !$0.isEmpty }
        return ips.isEmpty ? service.spec?.loadBalancerIP ?? "" : ips.joined(separator: ",")
    }

    /// The namespace, `service_name` and the service's labels and annotations (Prometheus
    /// `serviceLabels`); the endpoints and endpointslice roles attach them to their groups.
    static func serviceLabels(_ service: KubernetesService) -> LabelMap {
        var labels: LabelMap = [Meta.namespace: service.metadata.namespace ?? ""]
        Meta.addObjectMetaLabels(&labels, service.metadata, role: "service")
        return labels
    }
}
