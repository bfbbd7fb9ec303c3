/// What makes two informers the same: the API server and credentials, the collection, the
/// namespace and the selectors. Discovery runs one informer per distinct key, however many jobs
/// and roles need its objects.
public struct InformerKey: Hashable, Sendable, CustomStringConvertible {
    public var api: KubernetesAPIConfig
    /// The collection's cluster-wide path, e.g. `/api/v1/pods`.
    public var collection: String
    /// One namespace, or `nil` for all (and for cluster-scoped collections).
    public var namespace: String?
    public var labelSelector: String?
    public var fieldSelector: String?

    public init(api: KubernetesAPIConfig, collection: String, namespace: String?, labelSelector: String?, fieldSelector: String?) {
        self.api = api
        self.collection = collection
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(api.server)
        hasher.combine(collection)
        hasher.combine(namespace)
        hasher.combine(labelSelector)
        hasher.combine(fieldSelector)
    }

    public var description: String {
        var text = api.server + collection
        if let namespace { text += " namespace=" + namespace }
        if let labelSelector { text += " labelSelector=" + labelSelector }
        if let fieldSelector { text += " fieldSelector=" + fieldSelector }
        return text
    }
}
