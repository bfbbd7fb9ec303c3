import AgentConfig
import Testing

@testable import Discovery

/// The join rebuilds exactly the groups a change touches: the object's own group, and the
/// groups whose last build looked the object up (found or not).
@Suite struct KubernetesJoinTests {
    let slice: EndpointSlice
    let service: KubernetesService
    let pods: [Pod]

    init() throws {
        slice = try roleFixture("endpointslice-podinfo")
        service = try roleFixture("service-podinfo")
        pods = try roleFixture("pods-podinfo", as: KubernetesList<Pod>.self).items
    }

    static func upsert<T: KubernetesResource>(_ object: T) -> [InformerChange<T>] {
        let meta = object.metadata
        return [.upsert(key: meta.namespace.map { "\($0)/\(meta.name)" } ?? meta.name, object)]
    }

    /// Builds and records every dirty group, as the discoverer does.
    static func flush(_ join: inout KubernetesJoin) -> [TargetGroup] {
        let keys = join.takeDirty()
        let builds = keys.sorted().map { join.build($0) }
        return join.record(builds)
    }

    /// A slice with a second, unrelated slice next to it.
    func joined() -> KubernetesJoin {
        var join = KubernetesJoin(config: KubernetesSDConfig(role: .endpointslice))
        var other = slice
        other.metadata.name = "other-slice"
        other.metadata.labels = ["kubernetes.io/service-name": "other"]
        other.endpoints = []
        join.apply(Self.upsert(slice) + Self.upsert(other))
        join.apply(Self.upsert(service))
        for pod in pods { join.apply(Self.upsert(pod)) }
        join.markAllDirty()
        _ = Self.flush(&join)
        return join
    }

    @Test func aPodChangeRebuildsOnlyTheSlicesThatPointAtIt() throws {
        var join = joined()
        var pod = try #require(pods.first { $0.metadata.name == "podinfo-6b8f9c7d4-abcde" })
        pod.metadata.labels?["version"] = "2"
        join.apply(Self.upsert(pod))
        #expect(join.dirty == ["endpointslice/apps/podinfo-x7k2p"])
        let groups = Self.flush(&join)
        #expect(groups.map(\.source) == ["endpointslice/apps/podinfo-x7k2p"])
        #expect(groups[0].allTargetLabels.contains { $0["__meta_kubernetes_pod_label_version"] == "2" })
    }

    @Test func aPodNoSliceMentionsRebuildsNothing() throws {
        var join = joined()
        var pod = pods[0]
        pod.metadata.name = "unrelated"
        join.apply(Self.upsert(pod))
        #expect(join.dirty.isEmpty)
    }

    @Test func aServiceThatAppearsLaterIsJoinedIntoItsSlices() throws {
        var join = KubernetesJoin(config: KubernetesSDConfig(role: .endpointslice))
        join.apply(Self.upsert(slice))
        join.markAllDirty()
        let first = Self.flush(&join)
        #expect(first.count == 1 && first[0].labels["__meta_kubernetes_service_name"] == nil)

        // The build looked the Service up and did not find it; its arrival rebuilds the slice.
        join.apply(Self.upsert(service))
        #expect(join.dirty == ["endpointslice/apps/podinfo-x7k2p"])
        #expect(Self.flush(&join).first?.labels["__meta_kubernetes_service_name"] == "podinfo")
    }

    @Test func aDeletedSliceIsReportedAsAnEmptyGroupOnce() {
        var join = joined()
        join.apply([InformerChange<EndpointSlice>.delete(key: "apps/podinfo-x7k2p")])
        #expect(Self.flush(&join) == [TargetGroup(source: "endpointslice/apps/podinfo-x7k2p")])
        // Its pods no longer rebuild it.
        join.apply(Self.upsert(pods[0]))
        #expect(join.dirty.isEmpty)
        #expect(Self.flush(&join).isEmpty)
    }

    @Test func aChangeDuringABuildMarksTheGroupDirtyAgain() throws {
        var join = joined()
        join.apply(Self.upsert(slice))
        let keys = join.takeDirty()
        let snapshot = join
        // A pod the slice depends on changes after the copy was taken, before the builds are recorded.
        var pod = try #require(pods.first { $0.metadata.name == "podinfo-6b8f9c7d4-abcde" })
        pod.metadata.labels?["version"] = "3"
        join.apply(Self.upsert(pod))
        _ = join.record(keys.map { snapshot.build($0) })
        #expect(join.dirty == ["endpointslice/apps/podinfo-x7k2p"])
        #expect(Self.flush(&join).first?.allTargetLabels.contains { $0["__meta_kubernetes_pod_label_version"] == "3" } == true)
    }

    @Test func attachMetadataNodeChangesRebuildThePodsOnTheNode() throws {
        var config = KubernetesSDConfig(role: .pod)
        config.attachMetadata.node = true
        var join = KubernetesJoin(config: config)
        for pod in pods { join.apply(Self.upsert(pod)) }
        join.markAllDirty()
        _ = Self.flush(&join)
        var node: Node = try roleFixture("node-kind-worker")
        node.metadata.labels = ["zone": "a"]
        join.apply(Self.upsert(node))
        let onNode = pods.filter { $0.spec?.nodeName == node.metadata.name }.map { "pod/\($0.metadata.namespace!)/\($0.metadata.name)" }
        #expect(!onNode.isEmpty)
        #expect(join.dirty == Set(onNode))
        #expect(Self.flush(&join).allSatisfy { $0.labels["__meta_kubernetes_node_label_zone"] == "a" })
    }

    @Test func aNodeThatLosesItsAddressesKeepsWhatWasReported() throws {
        var join = KubernetesJoin(config: KubernetesSDConfig(role: .node))
        var node: Node = try roleFixture("node-kind-worker")
        join.apply(Self.upsert(node))
        join.markAllDirty()
        #expect(Self.flush(&join).count == 1)
        // Prometheus sends nothing for a node without an address: its targets stay.
        node.status?.addresses = []
        join.apply(Self.upsert(node))
        #expect(Self.flush(&join).isEmpty)
        join.apply([InformerChange<Node>.delete(key: node.metadata.name)])
        #expect(Self.flush(&join) == [TargetGroup(source: NodeRole.source(name: node.metadata.name))])
    }
}
