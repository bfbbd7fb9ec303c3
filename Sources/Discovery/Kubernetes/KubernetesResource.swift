/// Object metadata, the part of every Kubernetes object discovery reads.
public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?

    public init(
        name: String, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil,
        labels: [String: String]? = nil, annotations: [String: String]? = nil, ownerReferences: [OwnerReference]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.labels = labels
        self.annotations = annotations
        self.ownerReferences = ownerReferences
    }
}

public struct OwnerReference: Codable, Sendable, Equatable {
    public var kind: String
    public var name: String
    public var controller: Bool?

    public init(kind: String, name: String, controller: Bool? = nil) {
        self.kind = kind
        self.name = name
        self.controller = controller
    }
}

/// A kind of object discovery lists and watches.
public protocol KubernetesResource: Codable, Sendable {
    /// The collection's path for all namespaces, e.g. `/api/v1/pods` or
    /// `/apis/discovery.k8s.io/v1/endpointslices`.
    static var clusterPath: String { get }
    /// The collection's path in one namespace, e.g. `/api/v1/namespaces/NS/pods`.
    static func namespacedPath(_ namespace: String) -> String
    /// The resource's role name in Prometheus's terms (`pod`, `endpointslice`, …).
    static var kind: String { get }
    var metadata: ObjectMeta { get }
}

/// A List response: `metadata.resourceVersion` and the items.
///
/// ``KubernetesClient/list(_:namespace:labelSelector:fieldSelector:)`` returns the items of
/// every page in one list, with no `continue`.
public struct KubernetesList<Item: KubernetesResource>: Codable, Sendable {
    public struct ListMeta: Codable, Sendable {
        public var resourceVersion: String?
        /// The token for the next page of a paged (`limit`) list; absent on the last page.
        public var `continue`: String?
        /// How many items follow this page, when the server says (it may not).
        public var remainingItemCount: Int?
    }
    public var metadata: ListMeta
    public var items: [Item]
}
