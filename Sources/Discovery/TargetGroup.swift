import Model

/// A group of targets sharing labels, as every discovery mechanism reports them (Prometheus's
/// `targetgroup.Group`): each target has labels of its own (at least `__address__`), and the
/// group has labels every target gets unless it has its own of that name.
///
/// A provider reports groups by `source`; a later group with the same source replaces the
/// earlier one, and a group with no targets says that the source is gone (its targets must be
/// dropped).
public struct TargetGroup: Sendable, Equatable {
    /// Unique within its provider: `"<file path>:<index>"`, `static/0`, `pod/NS/NAME`, ….
    public var source: String
    /// Each target's own labels, including `__address__`, in the order discovery built them.
    public var targets: [Labels]
    /// Labels of every target in the group, including discovery's `__meta_*` labels; a target's
    /// own label of the same name wins.
    public var labels: Labels

    /// A group whose targets carry labels of their own (Kubernetes discovery).
    public init(source: String, targets: [Labels] = [], labels: Labels = .empty) {
        self.source = source
        self.targets = targets
        self.labels = labels
    }

    /// A group whose targets are bare `host:port` addresses (static and file discovery).
    public init(source: String, addresses: [String], labels: Labels) {
        self.init(source: source, targets: addresses.map { Labels([Label("__address__", $0)]) }, labels: labels)
    }

    /// The targets' addresses.
    public var addresses: [String] { targets.compactMap { $0["__address__"] } }
}
