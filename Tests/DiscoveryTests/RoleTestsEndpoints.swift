import Model
import Foundation
import Testing

@testable import Discovery

// Expected label sets follow Prometheus's discovery/kubernetes/{endpoints,endpointslice}.go and
// endpoints_test.go / endpointslice_test.go.

/// The podinfo Service, its two pods and what Prometheus attaches for each.
enum Podinfo {
    static let image = "ghcr.io/stefanprodan/podinfo:6.7.1"

    /// Prometheus `podLabels` of podinfo-6b8f9c7d4-abcde (ready, on kind-worker).
    static let podA: [String: String] = [
        "__meta_kubernetes_pod_name": "podinfo-6b8f9c7d4-abcde",
        "__meta_kubernetes_pod_ip": "10.244.1.10",
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": "kind-worker",
        "__meta_kubernetes_pod_host_ip": "172.18.0.3",
        "__meta_kubernetes_pod_uid": "aaaa1111-2222-4333-8444-555566667777",
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": "podinfo",
        "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
        "__meta_kubernetes_pod_label_pod_template_hash": "6b8f9c7d4",
        "__meta_kubernetes_pod_labelpresent_pod_template_hash": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
        "__meta_kubernetes_pod_controller_name": "podinfo-6b8f9c7d4",
    ]

    /// Prometheus `podLabels` of podinfo-6b8f9c7d4-fghij (not ready, on kind-worker2).
    static let podB: [String: String] = [
        "__meta_kubernetes_pod_name": "podinfo-6b8f9c7d4-fghij",
        "__meta_kubernetes_pod_ip": "10.244.2.11",
        "__meta_kubernetes_pod_ready": "false",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": "kind-worker2",
        "__meta_kubernetes_pod_host_ip": "172.18.0.4",
        "__meta_kubernetes_pod_uid": "cccc1111-2222-4333-8444-555566667777",
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": "podinfo",
        "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
        "__meta_kubernetes_pod_label_pod_template_hash": "6b8f9c7d4",
        "__meta_kubernetes_pod_labelpresent_pod_template_hash": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
        "__meta_kubernetes_pod_controller_name": "podinfo-6b8f9c7d4",
    ]

    /// The container port labels of podinfod's port `number` named `name`.
    static func container(_ number: String, _ name: String) -> [String: String] {
        [
            "__meta_kubernetes_pod_container_name": "podinfod",
            "__meta_kubernetes_pod_container_image": image,
            "__meta_kubernetes_pod_container_port_name": name,
            "__meta_kubernetes_pod_container_port_number": number,
            "__meta_kubernetes_pod_container_port_protocol": "TCP",
            "__meta_kubernetes_pod_container_init": "false",
        ]
    }

    /// A target for a container port no endpoint covered.
    static func uncovered(_ pod: [String: String], _ number: String, _ name: String) -> Labels {
        labelSet(pod, container(number, name), ["__address__": "\(pod["__meta_kubernetes_pod_ip"]!):\(number)"])
    }

    static func load() throws -> (service: KubernetesService, pods: [Pod]) {
        let service: KubernetesService = try roleFixture("service-podinfo")
        let pods: KubernetesList<Pod> = try roleFixture("pods-podinfo")
        return (service, pods.items)
    }
}

// MARK: - endpoints

@Suite struct EndpointsRoleTests {
    static func endpointTarget(
        _ pod: [String: String], _ number: String, _ name: String, ready: String, node: String
    ) -> Labels {
        labelSet(
            pod, Podinfo.container(number, name),
            [
                "__address__": "\(pod["__meta_kubernetes_pod_ip"]!):\(number)",
                "__meta_kubernetes_endpoint_port_name": name,
                "__meta_kubernetes_endpoint_port_protocol": "TCP",
                "__meta_kubernetes_endpoint_ready": ready,
                "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                "__meta_kubernetes_endpoint_address_target_name": pod["__meta_kubernetes_pod_name"]!,
                "__meta_kubernetes_endpoint_node_name": node,
            ])
    }

