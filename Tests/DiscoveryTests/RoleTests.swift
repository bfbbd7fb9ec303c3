import Model
import Foundation
import Testing

@testable import Discovery

// Expected label sets follow Prometheus's discovery/kubernetes/{pod,node,service,ingress}.go and
// the expectations of its *_test.go files. Labels with an empty value are absent here: `Labels`
// drops them, and to Prometheus an empty label is no label.

/// Decodes `Fixtures/roles/<name>.json`.
func roleFixture<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/roles"),
        "missing fixture roles/\(name).json")
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

/// A label set from several dictionaries, later ones winning.
func labelSet(_ parts: [String: String]...) -> Labels {
    var merged: [String: String] = [:]
    for part in parts { merged.merge(part) { _, new in new } }
    return Labels(merged.map { Label($0.key, $0.value) })
}

/// Compares a group with the expected one target by target, so that a failure names the target.
func expectGroup(_ group: TargetGroup?, _ expected: TargetGroup, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let group else {
        Issue.record("no group, expected \(expected.source)", sourceLocation: sourceLocation)
        return
    }
    #expect(group.source == expected.source, sourceLocation: sourceLocation)
    #expect(group.labels == expected.labels, sourceLocation: sourceLocation)
    #expect(group.targets.count == expected.targets.count, sourceLocation: sourceLocation)
    for (index, (got, want)) in zip(group.allTargetLabels, expected.allTargetLabels).enumerated() {
        #expect(got == want, "target \(index)", sourceLocation: sourceLocation)
    }
}

// MARK: - pod

struct PodCase: Sendable, CustomTestStringConvertible {
    var fixture: String
    var expected: TargetGroup
    var testDescription: String { fixture }
}

@Suite struct PodRoleTests {
    static let sourceControllerID = "containerd://4b1c9e0f2a7d3e5b6c8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
    static let sourceControllerImage = "ghcr.io/fluxcd/source-controller:v1.4.1"

    static func sourceControllerTarget(_ port: String, _ name: String) -> Labels {
        labelSet([
            "__address__": "10.244.0.7:\(port)",
            "__meta_kubernetes_pod_container_name": "manager",
            "__meta_kubernetes_pod_container_id": sourceControllerID,
            "__meta_kubernetes_pod_container_image": sourceControllerImage,
            "__meta_kubernetes_pod_container_port_number": port,
            "__meta_kubernetes_pod_container_port_name": name,
            "__meta_kubernetes_pod_container_port_protocol": "TCP",
            "__meta_kubernetes_pod_container_init": "false",
        ])
    }

    static let checkoutApp = (
        id: "containerd://5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e",
        image: "registry.example.com/shop/checkout:2.3.1"
    )

