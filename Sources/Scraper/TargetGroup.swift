import Model
import WAL

/// A group of targets sharing labels, as service discovery reports them (Prometheus's
/// targetgroup.Group): each target has labels of its own (at least `__address__`), and the group
/// has labels every target gets unless it has its own of that name.
public struct TargetGroup: Sendable, Equatable {
    /// Where the group came from, unique per discovery: `"<file path>:<index>"`, `pod/NS/NAME`, ….
    public var source: String
    /// Each target's own labels, including `__address__`.
    public var targets: [Labels]
    /// Labels of every target in the group, including discovery's `__meta_*` labels.
    public var labels: Labels

    /// A group whose targets are bare `host:port` addresses (static and file discovery).
    public init(source: String, targets: [String], labels: Labels) {
        self.init(source: source, targetLabels: targets.map { Labels([Label("__address__", $0)]) }, labels: labels)
    }

    /// A group whose targets carry labels of their own (Kubernetes discovery).
    public init(source: String, targetLabels: [Labels], labels: Labels) {
        self.source = source
        self.targets = targetLabels
        self.labels = labels
    }

    /// The targets' addresses.
    public var addresses: [String] { targets.compactMap { $0["__address__"] } }
}
