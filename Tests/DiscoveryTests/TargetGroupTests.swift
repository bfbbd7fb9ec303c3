import Discovery
import Model
import Testing

struct TargetGroupTests {
    static let pod = labelSet(["__meta_kubernetes_pod_name": "web-1", "__meta_kubernetes_pod_ip": "10.0.0.1"])

    @Test func aTargetsLabelsAreItsOwnOverItsBaseLabels() {
        let group = TargetGroup(
            source: "slice/a",
            targets: [labelSet(["__address__": "10.0.0.1:80", "__meta_kubernetes_pod_ip": "own"]), labelSet(["__address__": "h:1"])],
            bases: [Self.pod, .empty], labels: labelSet(["__meta_kubernetes_namespace": "ns"]))
        #expect(group.targetLabels(0) == labelSet(["__address__": "10.0.0.1:80", "__meta_kubernetes_pod_ip": "own", "__meta_kubernetes_pod_name": "web-1"]))
        #expect(group.targetLabels(1) == labelSet(["__address__": "h:1"]))
        #expect(group.addresses == ["10.0.0.1:80", "h:1"])
    }

    @Test func groupsAreEqualWhenEveryTargetsLabelsAreHoweverTheyAreSplit() {
        let own = labelSet(["__address__": "10.0.0.1:80"])
        let split = TargetGroup(source: "slice/a", targets: [own], bases: [Self.pod], labels: .empty)
        let merged = TargetGroup(source: "slice/a", targets: [own.addingMissing(from: Self.pod)])
        #expect(split == merged)
        let otherPod = TargetGroup(source: "slice/a", targets: [own], bases: [labelSet(["__meta_kubernetes_pod_name": "web-2"])], labels: .empty)
        #expect(split != otherPod)
    }

    @Test func baseLabelsThatAreAllEmptyAreNotKept() {
        let group = TargetGroup(source: "s", targets: [labelSet(["__address__": "a:1"])], bases: [.empty], labels: .empty)
        #expect(group.targetBaseLabels.isEmpty)
    }
}