    static let cases: [PodCase] = [
        PodCase(
            fixture: "pod-source-controller",
            expected: TargetGroup(
                source: "pod/flux-system/source-controller-6ff87cb475-4x5vj",
                targets: [
                    sourceControllerTarget("9090", "http"),
                    sourceControllerTarget("8080", "http-prom"),
                    sourceControllerTarget("9440", "healthz"),
                ],
                labels: labelSet([
                    "__meta_kubernetes_namespace": "flux-system",
                    "__meta_kubernetes_pod_name": "source-controller-6ff87cb475-4x5vj",
                    "__meta_kubernetes_pod_ip": "10.244.0.7",
                    "__meta_kubernetes_pod_ready": "true",
                    "__meta_kubernetes_pod_phase": "Running",
                    "__meta_kubernetes_pod_node_name": "kind-control-plane",
                    "__meta_kubernetes_pod_host_ip": "172.18.0.2",
                    "__meta_kubernetes_pod_uid": "1f0e4d7a-8a3c-4b8e-9a8f-2d2b7c1e5a10",
                    "__meta_kubernetes_pod_label_app": "source-controller",
                    "__meta_kubernetes_pod_labelpresent_app": "true",
                    "__meta_kubernetes_pod_label_pod_template_hash": "6ff87cb475",
                    "__meta_kubernetes_pod_labelpresent_pod_template_hash": "true",
                    "__meta_kubernetes_pod_annotation_prometheus_io_port": "8080",
                    "__meta_kubernetes_pod_annotationpresent_prometheus_io_port": "true",
                    "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
                    "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape": "true",
                    "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
                    "__meta_kubernetes_pod_controller_name": "source-controller-6ff87cb475",
                ])
            )),
        PodCase(
            fixture: "pod-checkout-multi-container",
            expected: TargetGroup(
                source: "pod/shop/checkout-0",
                targets: [
                    labelSet([
                        "__address__": "10.244.1.23:8080",
                        "__meta_kubernetes_pod_container_name": "app",
                        "__meta_kubernetes_pod_container_id": checkoutApp.id,
                        "__meta_kubernetes_pod_container_image": checkoutApp.image,
                        "__meta_kubernetes_pod_container_port_number": "8080",
                        "__meta_kubernetes_pod_container_port_name": "http",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "false",
                    ]),
                    labelSet([
                        "__address__": "10.244.1.23:9102",
                        "__meta_kubernetes_pod_container_name": "app",
                        "__meta_kubernetes_pod_container_id": checkoutApp.id,
                        "__meta_kubernetes_pod_container_image": checkoutApp.image,
                        "__meta_kubernetes_pod_container_port_number": "9102",
                        "__meta_kubernetes_pod_container_port_name": "metrics",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "false",
                    ]),
                    labelSet([
                        "__address__": "10.244.1.23:8125",
                        "__meta_kubernetes_pod_container_name": "app",
                        "__meta_kubernetes_pod_container_id": checkoutApp.id,
                        "__meta_kubernetes_pod_container_image": checkoutApp.image,
                        "__meta_kubernetes_pod_container_port_number": "8125",
                        "__meta_kubernetes_pod_container_port_name": "statsd",
                        "__meta_kubernetes_pod_container_port_protocol": "UDP",
                        "__meta_kubernetes_pod_container_init": "false",
                    ]),
                    // envoy has no container ID yet (image pull back-off): no container_id label.
                    labelSet([
                        "__address__": "10.244.1.23:9901",
                        "__meta_kubernetes_pod_container_name": "envoy",
                        "__meta_kubernetes_pod_container_image": "envoyproxy/envoy:v1.31.2",
                        "__meta_kubernetes_pod_container_port_number": "9901",
                        "__meta_kubernetes_pod_container_port_name": "admin",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "false",
                    ]),
                    // An unnamed port: no port_name label.
                    labelSet([
                        "__address__": "10.244.1.23:15090",
                        "__meta_kubernetes_pod_container_name": "envoy",
                        "__meta_kubernetes_pod_container_image": "envoyproxy/envoy:v1.31.2",
                        "__meta_kubernetes_pod_container_port_number": "15090",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "false",
                    ]),
                    // Init container without ports: the bare pod IP.
                    labelSet([
                        "__address__": "10.244.1.23",
                        "__meta_kubernetes_pod_container_name": "migrate",
                        "__meta_kubernetes_pod_container_id":
                            "containerd://9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
                        "__meta_kubernetes_pod_container_image": "registry.example.com/shop/checkout-migrate:2.3.1",
                        "__meta_kubernetes_pod_container_init": "true",
                    ]),
                    // Sidecar-style init container with a port.
                    labelSet([
                        "__address__": "10.244.1.23:2020",
                        "__meta_kubernetes_pod_container_name": "log-shipper",
                        "__meta_kubernetes_pod_container_id":
                            "containerd://1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b",
                        "__meta_kubernetes_pod_container_image": "fluent/fluent-bit:3.1.9",
                        "__meta_kubernetes_pod_container_port_number": "2020",
                        "__meta_kubernetes_pod_container_port_name": "metrics",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "true",
                    ]),
                ],
                labels: labelSet([
                    "__meta_kubernetes_namespace": "shop",
                    "__meta_kubernetes_pod_name": "checkout-0",
                    "__meta_kubernetes_pod_ip": "10.244.1.23",
                    "__meta_kubernetes_pod_ready": "false",
                    "__meta_kubernetes_pod_phase": "Running",
                    "__meta_kubernetes_pod_node_name": "kind-worker",
                    "__meta_kubernetes_pod_host_ip": "172.18.0.3",
                    "__meta_kubernetes_pod_uid": "7a0c2e4f-6b8d-4f1a-9c3e-5d7f9b1a3c5e",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name": "checkout",
                    "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_version": "2.3.1",
                    "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_version": "true",
                    "__meta_kubernetes_pod_label_statefulset_kubernetes_io_pod_name": "checkout-0",
                    "__meta_kubernetes_pod_labelpresent_statefulset_kubernetes_io_pod_name": "true",
                    "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_default_container": "app",
                    "__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_default_container": "true",
                    "__meta_kubernetes_pod_controller_kind": "StatefulSet",
                    "__meta_kubernetes_pod_controller_name": "checkout",
                ])
            )),
        PodCase(
            fixture: "pod-nightly-report-no-ports",
            expected: TargetGroup(
                source: "pod/batch-jobs/nightly-report-28876320-5xk2p",
                targets: [
                    labelSet([
                        "__address__": "10.244.2.31",
                        "__meta_kubernetes_pod_container_name": "report",
                        "__meta_kubernetes_pod_container_id":
                            "containerd://aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66",
                        "__meta_kubernetes_pod_container_image": "busybox:1.36",
                        "__meta_kubernetes_pod_container_init": "false",
                    ])
                ],
                labels: labelSet([
                    "__meta_kubernetes_namespace": "batch-jobs",
                    "__meta_kubernetes_pod_name": "nightly-report-28876320-5xk2p",
                    "__meta_kubernetes_pod_ip": "10.244.2.31",
                    "__meta_kubernetes_pod_ready": "true",
                    "__meta_kubernetes_pod_phase": "Running",
                    "__meta_kubernetes_pod_node_name": "kind-worker2",
                    "__meta_kubernetes_pod_host_ip": "172.18.0.4",
                    "__meta_kubernetes_pod_uid": "d3c2b1a0-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
                    "__meta_kubernetes_pod_label_batch_kubernetes_io_controller_uid": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
                    "__meta_kubernetes_pod_labelpresent_batch_kubernetes_io_controller_uid": "true",
                    "__meta_kubernetes_pod_label_batch_kubernetes_io_job_name": "nightly-report-28876320",
                    "__meta_kubernetes_pod_labelpresent_batch_kubernetes_io_job_name": "true",
                    "__meta_kubernetes_pod_label_job_name": "nightly-report-28876320",
                    "__meta_kubernetes_pod_labelpresent_job_name": "true",
                    "__meta_kubernetes_pod_controller_kind": "Job",
                    "__meta_kubernetes_pod_controller_name": "nightly-report-28876320",
                ])
            )),
    ]

