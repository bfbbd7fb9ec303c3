import Model
import Synchronization
import WAL

/// File discovery as a ``Discoverer``: ``FileDiscovery`` reports whole sets; this reports what
/// changed between them, and an empty group for each source that went away.
struct FileDiscoverer: Discoverer {
    let discovery: FileDiscovery
    /// What the first read gave (already known to the manager).
    let initial: [TargetGroup]
    let clock: any AgentClock
    let pool: BlockingIOPool

    func run(send: @escaping @Sendable ([TargetGroup]) async -> Void) async {
        let last = Mutex(Self.bySource(initial))
        await discovery.run(initial: initial, clock: clock, pool: pool) { groups in
            let changes = last.withLock { last in
                defer { last = Self.bySource(groups) }
                return Self.changes(from: last, to: groups)
            }
            if !changes.isEmpty { await send(changes) }
        }
    }

    private static func bySource(_ groups: [TargetGroup]) -> [String: TargetGroup] {
        Dictionary(groups.map { ($0.source, $0) }, uniquingKeysWith: { $1 })
    }

    /// The groups of `groups` that differ from `last`, and empty groups for the sources of `last`
    /// that `groups` no longer has.
    static func changes(from last: [String: TargetGroup], to groups: [TargetGroup]) -> [TargetGroup] {
        let sources = Set(groups.map(\.source))
        return groups.filter { last[$0.source] != $0 }
            + last.keys.filter { !sources.contains($0) }.sorted().map { TargetGroup(source: $0) }
    }
}
