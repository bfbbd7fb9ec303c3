import Model
import AgentConfig
import Foundation
import Testing

@testable import Discovery

// `attach_metadata` (Prometheus discovery/kubernetes): `node` merges the labels
// `addNodeLabels` builds from the target's node (node_name, node_label_*, node_labelpresent_*,
// node_annotation_*, node_annotationpresent_*); `namespace` adds the namespace object's
// namespace_label_*, …_labelpresent_*, …_annotation_*, …_annotationpresent_* to the group.

@Suite struct AttachMetadataTests {
    /// What `node-kind-worker.json` adds (an empty label value is dropped by `Labels`; its
    /// `labelpresent` stays).
    static let kindWorkerLabels: [String: String] = [
        "__meta_kubernetes_node_name": "kind-worker",
        "__meta_kubernetes_node_label_beta_kubernetes_io_arch": "amd64",
        "__meta_kubernetes_node_labelpresent_beta_kubernetes_io_arch": "true",
        "__meta_kubernetes_node_label_kubernetes_io_hostname": "kind-worker",
        "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname": "true",
        "__meta_kubernetes_node_label_kubernetes_io_os": "linux",
        "__meta_kubernetes_node_labelpresent_kubernetes_io_os": "true",
        "__meta_kubernetes_node_labelpresent_node_kubernetes_io_exclude_from_external_load_balancers": "true",
        "__meta_kubernetes_node_annotation_kubeadm_alpha_kubernetes_io_cri_socket": "unix:///run/containerd/containerd.sock",
        "__meta_kubernetes_node_annotationpresent_kubeadm_alpha_kubernetes_io_cri_socket": "true",
        "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl": "0",
        "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl": "true",
    ]

    /// What `namespace-apps.json` adds: no `namespace_name`, `__meta_kubernetes_namespace` has it.
    static let appsNamespaceLabels: [String: String] = [
        "__meta_kubernetes_namespace_label_kubernetes_io_metadata_name": "apps",
        "__meta_kubernetes_namespace_labelpresent_kubernetes_io_metadata_name": "true",
        "__meta_kubernetes_namespace_label_team": "platform",
        "__meta_kubernetes_namespace_labelpresent_team": "true",
        "__meta_kubernetes_namespace_labelpresent_tier": "true",
        "__meta_kubernetes_namespace_annotation_contact_owner": "sre@example.com",
        "__meta_kubernetes_namespace_annotationpresent_contact_owner": "true",
    ]