    @Test(arguments: cases)
    func fixture(_ testCase: PodCase) throws {
        let pod: Pod = try roleFixture(testCase.fixture)
        expectGroup(PodRole.groups(for: pod), testCase.expected)
    }

    @Test func podWithoutIPGivesAnEmptyGroup() {
        let pod = Pod(
            metadata: ObjectMeta(name: "web-0", namespace: "default"),
            spec: PodSpec(containers: [Container(name: "web", ports: [ContainerPort(containerPort: 80)])]),
            status: PodStatus(phase: "Pending"))
        #expect(PodRole.groups(for: pod) == TargetGroup(source: "pod/default/web-0"))
        #expect(PodRole.source(namespace: "default", name: "web-0") == "pod/default/web-0")
    }

    // Prometheus pod_test.go makeMultiPortPods / expectedPodTargetGroups, as far as it goes without
    // node metadata: a pod with no Ready condition is "unknown", a controller-less pod has no
    // controller labels, an owner without `controller: true` is not a controller.
    @Test func prometheusMultiPortPod() {
        let pod = Pod(
            metadata: ObjectMeta(
                name: "testpod", namespace: "default", uid: "abc123",
                labels: ["test/label": "testvalue"], annotations: ["test/annotation": "testannotationvalue"],
                ownerReferences: [OwnerReference(kind: "testcontrollerkind", name: "testcontrollername", controller: true)]),
            spec: PodSpec(
                nodeName: "testnode",
                containers: [
                    Container(
                        name: "testcontainer0", image: "testcontainer0:latest",
                        ports: [
                            ContainerPort(name: "testport0", containerPort: 9000, protocol: "TCP"),
                            ContainerPort(name: "testport1", containerPort: 9001, protocol: "UDP"),
                        ]),
                    Container(name: "testcontainer1", image: "testcontainer1:latest"),
                ]),
            status: PodStatus(
                phase: "Running", hostIP: "2.3.4.5", podIP: "1.2.3.4",
                conditions: [PodCondition(type: "Ready", status: "True")],
                containerStatuses: [
                    ContainerStatus(name: "testcontainer0", containerID: "docker://a1b2c3d4e5f6"),
                    ContainerStatus(name: "testcontainer1", containerID: "containerd://6f5e4d3c2b1a"),
                ]))
        expectGroup(
            PodRole.groups(for: pod),
            TargetGroup(
                source: "pod/default/testpod",
                targets: [
                    labelSet([
                        "__address__": "1.2.3.4:9000",
                        "__meta_kubernetes_pod_container_name": "testcontainer0",
                        "__meta_kubernetes_pod_container_port_name": "testport0",
                        "__meta_kubernetes_pod_container_port_number": "9000",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "false",
                        "__meta_kubernetes_pod_container_image": "testcontainer0:latest",
                        "__meta_kubernetes_pod_container_id": "docker://a1b2c3d4e5f6",
                    ]),
                    labelSet([
                        "__address__": "1.2.3.4:9001",
                        "__meta_kubernetes_pod_container_name": "testcontainer0",
                        "__meta_kubernetes_pod_container_port_name": "testport1",
                        "__meta_kubernetes_pod_container_port_number": "9001",
                        "__meta_kubernetes_pod_container_port_protocol": "UDP",
                        "__meta_kubernetes_pod_container_init": "false",
                        "__meta_kubernetes_pod_container_image": "testcontainer0:latest",
                        "__meta_kubernetes_pod_container_id": "docker://a1b2c3d4e5f6",
                    ]),
                    labelSet([
                        "__address__": "1.2.3.4",
                        "__meta_kubernetes_pod_container_name": "testcontainer1",
                        "__meta_kubernetes_pod_container_init": "false",
                        "__meta_kubernetes_pod_container_image": "testcontainer1:latest",
                        "__meta_kubernetes_pod_container_id": "containerd://6f5e4d3c2b1a",
                    ]),
                ],
                labels: labelSet([
                    "__meta_kubernetes_pod_name": "testpod",
                    "__meta_kubernetes_namespace": "default",
                    "__meta_kubernetes_pod_label_test_label": "testvalue",
                    "__meta_kubernetes_pod_labelpresent_test_label": "true",
                    "__meta_kubernetes_pod_annotation_test_annotation": "testannotationvalue",
                    "__meta_kubernetes_pod_annotationpresent_test_annotation": "true",
                    "__meta_kubernetes_pod_node_name": "testnode",
                    "__meta_kubernetes_pod_ip": "1.2.3.4",
                    "__meta_kubernetes_pod_host_ip": "2.3.4.5",
                    "__meta_kubernetes_pod_ready": "true",
                    "__meta_kubernetes_pod_phase": "Running",
                    "__meta_kubernetes_pod_uid": "abc123",
                    "__meta_kubernetes_pod_controller_kind": "testcontrollerkind",
                    "__meta_kubernetes_pod_controller_name": "testcontrollername",
                ])))
    }

