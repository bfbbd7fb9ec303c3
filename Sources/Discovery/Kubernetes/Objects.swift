// Codable models of the Kubernetes objects service discovery reads: only the fields the
// roles use (see Roles/). Unknown fields are ignored by the decoder; fields the API may
// omit are optionals, so a sparse object decodes and means what Go's zero value means
// ("" for strings, no elements for lists, nil for pointers).

/// A reference to another object (`core/v1.ObjectReference`), as in an endpoint's `targetRef`.
public struct ObjectReference: Codable, Sendable, Equatable {
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?

    public init(kind: String? = nil, name: String? = nil, namespace: String? = nil, uid: String? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

// MARK: - Pod (core/v1)

public struct Pod: KubernetesResource, Equatable {
    public static var clusterPath: String { "/api/v1/pods" }
    public static func namespacedPath(_ namespace: String) -> String { "/api/v1/namespaces/\(namespace)/pods" }

    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?

    public init(metadata: ObjectMeta, spec: PodSpec? = nil, status: PodStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct PodSpec: Codable, Sendable, Equatable {
    public var nodeName: String?
    public var containers: [Container]?
    public var initContainers: [Container]?

    public init(nodeName: String? = nil, containers: [Container]? = nil, initContainers: [Container]? = nil) {
        self.nodeName = nodeName
        self.containers = containers
        self.initContainers = initContainers
    }
}

public struct Container: Codable, Sendable, Equatable {
    public var name: String
    public var image: String?
    public var ports: [ContainerPort]?

    public init(name: String, image: String? = nil, ports: [ContainerPort]? = nil) {
        self.name = name
        self.image = image
        self.ports = ports
    }
}

public struct ContainerPort: Codable, Sendable, Equatable {
    public var name: String?
    public var containerPort: Int
    /// `TCP`, `UDP` or `SCTP`; the API server fills in `TCP` when it is left out.
    public var `protocol`: String?

    public init(name: String? = nil, containerPort: Int, protocol: String? = nil) {
        self.name = name
        self.containerPort = containerPort
        self.protocol = `protocol`
    }
}

public struct PodStatus: Codable, Sendable, Equatable {
    public struct PodIP: Codable, Sendable, Equatable {
        public var ip: String?
        public init(ip: String?) { self.ip = ip }
    }

    public var phase: String?
    public var hostIP: String?
    public var podIP: String?
    public var podIPs: [PodIP]?
    public var conditions: [PodCondition]?
    public var containerStatuses: [ContainerStatus]?
    public var initContainerStatuses: [ContainerStatus]?

    public init(
        phase: String? = nil, hostIP: String? = nil, podIP: String? = nil, podIPs: [PodIP]? = nil,
        conditions: [PodCondition]? = nil, containerStatuses: [ContainerStatus]? = nil,
        initContainerStatuses: [ContainerStatus]? = nil
    ) {
        self.phase = phase
        self.hostIP = hostIP
        self.podIP = podIP
        self.podIPs = podIPs
        self.conditions = conditions
        self.containerStatuses = containerStatuses
        self.initContainerStatuses = initContainerStatuses
    }
}

public struct PodCondition: Codable, Sendable, Equatable {
    /// e.g. `Ready`, `ContainersReady`, `PodScheduled`.
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String

    public init(type: String, status: String) {
        self.type = type
        self.status = status
    }
}

public struct ContainerStatus: Codable, Sendable, Equatable {
    public var name: String
    /// `<runtime>://<id>`, e.g. `containerd://0123abcd…`; absent until the container was created.
    public var containerID: String?

    public init(name: String, containerID: String? = nil) {
        self.name = name
        self.containerID = containerID
    }
}

// MARK: - Node (core/v1)

public struct Node: KubernetesResource, Equatable {
    public static var clusterPath: String { "/api/v1/nodes" }
    /// Nodes are cluster-scoped: the namespace is ignored.
    public static func namespacedPath(_ namespace: String) -> String { clusterPath }

    public var metadata: ObjectMeta
    public var spec: NodeSpec?
    public var status: NodeStatus?

    public init(metadata: ObjectMeta, spec: NodeSpec? = nil, status: NodeStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct NodeSpec: Codable, Sendable, Equatable {
    public var providerID: String?

    public init(providerID: String? = nil) {
        self.providerID = providerID
    }
}

public struct NodeStatus: Codable, Sendable, Equatable {
    public var addresses: [NodeAddress]?
    public var daemonEndpoints: NodeDaemonEndpoints?
    public var conditions: [NodeCondition]?

    public init(addresses: [NodeAddress]? = nil, daemonEndpoints: NodeDaemonEndpoints? = nil, conditions: [NodeCondition]? = nil) {
        self.addresses = addresses
        self.daemonEndpoints = daemonEndpoints
        self.conditions = conditions
    }
}

public struct NodeCondition: Codable, Sendable, Equatable {
    /// e.g. `Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, `NetworkUnavailable`.
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String

    public init(type: String, status: String) {
        self.type = type
        self.status = status
    }
}

public struct NodeAddress: Codable, Sendable, Equatable {
    /// `InternalIP`, `InternalDNS`, `ExternalIP`, `ExternalDNS`, `Hostname` (or the legacy `LegacyHostIP`).
    public var type: String
    public var address: String

    public init(type: String, address: String) {
        self.type = type
        self.address = address
    }
}

public struct NodeDaemonEndpoints: Codable, Sendable, Equatable {
    public struct DaemonEndpoint: Codable, Sendable, Equatable {
        // The API spells this field with a capital P.
        public var port: Int
        enum CodingKeys: String, CodingKey { case port = "Port" }
        public init(port: Int) { self.port = port }
    }

    public var kubeletEndpoint: DaemonEndpoint?

    public init(kubeletEndpoint: DaemonEndpoint? = nil) {
        self.kubeletEndpoint = kubeletEndpoint
    }
}

// MARK: - Namespace (core/v1)

/// A Namespace: discovery reads only its labels and annotations (`attach_metadata.namespace`).
public struct Namespace: KubernetesResource, Equatable {
    public static var clusterPath: String { "/api/v1/namespaces" }
    /// Namespaces are cluster-scoped: the namespace is ignored.
    public static func namespacedPath(_ namespace: String) -> String { clusterPath }

    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) {
        self.metadata = metadata
    }
}

// MARK: - ReplicaSet (apps/v1) and Job (batch/v1)

/// A ReplicaSet: discovery reads only its controller (`attach_metadata.deployment`: the
/// Deployment above a pod's ReplicaSet).
public struct ReplicaSet: KubernetesResource, Equatable {
    public static var clusterPath: String { "/apis/apps/v1/replicasets" }
    public static func namespacedPath(_ namespace: String) -> String { "/apis/apps/v1/namespaces/\(namespace)/replicasets" }

    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) {
        self.metadata = metadata
    }
}

/// A Job: discovery reads only its controller (`attach_metadata.cronjob`: the CronJob above a
/// pod's Job).
public struct Job: KubernetesResource, Equatable {
    public static var clusterPath: String { "/apis/batch/v1/jobs" }
    public static func namespacedPath(_ namespace: String) -> String { "/apis/batch/v1/namespaces/\(namespace)/jobs" }

    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) {
        self.metadata = metadata
    }
}

// MARK: - Service (core/v1)

/// A Service. Named `KubernetesService`, not `Service`, so that it does not clash with
/// ServiceLifecycle's `Service` protocol in modules that import both.
public struct KubernetesService: KubernetesResource, Equatable {
    public static var clusterPath: String { "/api/v1/services" }
    public static func namespacedPath(_ namespace: String) -> String { "/api/v1/namespaces/\(namespace)/services" }

    public var metadata: ObjectMeta
    public var spec: ServiceSpec?
    public var status: ServiceStatus?

    public init(metadata: ObjectMeta, spec: ServiceSpec? = nil, status: ServiceStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct ServiceSpec: Codable, Sendable, Equatable {
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    public var type: String?
    public var clusterIP: String?
    public var externalName: String?
    /// Deprecated by Kubernetes; read only when `status.loadBalancer.ingress` has no IP.
    public var loadBalancerIP: String?
    public var ports: [ServicePort]?
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`; the API server fills it in.
    public var ipFamilyPolicy: String?
    /// `IPv4` and/or `IPv6`, the primary family first; the primary never changes.
    public var ipFamilies: [String]?

    public init(
        type: String? = nil, clusterIP: String? = nil, externalName: String? = nil,
        loadBalancerIP: String? = nil, ports: [ServicePort]? = nil,
        ipFamilyPolicy: String? = nil, ipFamilies: [String]? = nil
    ) {
        self.type = type
        self.clusterIP = clusterIP
        self.externalName = externalName
        self.loadBalancerIP = loadBalancerIP
        self.ports = ports
        self.ipFamilyPolicy = ipFamilyPolicy
        self.ipFamilies = ipFamilies
    }
}

public struct ServiceStatus: Codable, Sendable, Equatable {
    public struct LoadBalancer: Codable, Sendable, Equatable {
        /// One entry per address the load balancer was given: an IP, or a hostname (AWS).
        public struct Ingress: Codable, Sendable, Equatable {
            public var ip: String?
            public var hostname: String?

            public init(ip: String? = nil, hostname: String? = nil) {
                self.ip = ip
                self.hostname = hostname
            }
        }

        public var ingress: [Ingress]?

        public init(ingress: [Ingress]? = nil) {
            self.ingress = ingress
        }
    }

    public var loadBalancer: LoadBalancer?

    public init(loadBalancer: LoadBalancer? = nil) {
        self.loadBalancer = loadBalancer
    }
}

public struct ServicePort: Codable, Sendable, Equatable {
    public var name: String?
    public var port: Int
    public var `protocol`: String?
    public var nodePort: Int?
    public var appProtocol: String?

    public init(name: String? = nil, port: Int, protocol: String? = nil, nodePort: Int? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.nodePort = nodePort
        self.appProtocol = appProtocol
    }
}

// MARK: - Endpoints (core/v1)

public struct Endpoints: KubernetesResource, Equatable {
    public static var clusterPath: String { "/api/v1/endpoints" }
    public static func namespacedPath(_ namespace: String) -> String { "/api/v1/namespaces/\(namespace)/endpoints" }

    public var metadata: ObjectMeta
    public var subsets: [EndpointSubset]?

    public init(metadata: ObjectMeta, subsets: [EndpointSubset]? = nil) {
        self.metadata = metadata
        self.subsets = subsets
    }
}

public struct EndpointSubset: Codable, Sendable, Equatable {
    public var addresses: [EndpointAddress]?
    public var notReadyAddresses: [EndpointAddress]?
    public var ports: [EndpointPort]?

    public init(addresses: [EndpointAddress]? = nil, notReadyAddresses: [EndpointAddress]? = nil, ports: [EndpointPort]? = nil) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }
}

public struct EndpointAddress: Codable, Sendable, Equatable {
    public var ip: String
    public var hostname: String?
    public var nodeName: String?
    public var targetRef: ObjectReference?

    public init(ip: String, hostname: String? = nil, nodeName: String? = nil, targetRef: ObjectReference? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.nodeName = nodeName
        self.targetRef = targetRef
    }
}

/// A port of an `Endpoints` subset (`core/v1.EndpointPort`).
public struct EndpointPort: Codable, Sendable, Equatable {
    public var name: String?
    public var port: Int
    public var `protocol`: String?
    public var appProtocol: String?

    public init(name: String? = nil, port: Int, protocol: String? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }
}

// MARK: - EndpointSlice (discovery.k8s.io/v1)

public struct EndpointSlice: KubernetesResource, Equatable {
    public static var clusterPath: String { "/apis/discovery.k8s.io/v1/endpointslices" }
    public static func namespacedPath(_ namespace: String) -> String {
        "/apis/discovery.k8s.io/v1/namespaces/\(namespace)/endpointslices"
    }

    /// The label naming the Service a slice belongs to.
    public static let serviceNameLabel = "kubernetes.io/service-name"

    public var metadata: ObjectMeta
    /// `IPv4`, `IPv6` or `FQDN`.
    public var addressType: String
    public var endpoints: [SliceEndpoint]?
    public var ports: [SlicePort]?

    public init(metadata: ObjectMeta, addressType: String, endpoints: [SliceEndpoint]? = nil, ports: [SlicePort]? = nil) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }
}

/// One endpoint of an EndpointSlice (`discovery/v1.Endpoint`).
public struct SliceEndpoint: Codable, Sendable, Equatable {
    public struct Conditions: Codable, Sendable, Equatable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }
    }

    public var addresses: [String]
    public var conditions: Conditions?
    public var hostname: String?
    public var nodeName: String?
    public var zone: String?
    public var targetRef: ObjectReference?
    /// Only set by old (v1beta1-era) controllers; still exposed as `…_endpoint_topology_*`.
    public var deprecatedTopology: [String: String]?

    public init(
        addresses: [String], conditions: Conditions? = nil, hostname: String? = nil, nodeName: String? = nil,
        zone: String? = nil, targetRef: ObjectReference? = nil, deprecatedTopology: [String: String]? = nil
    ) {
        self.addresses = addresses
        self.conditions = conditions
        self.hostname = hostname
        self.nodeName = nodeName
        self.zone = zone
        self.targetRef = targetRef
        self.deprecatedTopology = deprecatedTopology
    }
}

/// A port of an EndpointSlice (`discovery/v1.EndpointPort`); every field may be absent.
public struct SlicePort: Codable, Sendable, Equatable {
    public var name: String?
    public var port: Int?
    public var `protocol`: String?
    public var appProtocol: String?

    public init(name: String? = nil, port: Int? = nil, protocol: String? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }
}

// MARK: - Ingress (networking.k8s.io/v1)

public struct Ingress: KubernetesResource, Equatable {
    public static var clusterPath: String { "/apis/networking.k8s.io/v1/ingresses" }
    public static func namespacedPath(_ namespace: String) -> String {
        "/apis/networking.k8s.io/v1/namespaces/\(namespace)/ingresses"
    }

    public var metadata: ObjectMeta
    public var spec: IngressSpec?

    public init(metadata: ObjectMeta, spec: IngressSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct IngressSpec: Codable, Sendable, Equatable {
    public var ingressClassName: String?
    public var tls: [IngressTLS]?
    public var rules: [IngressRule]?

    public init(ingressClassName: String? = nil, tls: [IngressTLS]? = nil, rules: [IngressRule]? = nil) {
        self.ingressClassName = ingressClassName
        self.tls = tls
        self.rules = rules
    }
}

public struct IngressTLS: Codable, Sendable, Equatable {
    public var hosts: [String]?
    public var secretName: String?

    public init(hosts: [String]? = nil, secretName: String? = nil) {
        self.hosts = hosts
        self.secretName = secretName
    }
}

public struct IngressRule: Codable, Sendable, Equatable {
    public struct HTTP: Codable, Sendable, Equatable {
        public var paths: [IngressPath]?
        public init(paths: [IngressPath]? = nil) { self.paths = paths }
    }

    public var host: String?
    public var http: HTTP?

    public init(host: String? = nil, http: HTTP? = nil) {
        self.host = host
        self.http = http
    }
}

public struct IngressPath: Codable, Sendable, Equatable {
    public var path: String?
    public var pathType: String?

    public init(path: String? = nil, pathType: String? = nil) {
        self.path = path
        self.pathType = pathType
    }
}
