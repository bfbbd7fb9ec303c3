import Model

/// The `node` role (Prometheus `discovery/kubernetes/node.go`): one target per node, at the
/// kubelet port of the node's preferred address, with `instance` set to the node name and one
/// `__meta_kubernetes_node_address_<type>` per address type (the first address of that type);
/// the group carries the provider ID, one `__meta_kubernetes_node_condition_<type>` per status
/// condition, and the node's name, labels and annotations.
public enum NodeRole {
    static let providerID = Meta.prefix + "node_provider_id"
    static let conditionPrefix = Meta.prefix + "node_condition_"
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
        // One label per condition, the type lower-cased then sanitised, the status lower-cased
        // (`True` → `true`); a later condition of the same name wins.
        for condition in node.status?.conditions ?? [] {
            labels[conditionPrefix + Meta.sanitize(Meta.lowercased(condition.type))] = Meta.lowercased(condition.status)
        }
        Meta.addObjectMetaLabels(&labels, node.metadata, role: "node")

        let port = node.status?.daemonEndpoints?.kubeletEndpoint?.port ?? 0
        var target: LabelMap = [
            Meta.address: Meta.joinHostPort(host, port),
            Meta.instance: node.metadata.name,
        ]
        // Sorted, so that two types sanitising to the same name resolve the same way every time
        // (Prometheus walks a Go map).
        for (type, addresses) in addressesByType.sorted(by: { $0.key < $1.key }) {
            target[Meta.sanitize(addressPrefix + type)] = addresses[0]
        }
        return TargetGroup(source: source(name: node.metadata.name), targets: [target.labels], labels: labels.labels)
    }
}