    // Prometheus pod_test.go makeInitContainerPods / TestPodDiscoveryInitContainer: a pending,
    // not-ready pod; the init container without ports gets the bare pod IP and its own ID.
    @Test func prometheusInitContainer() throws {
        let pod: Pod = try roleFixture("pod-prometheus-init-container")
        expectGroup(
            PodRole.groups(for: pod),
            TargetGroup(
                source: "pod/default/testpod",
                targets: [
                    labelSet([
                        "__address__": "1.2.3.4:9000",
                        "__meta_kubernetes_pod_container_name": "testcontainer",
                        "__meta_kubernetes_pod_container_image": "testcontainer:latest",
                        "__meta_kubernetes_pod_container_port_name": "testport",
                        "__meta_kubernetes_pod_container_port_number": "9000",
                        "__meta_kubernetes_pod_container_port_protocol": "TCP",
                        "__meta_kubernetes_pod_container_init": "false",
                        "__meta_kubernetes_pod_container_id": "docker://a1b2c3d4e5f6",
                    ]),
                    labelSet([
                        "__address__": "1.2.3.4",
                        "__meta_kubernetes_pod_container_name": "initcontainer",
                        "__meta_kubernetes_pod_container_image": "initcontainer:latest",
                        "__meta_kubernetes_pod_container_init": "true",
                        "__meta_kubernetes_pod_container_id": "containerd://6f5e4d3c2b1a",
                    ]),
                ],
                labels: labelSet([
                    "__meta_kubernetes_pod_name": "testpod",
                    "__meta_kubernetes_namespace": "default",
                    "__meta_kubernetes_pod_node_name": "testnode",
                    "__meta_kubernetes_pod_ip": "1.2.3.4",
                    "__meta_kubernetes_pod_host_ip": "2.3.4.5",
                    "__meta_kubernetes_pod_ready": "false",
                    "__meta_kubernetes_pod_phase": "Pending",
                    "__meta_kubernetes_pod_uid": "abc123",
                ])))
    }

