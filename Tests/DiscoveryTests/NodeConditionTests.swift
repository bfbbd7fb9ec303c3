import Model
import Testing

@testable import Discovery

// `role: node`'s `__meta_kubernetes_node_condition_<type>` (Prometheus node.go `nodeLabels`): one
// label per entry of `status.conditions`, the type lower-cased then sanitised, the status
// lower-cased.

struct NodeConditionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var conditions: [NodeCondition]?
    var expected: [String: String]
    var testDescription: String { name }
}

@Suite struct NodeConditionTests {
    /// Prometheus node_test.go `makeNode("test", "1.2.3.4", "aws:///test-zone/i-test", {}, {}, conditions)`.
    static func prometheusNode(_ conditions: [NodeCondition]?) -> Node {
        Node(
            metadata: ObjectMeta(name: "test", labels: [:], annotations: [:]),
            spec: NodeSpec(providerID: "aws:///test-zone/i-test"),
            status: NodeStatus(
                addresses: [NodeAddress(type: "InternalIP", address: "1.2.3.4")],
                daemonEndpoints: .init(kubeletEndpoint: .init(port: 10250)), conditions: conditions))
    }

    static let testTarget = labelSet([
        "__address__": "1.2.3.4:10250",
        "instance": "test",
        "__meta_kubernetes_node_address_InternalIP": "1.2.3.4",
    ])

    static let testLabels = [
        "__meta_kubernetes_node_name": "test",
        "__meta_kubernetes_node_provider_id": "aws:///test-zone/i-test",
    ]

    // Prometheus node_test.go TestNodeDiscoveryConditions, case by case.
    static let prometheusCases: [NodeConditionCase] = [
        NodeConditionCase(
            name: "node ready true", conditions: [NodeCondition(type: "Ready", status: "True")],
            expected: ["__meta_kubernetes_node_condition_ready": "true"]),
        NodeConditionCase(
            name: "node ready false", conditions: [NodeCondition(type: "Ready", status: "False")],
            expected: ["__meta_kubernetes_node_condition_ready": "false"]),
        NodeConditionCase(
            name: "node ready unknown", conditions: [NodeCondition(type: "Ready", status: "Unknown")],
            expected: ["__meta_kubernetes_node_condition_ready": "unknown"]),
        NodeConditionCase(name: "node no conditions", conditions: nil, expected: [:]),
        NodeConditionCase(
            name: "node multiple conditions",
            conditions: [
                NodeCondition(type: "MemoryPressure", status: "False"),
                NodeCondition(type: "Ready", status: "True"),
                NodeCondition(type: "DiskPressure", status: "False"),
            ],
            expected: [
                "__meta_kubernetes_node_condition_memorypressure": "false",
                "__meta_kubernetes_node_condition_ready": "true",
                "__meta_kubernetes_node_condition_diskpressure": "false",
            ]),
    ]

    @Test(arguments: prometheusCases)
    func prometheusConditions(_ testCase: NodeConditionCase) {
        expectGroup(
            NodeRole.groups(for: Self.prometheusNode(testCase.conditions)),
            TargetGroup(source: "node/test", targets: [Self.testTarget], labels: labelSet(Self.testLabels, testCase.expected)))
    }

    // The same rules on a node as the API returns it, with a condition type that needs sanitising
    // and one whose status is Unknown.
    @Test func fixture() throws {
        let node: Node = try roleFixture("node-prometheus-conditions")
        expectGroup(
            NodeRole.groups(for: node),
            TargetGroup(
                source: "node/test", targets: [Self.testTarget],
                labels: labelSet(
                    Self.testLabels,
                    [
                        "__meta_kubernetes_node_condition_memorypressure": "false",
                        "__meta_kubernetes_node_condition_ready": "true",
                        "__meta_kubernetes_node_condition_diskpressure": "false",
                        "__meta_kubernetes_node_condition_networkunavailable": "unknown",
                        "__meta_kubernetes_node_condition_example_com_gpu_healthy": "true",
                    ])))
    }

    @Test func aLaterConditionOfTheSameLabelNameWins() throws {
        let node = Self.prometheusNode([
            NodeCondition(type: "Disk.Pressure", status: "True"),
            NodeCondition(type: "disk-pressure", status: "False"),
        ])
        let group = try #require(NodeRole.groups(for: node))
        #expect(group.labels["__meta_kubernetes_node_condition_disk_pressure"] == "false")
    }

    // Go's strings.ToLower maps each scalar alone, by its simple mapping.
    @Test(arguments: [
        ("Ready", "ready"),
        ("MemoryPressure", "memorypressure"),
        ("ΟΔΟΣ", "οδοσ"),
        ("İ", "i"),  // the simple mapping, not "i̇"
        ("ÄÖÜ", "äöü"),
    ])
    func lowercasingIsGos(_ text: String, _ expected: String) {
        #expect(Meta.lowercased(text) == expected)
    }

    @Test func nodeAttachMetadataCarriesNoConditions() throws {
        // addNodeLabels copies only the node's name, labels and annotations onto other roles' targets.
        let node: Node = try roleFixture("node-prometheus-conditions")
        var labels: LabelMap = [:]
        Meta.addNodeLabels(&labels, node)
        #expect(labels == ["__meta_kubernetes_node_name": "test"])
    }
}