    static func labelMap(_ labels: Labels) -> [String: String] {
        Dictionary(labels.pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    @Test func namespaceFixtureDecodes() throws {
        let namespace = try roleFixture("namespace-apps", as: Namespace.self)
        #expect(namespace.metadata.name == "apps")
        #expect(Namespace.clusterPath == "/api/v1/namespaces")
        #expect(Namespace.namespacedPath("apps") == "/api/v1/namespaces")
    }

    @Test func podGroupGetsNodeAndNamespaceLabels() throws {
        let pod = try roleFixture("pod-podinfo-kind-worker", as: Pod.self)
        let node = try roleFixture("node-kind-worker", as: Node.self)
        let namespace = try roleFixture("namespace-apps", as: Namespace.self)

        let plain = PodRole.groups(for: pod)
        let withNode = PodRole.groups(for: pod, node: node)
        let withBoth = PodRole.groups(for: pod, node: node, namespace: namespace)

        #expect(withBoth.targets == plain.targets)
        #expect(withBoth.source == plain.source)
        #expect(withNode.labels == labelSet(Self.labelMap(plain.labels), Self.kindWorkerLabels))
        #expect(withBoth.labels == labelSet(Self.labelMap(plain.labels), Self.kindWorkerLabels, Self.appsNamespaceLabels))
        #expect(PodRole.groups(for: pod, namespace: namespace).labels == labelSet(Self.labelMap(plain.labels), Self.appsNamespaceLabels))
    }

    @Test func podWithoutIPStaysEmpty() throws {
        var pod = try roleFixture("pod-podinfo-kind-worker", as: Pod.self)
        pod.status?.podIP = nil
        let node = try roleFixture("node-kind-worker", as: Node.self)
        #expect(PodRole.groups(for: pod, node: node) == TargetGroup(source: "pod/apps/podinfo-6b8f9c7d4-abcde"))
    }

    // Prometheus pod_test.go TestPodDiscoveryWithNodeSelector: with attach_metadata.node, a pod
    // whose node is not in the node store (filtered out by the node selectors) gives an empty group.
    @Test func podOnAnUnknownNodeIsDroppedWhenNodeMetadataIsAttached() throws {
        let pod = try roleFixture("pod-podinfo-kind-worker", as: Pod.self)
        let node = try roleFixture("node-kind-worker", as: Node.self)
        #expect(
            PodRole.groups(for: pod, node: nil, attachNodeMetadata: true) == TargetGroup(source: "pod/apps/podinfo-6b8f9c7d4-abcde"))
        #expect(PodRole.groups(for: pod, node: node, attachNodeMetadata: true) == PodRole.groups(for: pod, node: node))
        // Without attach_metadata.node the node is not needed.
        #expect(!PodRole.groups(for: pod, node: nil).targets.isEmpty)
    }

    @Test func endpointSliceTargetsGetTheirNodesLabels() throws {
        let slice = try roleFixture("endpointslice-podinfo", as: EndpointSlice.self)
        let node = try roleFixture("node-kind-worker", as: Node.self)
        let namespace = try roleFixture("namespace-apps", as: Namespace.self)
        let plain = EndpointSliceRole.groups(for: slice, services: [], pods: [])
        let group = EndpointSliceRole.groups(for: slice, services: [], pods: [], nodes: [node], namespace: namespace)

        #expect(group.labels == labelSet(Self.labelMap(plain.labels), Self.appsNamespaceLabels))
        try #require(group.targets.count == 2 && plain.targets.count == 2)
        // The first endpoint is on kind-worker (known), the second on kind-worker2 (unknown).
        #expect(group.targets[0] == labelSet(Self.labelMap(plain.targets[0]), Self.kindWorkerLabels))
        #expect(group.targets[1] == plain.targets[1])
    }

    @Test func endpointSliceNodeTargetRefWinsOverNodeName() throws {
        let node = try roleFixture("node-kind-worker", as: Node.self)
        let slice = EndpointSlice(
            metadata: ObjectMeta(name: "s", namespace: "default"), addressType: "IPv4",
            endpoints: [
                SliceEndpoint(addresses: ["172.18.0.3"], nodeName: "other", targetRef: ObjectReference(kind: "Node", name: "kind-worker"))
            ],
            ports: [SlicePort(port: 10250)])
        let target = try #require(EndpointSliceRole.groups(for: slice, services: [], pods: [], nodes: [node]).targets.first)
        #expect(Self.labelMap(target)["__meta_kubernetes_node_name"] == "kind-worker")
    }

    @Test func endpointsTargetsGetTheirNodesLabels() throws {
        let endpoints = try roleFixture("endpoints-podinfo", as: Endpoints.self)
        let node = try roleFixture("node-kind-worker", as: Node.self)
        let namespace = try roleFixture("namespace-apps", as: Namespace.self)
        let plain = EndpointsRole.groups(for: endpoints, services: [], pods: [])
        let group = EndpointsRole.groups(for: endpoints, services: [], pods: [], nodes: [node], namespace: namespace)

        #expect(group.labels == labelSet(Self.labelMap(plain.labels), Self.appsNamespaceLabels))
        try #require(group.targets.count == plain.targets.count)
        for (got, want) in zip(group.targets, plain.targets) {
            let onWorker = Self.labelMap(want)["__meta_kubernetes_endpoint_node_name"] == "kind-worker"
            #expect(got == (onWorker ? labelSet(Self.labelMap(want), Self.kindWorkerLabels) : want))
        }
        #expect(group.targets.contains { Self.labelMap($0)["__meta_kubernetes_node_name"] == "kind-worker" })
    }

    @Test func endpointsAddressReferringToANodeGetsItsLabels() throws {
        let node = try roleFixture("node-kind-worker", as: Node.self)
        let endpoints = Endpoints(
            metadata: ObjectMeta(name: "kubelet", namespace: "kube-system"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointAddress(ip: "172.18.0.3", targetRef: ObjectReference(kind: "Node", name: "kind-worker"))],
                    ports: [EndpointPort(name: "https-metrics", port: 10250, protocol: "TCP")])
            ])
        let target = try #require(EndpointsRole.groups(for: endpoints, services: [], pods: [], nodes: [node]).targets.first)
        #expect(Self.labelMap(target)["__meta_kubernetes_node_label_kubernetes_io_os"] == "linux")
    }

    @Test func serviceAndIngressGroupsGetNamespaceLabels() throws {
        let service = try roleFixture("service-podinfo", as: KubernetesService.self)
        let ingress = try roleFixture("ingress-podinfo", as: Ingress.self)
        let namespace = try roleFixture("namespace-apps", as: Namespace.self)
        #expect(
            ServiceRole.groups(for: service, namespace: namespace).labels
                == labelSet(Self.labelMap(ServiceRole.groups(for: service).labels), Self.appsNamespaceLabels))
        #expect(
            IngressRole.groups(for: ingress, namespace: namespace).labels
                == labelSet(Self.labelMap(IngressRole.groups(for: ingress).labels), Self.appsNamespaceLabels))
    }

    // MARK: - config

    static func parse(_ entry: String) throws(ConfigErrors) -> KubernetesSDConfig? {
        let yaml = "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - \(entry)\n"
        return try ConfigLoader.parse(yaml: yaml, file: "f.yml").scrapeConfigs.first?.kubernetesSDConfigs.first
    }

    @Test func attachMetadataDefaultsToOff() throws {
        let sd = try #require(try Self.parse("{role: pod}"))
        #expect(sd.attachMetadata == KubernetesSDConfig.AttachMetadata())
        #expect(!sd.attachMetadata.node && !sd.attachMetadata.namespace)
    }

    @Test(arguments: [
        ("{role: pod, attach_metadata: {node: true}}", true, false),
        ("{role: endpoints, attach_metadata: {node: true, namespace: true}}", true, true),
        ("{role: endpointslice, attach_metadata: {namespace: true}}", false, true),
        ("{role: service, attach_metadata: {namespace: true, node: false}}", false, true),
        // Prometheus accepts `node` for every role and ignores it where there is no node.
        ("{role: ingress, attach_metadata: {node: true}}", true, false),
        ("{role: pod, attach_metadata: {}}", false, false),
        ("{role: pod, attach_metadata: }", false, false),
    ])
    func parsesAttachMetadata(entry: String, node: Bool, namespace: Bool) throws {
        let sd = try #require(try Self.parse(entry))
        #expect(sd.attachMetadata.node == node)
        #expect(sd.attachMetadata.namespace == namespace)
    }

    @Test(arguments: [
        ("{role: pod, attach_metadata: {nodes: true}}", "unknown key \"nodes\""),
        ("{role: pod, attach_metadata: {node: yes-please}}", "expected true or false"),
        ("{role: pod, attach_metadata: [node]}", "expected a mapping"),
    ])
    func invalidAttachMetadataIsAnError(entry: String, message: String) {
        do {
            _ = try Self.parse(entry)
            Issue.record("accepted: \(entry)")
        } catch {
            #expect(error.errors.contains { $0.message.contains(message) }, "\(error)")
        }
    }
}