    @Test func fixtureWithServiceAndPods() throws {
        let (service, pods) = try Podinfo.load()
        let endpoints: Endpoints = try roleFixture("endpoints-podinfo")
        expectGroup(
            EndpointsRole.groups(for: endpoints, services: [service], pods: pods),
            TargetGroup(
                source: "endpoints/apps/podinfo",
                targets: [
                    // Per port: the ready addresses, then the not-ready ones.
                    Self.endpointTarget(Podinfo.podA, "9898", "http", ready: "true", node: "kind-worker"),
                    Self.endpointTarget(Podinfo.podB, "9898", "http", ready: "false", node: "kind-worker2"),
                    Self.endpointTarget(Podinfo.podA, "9999", "grpc", ready: "true", node: "kind-worker"),
                    Self.endpointTarget(Podinfo.podB, "9999", "grpc", ready: "false", node: "kind-worker2"),
                    // Then the pods' container ports no endpoint port covered.
                    Podinfo.uncovered(Podinfo.podA, "9797", "http-metrics"),
                    Podinfo.uncovered(Podinfo.podB, "9797", "http-metrics"),
                ],
                labels: labelSet(
                    ServiceRoleTests.podinfoLabels,
                    [
                        "__meta_kubernetes_endpoints_name": "podinfo",
                        "__meta_kubernetes_endpoints_label_app_kubernetes_io_name": "podinfo",
                        "__meta_kubernetes_endpoints_labelpresent_app_kubernetes_io_name": "true",
                        "__meta_kubernetes_endpoints_label_app_kubernetes_io_instance": "podinfo",
                        "__meta_kubernetes_endpoints_labelpresent_app_kubernetes_io_instance": "true",
                        "__meta_kubernetes_endpoints_annotation_endpoints_kubernetes_io_last_change_trigger_time":
                            "2024-11-02T10:15:04Z",
                        "__meta_kubernetes_endpoints_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time": "true",
                    ])))
    }