    @Test func phaseDoesNotFilterPods() throws {
        // Prometheus keeps Succeeded and Failed pods that still have an IP; only the IP decides.
        var pod: Pod = try roleFixture("pod-prometheus-init-container")
        for phase in ["Succeeded", "Failed", "Unknown"] {
            pod.status?.phase = phase
            let group = PodRole.groups(for: pod)
            #expect(group.targets.count == 2)
            #expect(group.labels["__meta_kubernetes_pod_phase"] == phase)
        }
    }

    @Test func readinessAndControllerEdgeCases() {
        var pod = Pod(
            metadata: ObjectMeta(
                name: "p", namespace: "ns",
                ownerReferences: [OwnerReference(kind: "ReplicaSet", name: "rs", controller: false)]),
            spec: PodSpec(containers: [Container(name: "c")]),
            status: PodStatus(podIP: "10.0.0.1"))
        var labels = PodRole.groups(for: pod).labels
        #expect(labels["__meta_kubernetes_pod_ready"] == "unknown")
        #expect(labels["__meta_kubernetes_pod_controller_kind"] == nil)
        #expect(labels["__meta_kubernetes_pod_controller_name"] == nil)

        pod.status?.conditions = [PodCondition(type: "ContainersReady", status: "True"), PodCondition(type: "Ready", status: "Unknown")]
        labels = PodRole.groups(for: pod).labels
        #expect(labels["__meta_kubernetes_pod_ready"] == "unknown")
    }

    // Prometheus has no per-family pod IP labels: `status.podIPs` is not read, and a container
    // without ports gets the bare pod IP, an IPv6 one without brackets.
    @Test func ipv6PodAddressesAsPrometheusWritesThem() {
        let pod = Pod(
            metadata: ObjectMeta(name: "v6", namespace: "ns"),
            spec: PodSpec(containers: [
                Container(name: "noport"),
                Container(name: "web", ports: [ContainerPort(name: "http", containerPort: 8080, protocol: "TCP")]),
            ]),
            status: PodStatus(
                podIP: "fd00:10:244:0:0:0:0:1a",
                podIPs: [.init(ip: "fd00:10:244:0:0:0:0:1a"), .init(ip: "10.1.2.3")]))
        let group = PodRole.groups(for: pod)
        #expect(group.targets.map { $0["__address__"] } == ["fd00:10:244:0:0:0:0:1a", "[fd00:10:244:0:0:0:0:1a]:8080"])
        #expect(group.labels["__meta_kubernetes_pod_ip"] == "fd00:10:244:0:0:0:0:1a")
        #expect(!group.labels.pairs.contains { $0.name.hasPrefix("__meta_kubernetes_pod_ipv") })
    }

    @Test func labelNamesAreSanitisedPerCharacter() {
        #expect(Meta.sanitize("app.kubernetes.io/name") == "app_kubernetes_io_name")
        #expect(Meta.sanitize("ünïcode-ß") == "_n_code__")
        #expect(Meta.sanitize("9lives") == "9lives")
    }
}

// MARK: - node

@Suite struct NodeRoleTests {
    @Test func fixture() throws {
        let node: Node = try roleFixture("node-kind-worker")
        expectGroup(
            NodeRole.groups(for: node),
            TargetGroup(
                source: "node/kind-worker",
                targets: [
                    labelSet([
                        // InternalIP wins over Hostname and ExternalIP, listed before it; the first InternalIP.
                        "__address__": "172.18.0.3:10250",
                        "instance": "kind-worker",
                        "__meta_kubernetes_node_address_InternalIP": "172.18.0.3",
                        "__meta_kubernetes_node_address_ExternalIP": "203.0.113.7",
                        "__meta_kubernetes_node_address_Hostname": "kind-worker",
                    ])
                ],
                labels: labelSet([
                    "__meta_kubernetes_node_name": "kind-worker",
                    "__meta_kubernetes_node_provider_id": "kind://docker/kind/kind-worker",
                    "__meta_kubernetes_node_condition_ready": "true",
                    "__meta_kubernetes_node_label_beta_kubernetes_io_arch": "amd64",
                    "__meta_kubernetes_node_labelpresent_beta_kubernetes_io_arch": "true",
                    "__meta_kubernetes_node_label_kubernetes_io_hostname": "kind-worker",
                    "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname": "true",
                    "__meta_kubernetes_node_label_kubernetes_io_os": "linux",
                    "__meta_kubernetes_node_labelpresent_kubernetes_io_os": "true",
                    // An empty label value: only the *present label remains.
                    "__meta_kubernetes_node_labelpresent_node_kubernetes_io_exclude_from_external_load_balancers": "true",
                    "__meta_kubernetes_node_annotation_kubeadm_alpha_kubernetes_io_cri_socket":
                        "unix:///run/containerd/containerd.sock",
                    "__meta_kubernetes_node_annotationpresent_kubeadm_alpha_kubernetes_io_cri_socket": "true",
                    "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl": "0",
                    "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl": "true",
                ])))
    }

