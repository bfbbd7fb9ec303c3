/// A `kubernetes_sd_configs` entry, as far as this version reads it.
public struct KubernetesSDConfig: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        case node, pod, service, endpoints, endpointslice, ingress
    }
    public var role: Role
    public var namespaces: [String] = []
    public var ownNamespace = false
    public var apiServer: String?
    public var kubeconfigFile: String?
    /// How to reach `api_server` (TLS, authorization, proxy).
    public var httpClient = HTTPClientConfig()
    /// Label and field selectors per role, as the API server applies them to LIST and WATCH.
    public var selectors: [Selector] = []
    /// `attach_metadata`: labels of the target's node, namespace and pod controllers.
    public var attachMetadata = AttachMetadata()

    /// `attach_metadata`. As in Prometheus, `node`, `deployment`, `job` and `cronjob` only have an
    /// effect for the pod, endpoints and endpointslice roles and `namespace` for the namespaced
    /// roles; elsewhere they are ignored.
    public struct AttachMetadata: Sendable, Equatable {
        /// Adds the `__meta_kubernetes_node_*` labels of the target's node.
        public var node = false
        /// Adds the `__meta_kubernetes_namespace_{label,annotation}*` labels of the target's namespace.
        public var namespace = false
        /// Adds `__meta_kubernetes_pod_deployment_name` (the Deployment above the pod's ReplicaSet).
        public var deployment = false
        /// Adds `__meta_kubernetes_pod_job_name` (the pod's Job).
        public var job = false
        /// Adds `__meta_kubernetes_pod_cronjob_name` (the CronJob above the pod's Job).
        public var cronJob = false

        public init() {}
    }

    /// A `selectors` entry.
    public struct Selector: Sendable, Equatable {
        public var role: Role
        public var label: String?
        public var field: String?

        public init(role: Role, label: String? = nil, field: String? = nil) {
            self.role = role
            self.label = label
            self.field = field
        }
    }

    public init(role: Role) {
        self.role = role
    }
}