    @Test func withoutServiceOrPodsOnlyTheEndpointLabels() throws {
        let endpoints: Endpoints = try roleFixture("endpoints-podinfo")
        let group = EndpointsRole.groups(for: endpoints, services: [], pods: [])
        #expect(group.targets.count == 4)
        #expect(group.labels["__meta_kubernetes_service_name"] == nil)
        #expect(
            group.targetLabels(1)
                == labelSet([
                    "__address__": "10.244.2.11:9898",
                    "__meta_kubernetes_endpoint_port_name": "http",
                    "__meta_kubernetes_endpoint_port_protocol": "TCP",
                    "__meta_kubernetes_endpoint_ready": "false",
                    "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                    "__meta_kubernetes_endpoint_address_target_name": "podinfo-6b8f9c7d4-fghij",
                    "__meta_kubernetes_endpoint_node_name": "kind-worker2",
                ]))
    }

    // Prometheus endpoints_test.go makeEndpoints / TestEndpointsDiscoveryBeforeRun.
    @Test func prometheusMakeEndpoints() {
        let endpoints = Endpoints(
            metadata: ObjectMeta(name: "testendpoints", namespace: "default"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointAddress(ip: "1.2.3.4", hostname: "testendpoint1", nodeName: "foobar")],
                    ports: [EndpointPort(name: "testport", port: 9000, protocol: "TCP")]),
                EndpointSubset(
                    addresses: [EndpointAddress(ip: "2.3.4.5")],
                    notReadyAddresses: [EndpointAddress(ip: "2.3.4.5")],
                    ports: [EndpointPort(name: "testport", port: 9001, protocol: "TCP")]),
                EndpointSubset(
                    addresses: [EndpointAddress(ip: "6.7.8.9", targetRef: ObjectReference(kind: "Node", name: "barbaz"))],
                    ports: [EndpointPort(name: "testport", port: 9002, protocol: "TCP")]),
            ])
        expectGroup(
            EndpointsRole.groups(for: endpoints, services: [], pods: []),
            TargetGroup(
                source: "endpoints/default/testendpoints",
                targets: [
                    labelSet([
                        "__address__": "1.2.3.4:9000",
                        "__meta_kubernetes_endpoint_hostname": "testendpoint1",
                        "__meta_kubernetes_endpoint_node_name": "foobar",
                        "__meta_kubernetes_endpoint_port_name": "testport",
                        "__meta_kubernetes_endpoint_port_protocol": "TCP",
                        "__meta_kubernetes_endpoint_ready": "true",
                    ]),
                    labelSet([
                        "__address__": "2.3.4.5:9001",
                        "__meta_kubernetes_endpoint_port_name": "testport",
                        "__meta_kubernetes_endpoint_port_protocol": "TCP",
                        "__meta_kubernetes_endpoint_ready": "true",
                    ]),
                    labelSet([
                        "__address__": "2.3.4.5:9001",
                        "__meta_kubernetes_endpoint_port_name": "testport",
                        "__meta_kubernetes_endpoint_port_protocol": "TCP",
                        "__meta_kubernetes_endpoint_ready": "false",
                    ]),
                    labelSet([
                        "__address__": "6.7.8.9:9002",
                        "__meta_kubernetes_endpoint_address_target_kind": "Node",
                        "__meta_kubernetes_endpoint_address_target_name": "barbaz",
                        "__meta_kubernetes_endpoint_port_name": "testport",
                        "__meta_kubernetes_endpoint_port_protocol": "TCP",
                        "__meta_kubernetes_endpoint_ready": "true",
                    ]),
                ],
                labels: labelSet([
                    "__meta_kubernetes_namespace": "default",
                    "__meta_kubernetes_endpoints_name": "testendpoints",
                ])))
    }

    // Prometheus endpoints_test.go TestEndpointsDiscoveryAdd: a pod-backed address, the other
    // container's port as an extra target, the endpoint port's protocol on the matched container.
    @Test func prometheusEndpointsAdd() {
        let pod = Pod(
            metadata: ObjectMeta(name: "testpod", namespace: "default", uid: "deadbeef"),
            spec: PodSpec(
                nodeName: "testnode",
                containers: [
                    Container(name: "c1", image: "c1:latest", ports: [ContainerPort(name: "mainport", containerPort: 9000, protocol: "TCP")]),
                    Container(name: "c2", image: "c2:latest", ports: [ContainerPort(name: "sideport", containerPort: 9001, protocol: "TCP")]),
                ],
                initContainers: [
                    Container(name: "ic1", image: "ic1:latest", ports: [ContainerPort(name: "initport", containerPort: 1111, protocol: "TCP")]),
                    Container(name: "ic2", image: "ic2:latest", ports: [ContainerPort(name: "initport", containerPort: 9000, protocol: "TCP")]),
                ]),
            status: PodStatus(hostIP: "2.3.4.5", podIP: "1.2.3.4"))
        let endpoints = Endpoints(
            metadata: ObjectMeta(name: "testendpoints", namespace: "default"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointAddress(ip: "4.3.2.1", targetRef: ObjectReference(kind: "Pod", name: "testpod", namespace: "default"))],
                    ports: [EndpointPort(name: "testport", port: 9000, protocol: "TCP")])
            ])
        let podLabels: [String: String] = [
            "__meta_kubernetes_pod_name": "testpod",
            "__meta_kubernetes_pod_ip": "1.2.3.4",
            "__meta_kubernetes_pod_ready": "unknown",
            "__meta_kubernetes_pod_node_name": "testnode",
            "__meta_kubernetes_pod_host_ip": "2.3.4.5",
            "__meta_kubernetes_pod_uid": "deadbeef",
        ]
        expectGroup(
            EndpointsRole.groups(for: endpoints, services: [], pods: [pod]),
            TargetGroup(
                source: "endpoints/default/testendpoints",
                targets: [
                    labelSet(
                        podLabels,
                        [
                            "__address__": "4.3.2.1:9000",
                            "__meta_kubernetes_endpoint_port_name": "testport",
                            "__meta_kubernetes_endpoint_port_protocol": "TCP",
                            "__meta_kubernetes_endpoint_ready": "true",
                            "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                            "__meta_kubernetes_endpoint_address_target_name": "testpod",
                            // Two containers declare 9000: the last one (the init container ic2) wins.
                            "__meta_kubernetes_pod_container_name": "ic2",
                            "__meta_kubernetes_pod_container_image": "ic2:latest",
                            "__meta_kubernetes_pod_container_port_name": "initport",
                            "__meta_kubernetes_pod_container_port_number": "9000",
                            "__meta_kubernetes_pod_container_port_protocol": "TCP",
                            "__meta_kubernetes_pod_container_init": "true",
                        ]),
                    labelSet(
                        podLabels,
                        [
                            "__address__": "1.2.3.4:9001",
                            "__meta_kubernetes_pod_container_name": "c2",
                            "__meta_kubernetes_pod_container_image": "c2:latest",
                            "__meta_kubernetes_pod_container_port_name": "sideport",
                            "__meta_kubernetes_pod_container_port_number": "9001",
                            "__meta_kubernetes_pod_container_port_protocol": "TCP",
                            "__meta_kubernetes_pod_container_init": "false",
                        ]),
                    labelSet(
                        podLabels,
                        [
                            "__address__": "1.2.3.4:1111",
                            "__meta_kubernetes_pod_container_name": "ic1",
                            "__meta_kubernetes_pod_container_image": "ic1:latest",
                            "__meta_kubernetes_pod_container_port_name": "initport",
                            "__meta_kubernetes_pod_container_port_number": "1111",
                            "__meta_kubernetes_pod_container_port_protocol": "TCP",
                            "__meta_kubernetes_pod_container_init": "true",
                        ]),
                ],
                labels: labelSet([
                    "__meta_kubernetes_namespace": "default",
                    "__meta_kubernetes_endpoints_name": "testendpoints",
                ])))
    }

    @Test func sources() {
        #expect(EndpointsRole.source(namespace: "apps", name: "podinfo") == "endpoints/apps/podinfo")
        #expect(EndpointSliceRole.source(namespace: "apps", name: "podinfo-x7k2p") == "endpointslice/apps/podinfo-x7k2p")
        #expect(ServiceRole.source(namespace: "apps", name: "podinfo") == "svc/apps/podinfo")
        #expect(IngressRole.source(namespace: "apps", name: "podinfo") == "ingress/apps/podinfo")
    }
}