    // Prometheus node_test.go: address priority and the port of a node.
    @Test(arguments: [
        ([NodeAddress(type: "Hostname", address: "h"), NodeAddress(type: "ExternalDNS", address: "e.dns")], "e.dns:10250"),
        ([NodeAddress(type: "LegacyHostIP", address: "1.1.1.1"), NodeAddress(type: "Hostname", address: "h")], "1.1.1.1:10250"),
        ([NodeAddress(type: "ExternalIP", address: "2.2.2.2"), NodeAddress(type: "InternalDNS", address: "i.dns")], "i.dns:10250"),
        ([NodeAddress(type: "InternalIP", address: "fd00::1")], "[fd00::1]:10250"),
    ])
    func addressPriority(_ addresses: [NodeAddress], _ expected: String) throws {
        let node = Node(
            metadata: ObjectMeta(name: "n"),
            status: NodeStatus(addresses: addresses, daemonEndpoints: .init(kubeletEndpoint: .init(port: 10250))))
        let group = try #require(NodeRole.groups(for: node))
        #expect(group.targets.first?["__address__"] == expected)
    }

    @Test func nodeWithoutAddressGivesNoGroup() {
        #expect(NodeRole.groups(for: Node(metadata: ObjectMeta(name: "n"))) == nil)
        #expect(NodeRole.groups(for: Node(metadata: ObjectMeta(name: "n"), status: NodeStatus(addresses: [.init(type: "Other", address: "x")]))) == nil)
        #expect(NodeRole.source(name: "n") == "node/n")
    }

    // Prometheus node_test.go TestNodeDiscoveryBeforeStart.
    @Test func prometheusTestNode() throws {
        let node = Node(
            metadata: ObjectMeta(name: "test", labels: ["test-label": "testvalue"], annotations: ["test-annotation": "testannotationvalue"]),
            status: NodeStatus(
                addresses: [NodeAddress(type: "InternalIP", address: "1.2.3.4")],
                daemonEndpoints: .init(kubeletEndpoint: .init(port: 10250))))
        expectGroup(
            NodeRole.groups(for: node),
            TargetGroup(
                source: "node/test",
                targets: [
                    labelSet([
                        "__address__": "1.2.3.4:10250",
                        "instance": "test",
                        "__meta_kubernetes_node_address_InternalIP": "1.2.3.4",
                    ])
                ],
                labels: labelSet([
                    "__meta_kubernetes_node_name": "test",
                    "__meta_kubernetes_node_label_test_label": "testvalue",
                    "__meta_kubernetes_node_labelpresent_test_label": "true",
                    "__meta_kubernetes_node_annotation_test_annotation": "testannotationvalue",
                    "__meta_kubernetes_node_annotationpresent_test_annotation": "true",
                ])))
    }
}

// MARK: - service

@Suite struct ServiceRoleTests {
    static let podinfoLabels: [String: String] = [
        "__meta_kubernetes_namespace": "apps",
        "__meta_kubernetes_service_name": "podinfo",
        "__meta_kubernetes_service_label_app_kubernetes_io_name": "podinfo",
        "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name": "true",
        "__meta_kubernetes_service_label_app_kubernetes_io_instance": "podinfo",
        "__meta_kubernetes_service_labelpresent_app_kubernetes_io_instance": "true",
        "__meta_kubernetes_service_annotation_meta_helm_sh_release_name": "podinfo",
        "__meta_kubernetes_service_annotationpresent_meta_helm_sh_release_name": "true",
    ]

