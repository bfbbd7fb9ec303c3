/// The difference between two whole sets of groups of one provider, for providers that re-read
/// everything each time (file, HTTP, DNS) but report only what changed (``Discoverer``).
struct TargetGroupChanges {
    /// The groups last reported, by source.
    private(set) var current: [String: TargetGroup] = [:]

    init(_ groups: [TargetGroup] = []) {
        current = Self.bySource(groups)
    }

    /// Takes `groups` as the whole new set and returns what to report: the groups that are new or
    /// differ, then an empty group for each source that `groups` no longer has (sorted by source).
    mutating func update(to groups: [TargetGroup]) -> [TargetGroup] {
        let sources = Set(groups.map(\.source))
        let changed = groups.filter { current[$0.source] != $0 }
            + current.keys.filter { !sources.contains($0) }.sorted().map { TargetGroup(source: $0) }
        current = Self.bySource(groups)
        return changed
    }

    private static func bySource(_ groups: [TargetGroup]) -> [String: TargetGroup] {
        Dictionary(groups.map { ($0.source, $0) }, uniquingKeysWith: { $1 })
    }
}