// MARK: - endpointslice

@Suite struct EndpointSliceRoleTests {
    static func sliceTarget(
        _ pod: [String: String], ready: String, serving: String, node: String, zone: String
    ) -> Labels {
        labelSet(
            pod, Podinfo.container("9898", "http"),
            [
                "__address__": "\(pod["__meta_kubernetes_pod_ip"]!):9898",
                "__meta_kubernetes_endpointslice_port": "9898",
                "__meta_kubernetes_endpointslice_port_name": "http",
                "__meta_kubernetes_endpointslice_port_protocol": "TCP",
                "__meta_kubernetes_endpointslice_port_app_protocol": "http",
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready": ready,
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving": serving,
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating": "false",
                "__meta_kubernetes_endpointslice_address_target_kind": "Pod",
                "__meta_kubernetes_endpointslice_address_target_name": pod["__meta_kubernetes_pod_name"]!,
                "__meta_kubernetes_endpointslice_endpoint_node_name": node,
                "__meta_kubernetes_endpointslice_endpoint_zone": zone,
            ])
    }

    @Test func fixtureWithServiceAndPods() throws {
        let (service, pods) = try Podinfo.load()
        let slice: EndpointSlice = try roleFixture("endpointslice-podinfo")
        expectGroup(
            EndpointSliceRole.groups(for: slice, services: [service], pods: pods),
            TargetGroup(
                source: "endpointslice/apps/podinfo-x7k2p",
                targets: [
                    Self.sliceTarget(Podinfo.podA, ready: "true", serving: "true", node: "kind-worker", zone: "eu-west-1a"),
                    Self.sliceTarget(Podinfo.podB, ready: "false", serving: "false", node: "kind-worker2", zone: "eu-west-1b"),
                    Podinfo.uncovered(Podinfo.podA, "9797", "http-metrics"),
                    Podinfo.uncovered(Podinfo.podA, "9999", "grpc"),
                    Podinfo.uncovered(Podinfo.podB, "9797", "http-metrics"),
                    Podinfo.uncovered(Podinfo.podB, "9999", "grpc"),
                ],
                labels: labelSet(
                    ServiceRoleTests.podinfoLabels,
                    [
                        "__meta_kubernetes_endpointslice_address_type": "IPv4",
                        "__meta_kubernetes_endpointslice_name": "podinfo-x7k2p",
                        "__meta_kubernetes_endpointslice_label_app_kubernetes_io_name": "podinfo",
                        "__meta_kubernetes_endpointslice_labelpresent_app_kubernetes_io_name": "true",
                        "__meta_kubernetes_endpointslice_label_endpointslice_kubernetes_io_managed_by":
                            "endpointslice-controller.k8s.io",
                        "__meta_kubernetes_endpointslice_labelpresent_endpointslice_kubernetes_io_managed_by": "true",
                        "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name": "podinfo",
                        "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name": "true",
                        "__meta_kubernetes_endpointslice_annotation_endpoints_kubernetes_io_last_change_trigger_time":
                            "2024-11-02T10:15:04Z",
                        "__meta_kubernetes_endpointslice_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time":
                            "true",
                    ])))
    }