    @Test func fixture() throws {
        let service: KubernetesService = try roleFixture("service-podinfo")
        expectGroup(
            ServiceRole.groups(for: service),
            TargetGroup(
                source: "svc/apps/podinfo",
                targets: [
                    labelSet([
                        "__address__": "podinfo.apps.svc:9898",
                        "__meta_kubernetes_service_port_name": "http",
                        "__meta_kubernetes_service_port_number": "9898",
                        "__meta_kubernetes_service_port_protocol": "TCP",
                        "__meta_kubernetes_service_type": "ClusterIP",
                        "__meta_kubernetes_service_cluster_ip": "10.96.143.21",
                    ]),
                    labelSet([
                        "__address__": "podinfo.apps.svc:9999",
                        "__meta_kubernetes_service_port_name": "grpc",
                        "__meta_kubernetes_service_port_number": "9999",
                        "__meta_kubernetes_service_port_protocol": "TCP",
                        "__meta_kubernetes_service_type": "ClusterIP",
                        "__meta_kubernetes_service_cluster_ip": "10.96.143.21",
                    ]),
                ],
                labels: labelSet(Self.podinfoLabels)))
    }

    // Prometheus service_test.go: ExternalName and LoadBalancer services.
    @Test func externalNameAndLoadBalancer() {
        let external = KubernetesService(
            metadata: ObjectMeta(name: "testservice-external", namespace: "default"),
            spec: ServiceSpec(type: "ExternalName", externalName: "FooExternalName", ports: [ServicePort(name: "testport", port: 31900, protocol: "TCP")]))
        #expect(
            ServiceRole.groups(for: external).targets == [
                labelSet([
                    "__address__": "testservice-external.default.svc:31900",
                    "__meta_kubernetes_service_type": "ExternalName",
                    "__meta_kubernetes_service_port_name": "testport",
                    "__meta_kubernetes_service_port_number": "31900",
                    "__meta_kubernetes_service_port_protocol": "TCP",
                    "__meta_kubernetes_service_external_name": "FooExternalName",
                ])
            ])
        // No status.loadBalancer.ingress IP: the deprecated spec.loadBalancerIP.
        let balanced = KubernetesService(
            metadata: ObjectMeta(name: "lb", namespace: "default"),
            spec: ServiceSpec(
                type: "LoadBalancer", clusterIP: "10.0.0.1", loadBalancerIP: "198.51.100.5",
                ports: [ServicePort(name: "https", port: 443, protocol: "TCP", nodePort: 30443)]))
        #expect(
            ServiceRole.groups(for: balanced).targets == [
                labelSet([
                    "__address__": "lb.default.svc:443",
                    "__meta_kubernetes_service_type": "LoadBalancer",
                    "__meta_kubernetes_service_port_name": "https",
                    "__meta_kubernetes_service_port_number": "443",
                    "__meta_kubernetes_service_port_protocol": "TCP",
                    "__meta_kubernetes_service_cluster_ip": "10.0.0.1",
                    "__meta_kubernetes_service_loadbalancer_ip": "198.51.100.5",
                ])
            ])
    }

    // Prometheus service_test.go makeLoadBalancerServiceFromIngress (after v3.14.0, service.go
    // `loadBalancerIPs`): the status.loadBalancer.ingress IPs joined by commas, hostname-only
    // entries skipped; they win over spec.loadBalancerIP.
    @Test func loadBalancerIPsFromStatus() throws {
        var service: KubernetesService = try roleFixture("service-prometheus-lb-ingress")
        let expected = TargetGroup(
            source: "svc/default/testservice-lb-ingress",
            targets: [
                labelSet([
                    "__address__": "testservice-lb-ingress.default.svc:31900",
                    "__meta_kubernetes_service_type": "LoadBalancer",
                    "__meta_kubernetes_service_port_name": "testport",
                    "__meta_kubernetes_service_port_number": "31900",
                    "__meta_kubernetes_service_port_protocol": "TCP",
                    "__meta_kubernetes_service_cluster_ip": "10.0.0.1",
                    "__meta_kubernetes_service_loadbalancer_ip": "192.168.1.15,2001:db8::1",
                ])
            ],
            labels: labelSet([
                "__meta_kubernetes_service_name": "testservice-lb-ingress",
                "__meta_kubernetes_namespace": "default",
            ]))
        expectGroup(ServiceRole.groups(for: service), expected)
        service.spec?.loadBalancerIP = "198.51.100.5"
        expectGroup(ServiceRole.groups(for: service), expected)
        // Not a LoadBalancer: no loadbalancer_ip label at all.
        service.spec?.type = "NodePort"
        #expect(ServiceRole.groups(for: service).targets.first?["__meta_kubernetes_service_loadbalancer_ip"] == nil)
    }
}

// MARK: - ingress

@Suite struct IngressRoleTests {
    static func target(_ host: String, _ scheme: String, _ path: String) -> Labels {
        labelSet([
            "__address__": host,
            "__meta_kubernetes_ingress_host": host,
            "__meta_kubernetes_ingress_scheme": scheme,
            "__meta_kubernetes_ingress_path": path,
        ])
    }

