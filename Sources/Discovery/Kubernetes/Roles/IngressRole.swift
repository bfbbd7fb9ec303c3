import Model

/// The `ingress` role (Prometheus `discovery/kubernetes/ingress.go`): one target per path of
/// each rule, at the rule's host, with the scheme `https` when a TLS entry covers the host.
public enum IngressRole {
    static let scheme = Meta.prefix + "ingress_scheme"
    static let host = Meta.prefix + "ingress_host"
    static let path = Meta.prefix + "ingress_path"
    static let className = Meta.prefix + "ingress_class_name"

    /// `ingress/<namespace>/<name>`.
    public static func source(namespace: String, name: String) -> String {
        "ingress/" + Meta.namespacedName(namespace, name)
    }

    /// The ingress's group; `namespace` (with `attach_metadata.namespace`) adds the labels of
    /// the ingress's namespace object to it.
    public static func groups(for ingress: Ingress, namespace namespaceObject: Namespace? = nil) -> TargetGroup {
        let namespace = ingress.metadata.namespace ?? ""
        var labels: LabelMap = [Meta.namespace: namespace]
        if let cls = ingress.spec?.ingressClassName {
            labels[className] = cls
        }
        Meta.addObjectMetaLabels(&labels, ingress.metadata, role: "ingress")
        Meta.addNamespaceLabels(&labels, namespaceObject)
        var group = TargetGroup(source: source(namespace: namespace, name: ingress.metadata.name), labels: labels.labels)

        let tlsHosts = (ingress.spec?.tls ?? []).flatMap { $0.hosts ?? [] }
        for rule in ingress.spec?.rules ?? [] {
            let ruleHost = rule.host ?? ""
            let ruleScheme = tlsHosts.contains { matchesHostnamePattern($0, ruleHost) } ? "https" : "http"
            // No `http` block: the root path; an `http` block: its paths, "" read as "/".
            let paths = rule.http.map { ($0.paths ?? []).map { p in (p.path ?? "").isEmpty ? "/" : p.path! } } ?? ["/"]
            for rulePath in paths {
                group.targets.append(
                    [
                        Meta.address: ruleHost,
                        scheme: ruleScheme,
                        host: ruleHost,
                        path: rulePath,
                    ].labels)
            }
        }
        return group
    }

    /// True when `host` equals `pattern` or matches it as a wildcard (`*.example.com` matches
    /// `a.example.com`, not `example.com` nor `a.b.example.com`).
    static func matchesHostnamePattern(_ pattern: String, _ host: String) -> Bool {
        if pattern == host { return true }
        let patternParts = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let hostParts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard patternParts.first == "*", patternParts.count == hostParts.count else { return false }
        return zip(patternParts, hostParts).dropFirst().allSatisfy { $0 == $1 }
    }
}
