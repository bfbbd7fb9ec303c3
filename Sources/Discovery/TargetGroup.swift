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
    /// Labels each target has below its own and above the group's, shared with other targets
    /// instead of copied into each (an endpoint target's pod labels, built once per pod): empty
    /// when no target has any, else one entry per target (`.empty` for a target without).
    public private(set) var targetBaseLabels: [Labels] = []
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

    /// A group whose targets each add their own labels to shared base labels (`bases[i]` for
    /// `targets[i]`, the same count).
    public init(source: String, targets: [Labels], bases: [Labels], labels: Labels) {
        precondition(targets.count == bases.count, "one base label set per target")
        self.init(source: source, targets: targets, labels: labels)
        if bases.contains(where: { $0.count > 0 }) { targetBaseLabels = bases }
    }

    /// The labels of target `index` without the group's: its own, then its base labels.
    public func targetLabels(_ index: Int) -> Labels {
        targetBaseLabels.isEmpty ? targets[index] : targets[index].addingMissing(from: targetBaseLabels[index])
    }

    /// Every target's labels without the group's (``targetLabels(_:)`` of each).
    public var allTargetLabels: [Labels] { targets.indices.map(targetLabels) }

    /// The targets' addresses.
    public var addresses: [String] { targets.indices.compactMap { targetLabels($0)["__address__"] } }

    /// Equal when source, group labels and every target's labels are; a target's split between
    /// own and base labels does not matter.
    public static func == (lhs: TargetGroup, rhs: TargetGroup) -> Bool {
        guard lhs.source == rhs.source, lhs.labels == rhs.labels, lhs.targets.count == rhs.targets.count else { return false }
        if lhs.targets == rhs.targets, lhs.targetBaseLabels == rhs.targetBaseLabels { return true }
        return lhs.targets.indices.allSatisfy { lhs.targetLabels($0) == rhs.targetLabels($0) }
    }
}
