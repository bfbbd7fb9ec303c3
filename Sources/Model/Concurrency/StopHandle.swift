import Synchronization

/// Lets the owner of a task group stop one of its children: the child runs its work through
/// ``run(_:)``, and ``stop()`` cancels that work (and only it).
///
/// Swift's task groups cancel all their children or none; a service that keeps one child per
/// scrape target or discovery provider needs to stop a single one when its target leaves, and
/// still await it with the rest. Stopping before the child started makes ``run(_:)`` return
/// at once without running the work.
///
/// The work runs in one child task of ``run(_:)``, which waits for it to return or for
/// ``stop()`` (then cancels it): one task besides the caller's, which matters with a loop per
/// target (thousands of them). A handle runs its work once.
public final class StopHandle: Sendable {
    private let stopRequested = Atomic<Bool>(false)
    /// Fired by ``stop()`` or when the work returns.
    private let ended = OneShotEvent()

    public init() {}

    /// Whether ``stop()`` was called.
    public var isStopped: Bool { stopRequested.load(ordering: .acquiring) }

    /// Cancels the work running in ``run(_:)``. Idempotent.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        ended.fire()
    }

    /// Runs `work` until it returns or ``stop()`` cancels it.
    public func run(_ work: @escaping @Sendable () async -> Void) async {
        guard !isStopped else { return }
        await withDiscardingTaskGroup { group in
            group.addTask { [ended] in
                await work()
                ended.fire()
            }
            // Returns on stop(), when the work returned, or when this task is cancelled.
            await ended.wait()
            group.cancelAll()
        }
    }
}
