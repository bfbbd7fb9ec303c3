/// The kind names discovery uses for each resource: in dependency keys (``KubernetesJoin``) and
/// as the `role` label of `prometheus_sd_kubernetes_events_total`, as Prometheus names them.
extension Pod { public static var kind: String { "pod" } }
extension Node { public static var kind: String { "node" } }
extension Namespace { public static var kind: String { "namespace" } }
extension KubernetesService { public static var kind: String { "service" } }
extension Endpoints { public static var kind: String { "endpoints" } }
extension EndpointSlice { public static var kind: String { "endpointslice" } }
extension Ingress { public static var kind: String { "ingress" } }
extension ReplicaSet { public static var kind: String { "replicaset" } }
extension Job { public static var kind: String { "job" } }