    @Test func fixture() throws {
        let ingress: Ingress = try roleFixture("ingress-podinfo")
        expectGroup(
            IngressRole.groups(for: ingress),
            TargetGroup(
                source: "ingress/apps/podinfo",
                targets: [
                    Self.target("podinfo.example.com", "https", "/"),
                    Self.target("podinfo.example.com", "https", "/api"),
                    // Covered by the wildcard TLS host *.apps.example.com.
                    Self.target("metrics.apps.example.com", "https", "/metrics"),
                    // Not covered by TLS; a path left out reads as "/".
                    Self.target("podinfo.internal.example.net", "http", "/"),
                ],
                labels: labelSet([
                    "__meta_kubernetes_namespace": "apps",
                    "__meta_kubernetes_ingress_name": "podinfo",
                    "__meta_kubernetes_ingress_class_name": "nginx",
                    "__meta_kubernetes_ingress_label_app_kubernetes_io_name": "podinfo",
                    "__meta_kubernetes_ingress_labelpresent_app_kubernetes_io_name": "true",
                    "__meta_kubernetes_ingress_annotation_cert_manager_io_cluster_issuer": "letsencrypt",
                    "__meta_kubernetes_ingress_annotationpresent_cert_manager_io_cluster_issuer": "true",
                    "__meta_kubernetes_ingress_annotation_nginx_ingress_kubernetes_io_ssl_redirect": "true",
                    "__meta_kubernetes_ingress_annotationpresent_nginx_ingress_kubernetes_io_ssl_redirect": "true",
                ])))
    }

    @Test func ruleWithoutHTTPBlockIsTheRootPathAndEmptyPathListIsNothing() {
        let ingress = Ingress(
            metadata: ObjectMeta(name: "i", namespace: "ns"),
            spec: IngressSpec(rules: [IngressRule(host: "a.example"), IngressRule(host: "b.example", http: .init(paths: []))]))
        let group = IngressRole.groups(for: ingress)
        #expect(group.targets == [Self.target("a.example", "http", "/")])
        #expect(group.labels["__meta_kubernetes_ingress_class_name"] == nil)
    }

    // Prometheus ingress_test.go makeIngress / expectedTargetGroups with its four TLS modes: a rule
    // whose `http` block has no paths gives nothing, a path left empty reads as "/".
    @Test(arguments: [
        ("no TLS", nil, "http", "http"),
        ("TLS for both hosts", ["example.com", "test.example.com"], "https", "https"),
        ("mixed", ["example.com"], "https", "http"),
        ("wildcard", ["*.example.com"], "http", "https"),
    ] as [(String, [String]?, String, String)])
    func prometheusTLSModes(_ mode: String, _ tlsHosts: [String]?, _ scheme1: String, _ scheme2: String) throws {
        var ingress: Ingress = try roleFixture("ingress-prometheus-testingress")
        ingress.spec?.tls = tlsHosts.map { [IngressTLS(hosts: $0)] }
        expectGroup(
            IngressRole.groups(for: ingress),
            TargetGroup(
                source: "ingress/default/testingress",
                targets: [
                    Self.target("example.com", scheme1, "/"),
                    Self.target("example.com", scheme1, "/foo"),
                    Self.target("test.example.com", scheme2, "/"),
                ],
                labels: labelSet([
                    "__meta_kubernetes_ingress_name": "testingress",
                    "__meta_kubernetes_namespace": "default",
                    "__meta_kubernetes_ingress_label_test_label": "testvalue",
                    "__meta_kubernetes_ingress_labelpresent_test_label": "true",
                    "__meta_kubernetes_ingress_annotation_test_annotation": "testannotationvalue",
                    "__meta_kubernetes_ingress_annotationpresent_test_annotation": "true",
                    "__meta_kubernetes_ingress_class_name": "testclass",
                ])))
    }

    // Prometheus ingress_test.go TestMatchesHostnamePattern.
    @Test(arguments: [
        ("example.com", "example.com", true),
        ("example.com", "example.org", false),
        ("*.example.com", "foo.example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "foo.bar.example.com", false),
        ("*.example.com", "foo.example.org", false),
        ("foo.*.com", "foo.example.com", false),
    ])
    func hostnamePattern(_ pattern: String, _ host: String, _ matches: Bool) {
        #expect(IngressRole.matchesHostnamePattern(pattern, host) == matches)
    }
}
