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
        let changes = Mutex(TargetGroupChanges(initial))
        await discovery.run(initial: initial, clock: clock, pool: pool) { groups in
            let changed = changes.withLock { $0.update(to: groups) }
            if !changed.isEmpty { await send(changed) }
        }
    }
}