    // Prometheus endpointslice_test.go makeEndpointSliceV1 / TestEndpointSliceDiscoveryBeforeRun.
    @Test func prometheusMakeEndpointSliceV1() {
        let slice = EndpointSlice(
            metadata: ObjectMeta(
                name: "testendpoints", namespace: "default",
                labels: ["kubernetes.io/service-name": "testendpoints"], annotations: ["test.annotation": "test"]),
            addressType: "IPv4",
            endpoints: [
                SliceEndpoint(
                    addresses: ["1.2.3.4"], conditions: .init(ready: true, serving: true, terminating: false),
                    hostname: "testendpoint1", nodeName: "foobar", zone: "us-east-1a", targetRef: ObjectReference(),
                    deprecatedTopology: ["topology": "value"]),
                SliceEndpoint(
                    addresses: ["2.3.4.5"], conditions: .init(ready: true, serving: true, terminating: false), zone: "us-east-1b"),
                SliceEndpoint(
                    addresses: ["3.4.5.6"], conditions: .init(ready: false, serving: true, terminating: true), zone: "us-east-1c"),
                SliceEndpoint(
                    addresses: ["4.5.6.7"], conditions: .init(ready: true, serving: true, terminating: false),
                    zone: "us-east-1a", targetRef: ObjectReference(kind: "Node", name: "barbaz")),
            ],
            ports: [SlicePort(name: "testport", port: 9000, protocol: "TCP", appProtocol: "http")])
        let common: [String: String] = [
            "__meta_kubernetes_endpointslice_port": "9000",
            "__meta_kubernetes_endpointslice_port_app_protocol": "http",
            "__meta_kubernetes_endpointslice_port_name": "testport",
            "__meta_kubernetes_endpointslice_port_protocol": "TCP",
        ]
        expectGroup(
            EndpointSliceRole.groups(for: slice, services: [], pods: []),
            TargetGroup(
                source: "endpointslice/default/testendpoints",
                targets: [
                    labelSet(
                        common,
                        [
                            "__address__": "1.2.3.4:9000",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_serving": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating": "false",
                            "__meta_kubernetes_endpointslice_endpoint_hostname": "testendpoint1",
                            "__meta_kubernetes_endpointslice_endpoint_node_name": "foobar",
                            "__meta_kubernetes_endpointslice_endpoint_topology_present_topology": "true",
                            "__meta_kubernetes_endpointslice_endpoint_topology_topology": "value",
                            "__meta_kubernetes_endpointslice_endpoint_zone": "us-east-1a",
                            // target_kind / target_name are "" in Prometheus's expectation: absent here.
                        ]),
                    labelSet(
                        common,
                        [
                            "__address__": "2.3.4.5:9000",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_serving": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating": "false",
                            "__meta_kubernetes_endpointslice_endpoint_zone": "us-east-1b",
                        ]),
                    labelSet(
                        common,
                        [
                            "__address__": "3.4.5.6:9000",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "false",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_serving": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating": "true",
                            "__meta_kubernetes_endpointslice_endpoint_zone": "us-east-1c",
                        ]),
                    labelSet(
                        common,
                        [
                            "__address__": "4.5.6.7:9000",
                            "__meta_kubernetes_endpointslice_address_target_kind": "Node",
                            "__meta_kubernetes_endpointslice_address_target_name": "barbaz",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_serving": "true",
                            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating": "false",
                            "__meta_kubernetes_endpointslice_endpoint_zone": "us-east-1a",
                        ]),
                ],
                labels: labelSet([
                    "__meta_kubernetes_endpointslice_address_type": "IPv4",
                    "__meta_kubernetes_namespace": "default",
                    "__meta_kubernetes_endpointslice_name": "testendpoints",
                    "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name": "testendpoints",
                    "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name": "true",
                    "__meta_kubernetes_endpointslice_annotation_test_annotation": "test",
                    "__meta_kubernetes_endpointslice_annotationpresent_test_annotation": "true",
                ])))
    }

