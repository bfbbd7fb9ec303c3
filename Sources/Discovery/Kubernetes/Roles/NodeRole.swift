import Model

/// The `node` role (Prometheus `discovery/kubernetes/node.go`): one target per node, at the
/// kubelet port of the node's preferred address, with `instance` set to the node name.
public enum NodeRole {
    static let providerID = Meta.prefix + "node_provider_id"
    static let addressPrefix = Meta.prefix + "node_address_"

    /// The address types in the order Prometheus picks `__address__` from.
    public static let addressPriority = ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"]

    /// `node/<name>`.
    public static func source(name: String) -> String {
        "node/" + name
    }

    /// The node's group, or nil when the node has no address of a known type; Prometheus then
    /// logs a warning and sends nothing, leaving what it reported before in place.
    public static func groups(for node: Node) -> TargetGroup? {
        var addressesByType: [String: [String]] = [:]
        for address in node.status?.addresses ?? [] {
            addressesByType[address.type, default: []].append(address.address)
        }
        guard let host = addressPriority.lazy.compactMap({ addressesByType[$0]?.first }).first else {
            return nil
        }

        var labels: LabelMap = [providerID: node.spec?.providerID ?? ""]
        Meta.addObjectMetaLabels(&labels, node.metadata, role: "node")

        let port = node.status?.daemonEndpoints?.kubeletEndpoint?.port ?? 0
        var target: LabelMap = [
            Meta.address: Meta.joinHostPort(host, port),
            Meta.instance: node.metadata.name,
        ]
        for (type, addresses) in addressesByType {
            target[Meta.sanitize(addressPrefix + type)] = addresses[0]
        }
        return TargetGroup(source: source(name: node.metadata.name), targets: [target.labels], labels: labels.labels)
    }
}
