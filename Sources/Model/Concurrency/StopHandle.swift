/// Lets the owner of a task group stop one of its children: the child runs its work through
/// ``run(_:)``, and ``stop()`` cancels that work (and only it).
///
/// Swift's task groups cancel all their children or none; a service that keeps one child per
/// scrape target or discovery provider needs to stop a single one when its target leaves, and
/// still await it with the rest. Stopping before the child started makes ``run(_:)`` return
/// at once without running the work.
public final class StopHandle: Sendable {
    private let stopped = OneShotEvent()

    public init() {}

    /// Whether ``stop()`` was called.
    public var isStopped: Bool { stopped.hasFired }

    /// Cancels the work running in ``run(_:)``. Idempotent.
    public func stop() { stopped.fire() }

    /// Runs `work` until it returns or ``stop()`` cancels it.
    public func run(_ work: @escaping @Sendable () async -> Void) async {
        guard !stopped.hasFired else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await work() }
            group.addTask { [stopped] in await stopped.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}