    // Prometheus endpointslice_test.go TestEndpointSliceDiscoverySidecarContainer: the slice port
    // 9111 matches the init container ic2 (container_init "true", the container port's protocol);
    // ic1's port 1111, covered by no slice port, becomes a target of its own. An empty phase is no label.
    @Test func prometheusSidecarContainer() throws {
        let slice: EndpointSlice = try roleFixture("endpointslice-prometheus-testsidecar")
        let pod: Pod = try roleFixture("pod-prometheus-testsidecar")
        let podLabels: [String: String] = [
            "__meta_kubernetes_pod_host_ip": "2.3.4.5",
            "__meta_kubernetes_pod_ip": "4.3.2.1",
            "__meta_kubernetes_pod_name": "testpod",
            "__meta_kubernetes_pod_node_name": "testnode",
            "__meta_kubernetes_pod_ready": "unknown",
            "__meta_kubernetes_pod_uid": "deadbeef",
        ]
        func container(_ name: String, _ port: String, _ portName: String, initContainer: Bool) -> [String: String] {
            [
                "__meta_kubernetes_pod_container_image": "\(name):latest",
                "__meta_kubernetes_pod_container_name": name,
                "__meta_kubernetes_pod_container_port_name": portName,
                "__meta_kubernetes_pod_container_port_number": port,
                "__meta_kubernetes_pod_container_port_protocol": "TCP",
                "__meta_kubernetes_pod_container_init": String(initContainer),
            ]
        }
        func slicePort(_ port: String, _ name: String) -> [String: String] {
            [
                "__address__": "4.3.2.1:\(port)",
                "__meta_kubernetes_endpointslice_address_target_kind": "Pod",
                "__meta_kubernetes_endpointslice_address_target_name": "testpod",
                "__meta_kubernetes_endpointslice_port": port,
                "__meta_kubernetes_endpointslice_port_name": name,
                "__meta_kubernetes_endpointslice_port_protocol": "TCP",
            ]
        }
        expectGroup(
            EndpointSliceRole.groups(for: slice, services: [], pods: [pod]),
            TargetGroup(
                source: "endpointslice/default/testsidecar",
                targets: [
                    labelSet(podLabels, slicePort("9000", "testport"), container("c1", "9000", "mainport", initContainer: false)),
                    labelSet(podLabels, slicePort("9111", "initport"), container("ic2", "9111", "initport", initContainer: true)),
                    labelSet(podLabels, ["__address__": "4.3.2.1:1111"], container("ic1", "1111", "initport", initContainer: true)),
                ],
                labels: labelSet([
                    "__meta_kubernetes_endpointslice_address_type": "IPv4",
                    "__meta_kubernetes_endpointslice_name": "testsidecar",
                    "__meta_kubernetes_namespace": "default",
                ])))
    }

    @Test func portWithoutNumberAndSliceWithoutPorts() {
        var slice = EndpointSlice(
            metadata: ObjectMeta(name: "s", namespace: "ns"), addressType: "FQDN",
            endpoints: [SliceEndpoint(addresses: ["db.example.com"])],
            ports: [SlicePort()])
        #expect(EndpointSliceRole.groups(for: slice, services: [], pods: []).targets == [labelSet(["__address__": "db.example.com"])])
        // No ports: no targets at all, as in Prometheus.
        slice.ports = nil
        #expect(EndpointSliceRole.groups(for: slice, services: [], pods: []).targets.isEmpty)
    }

    @Test func decodesTheFixtureFields() throws {
        let slice: EndpointSlice = try roleFixture("endpointslice-podinfo")
        #expect(slice.addressType == "IPv4")
        #expect(slice.endpoints?.first?.conditions == .init(ready: true, serving: true, terminating: false))
        #expect(slice.endpoints?.first?.targetRef == ObjectReference(kind: "Pod", name: "podinfo-6b8f9c7d4-abcde", namespace: "apps", uid: "aaaa1111-2222-4333-8444-555566667777"))
        #expect(slice.ports == [SlicePort(name: "http", port: 9898, protocol: "TCP", appProtocol: "http")])
        #expect(EndpointSlice.clusterPath == "/apis/discovery.k8s.io/v1/endpointslices")
        #expect(Ingress.namespacedPath("apps") == "/apis/networking.k8s.io/v1/namespaces/apps/ingresses")
        #expect(Pod.namespacedPath("apps") == "/api/v1/namespaces/apps/pods")
    }
}
