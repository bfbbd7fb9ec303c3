import WAL

/// A group of targets sharing labels, as service discovery reports them (Prometheus's targetgroup.Group).
public struct TargetGroup: Sendable, Equatable {
    /// Where the group came from, unique per discovery: for file discovery `"<file path>:<index>"`.
    public var source: String
    /// `host:port` addresses; each becomes a target's `__address__`.
    public var targets: [String]
    /// Labels of every target in the group, including discovery's `__meta_*` labels.
    public var labels: Labels

    public init(source: String, targets: [String], labels: Labels) {
        self.source = source
        self.targets = targets
        self.labels = labels
    }
}
