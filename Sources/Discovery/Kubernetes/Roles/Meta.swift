import Model

/// A label set while it is being built, as Go's `model.LabelSet`: assignment replaces, `merge`
/// lets the other set win. Empty values are kept here and dropped by `Labels` at the end, which
/// is what an empty value means to Prometheus anyway.
typealias LabelMap = [String: String]

extension LabelMap {
    mutating func merge(_ other: LabelMap) {
        merge(other) { _, new in new }
    }

    var labels: Labels {
        Labels(map { Label($0.key, $0.value) })
    }
}

/// Label names and helpers shared by the roles (Prometheus `discovery/kubernetes/kubernetes.go`).
enum Meta {
    static let prefix = "__meta_kubernetes_"
    static let namespace = prefix + "namespace"
    static let address = "__address__"
    static let instance = "instance"
    static let present = "true"

    /// Adds `<role>_name` and the object's labels and annotations (Prometheus `addObjectMetaLabels`).
    static func addObjectMetaLabels(_ labels: inout LabelMap, _ meta: ObjectMeta, role: String) {
        labels[prefix + role + "_name"] = meta.name
        addAnnotationsAndLabels(&labels, meta, resource: role)
    }

    /// For each label and annotation, `<resource>_label_<name>`, `<resource>_labelpresent_<name>`,
    /// `<resource>_annotation_<name>`, `<resource>_annotationpresent_<name>`, names sanitised
    /// (Prometheus `addObjectAnnotationsAndLabels`). Keys are visited in sorted order so that two
    /// keys sanitising to the same name resolve the same way every time (Go's map order is random).
    static func addAnnotationsAndLabels(_ labels: inout LabelMap, _ meta: ObjectMeta, resource: String) {
        let resourcePrefix = prefix + resource
        for (key, value) in (meta.labels ?? [:]).sorted(by: { $0.key < $1.key }) {
            let name = sanitize(key)
            labels[resourcePrefix + "_label_" + name] = value
            labels[resourcePrefix + "_labelpresent_" + name] = present
        }
        for (key, value) in (meta.annotations ?? [:]).sorted(by: { $0.key < $1.key }) {
            let name = sanitize(key)
            labels[resourcePrefix + "_annotation_" + name] = value
            labels[resourcePrefix + "_annotationpresent_" + name] = present
        }
    }

    /// `attach_metadata.node` (Prometheus `addNodeLabels`): the node's `node_name` and its labels
    /// and annotations as `node_label_*`, `node_labelpresent_*`, `node_annotation_*`,
    /// `node_annotationpresent_*`, merged over `labels`. Nothing when the node is not known.
    static func addNodeLabels(_ labels: inout LabelMap, _ node: Node?) {
        guard let node else { return }
        var nodeLabels: LabelMap = [:]
        addObjectMetaLabels(&nodeLabels, node.metadata, role: "node")
        labels.merge(nodeLabels)
    }

    /// `attach_metadata.namespace` (Prometheus `addNamespaceLabels`): the namespace's labels and
    /// annotations as `namespace_label_*`, `namespace_labelpresent_*`, `namespace_annotation_*`,
    /// `namespace_annotationpresent_*` (no `namespace_name`: `__meta_kubernetes_namespace` has it),
    /// merged over `labels`. Nothing when the namespace is not known.
    static func addNamespaceLabels(_ labels: inout LabelMap, _ namespace: Namespace?) {
        guard let namespace else { return }
        var namespaceLabels: LabelMap = [:]
        addAnnotationsAndLabels(&namespaceLabels, namespace.metadata, resource: "namespace")
        labels.merge(namespaceLabels)
    }

    /// Replaces every character outside `[a-zA-Z0-9_]` by `_`, one `_` per Unicode scalar
    /// (Prometheus `strutil.SanitizeLabelName`; a leading digit is left alone, as there).
    static func sanitize(_ name: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_": out.append(scalar)
            default: out.append("_")
            }
        }
        return String(out)
    }

    /// Go's `strings.ToLower`: each Unicode scalar by its simple lowercase mapping. That is
    /// `String.lowercased()` except for `İ` (U+0130), the one scalar whose full mapping (Swift's)
    /// has two scalars (`i̇`); its simple mapping (Go's) is `i`.
    static func lowercased(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\u{130}" {
                out.append("i")
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    /// `host:port`, with brackets around a host that contains a colon (Go `net.JoinHostPort`).
    static func joinHostPort(_ host: String, _ port: String) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func joinHostPort(_ host: String, _ port: Int) -> String {
        joinHostPort(host, String(port))
    }

    /// `namespace/name`, the key Prometheus uses for namespaced objects.
    static func namespacedName(_ namespace: String, _ name: String) -> String {
        namespace + "/" + name
    }
}
