import Model
import Synchronization

/// A clock that moves only when the test moves it: the time source for queue, backoff,
/// batching, resharding and scheduling tests, so that none of them depends on how fast or
/// loaded the machine is.
///
/// `now` starts at the real `ContinuousClock.now` of its creation (so instants compare with
/// real ones) and wall time at ``startWallMilliseconds``; both advance together by
/// ``advance(by:)`` or ``advance(to:)``. A sleeper whose deadline has been reached is resumed
/// (in deadline order) by the call that moved the time; a cancelled sleeper throws
/// `CancellationError` at once and is forgotten.
///
/// Tests make progress deterministic by waiting until the code under test is parked in a
/// sleep before moving the time: ``waitForSleepers(_:)``.
public final class ManualClock: AgentClock {
    /// 2023-11-14T22:13:20Z, a round number far from any real "now".
    public static let defaultStartWallMilliseconds: Int64 = 1_700_000_000_000

    public let origin: ContinuousClock.Instant
    public let startWallMilliseconds: Int64

    private struct Sleeper {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var elapsed: Duration = .zero
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
    }

    private let state = Mutex(State())

    public init(startWallMilliseconds: Int64 = ManualClock.defaultStartWallMilliseconds) {
        origin = ContinuousClock.now
        self.startWallMilliseconds = startWallMilliseconds
    }

    public var now: ContinuousClock.Instant { origin.advanced(by: state.withLock { $0.elapsed }) }

    public var minimumResolution: Duration { .nanoseconds(1) }

    public var wallMilliseconds: Int64 { startWallMilliseconds + state.withLock { $0.elapsed }.milliseconds }

    /// How far the clock has moved since it was created.
    public var elapsed: Duration { state.withLock { $0.elapsed } }

    /// Tasks parked in `sleep` now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The earliest deadline of a parked sleeper, if any.
    public var nextDeadline: ContinuousClock.Instant? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    /// The deadlines of the parked sleepers, earliest first (for checks and failure messages).
    public var deadlines: [ContinuousClock.Instant] { state.withLock { $0.sleepers.values.map(\.deadline).sorted() } }

    /// The parked sleepers' deadlines as offsets from ``origin`` (`[250 ms, 1 s, 10 s]`), for
    /// failure messages.
    public var parkedDescription: String { "\(deadlines.map { $0 - origin })" }

    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { s -> Bool in
                    if Task.isCancelled || origin.advanced(by: s.elapsed) >= deadline { return true }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Moves the time forward by `duration`, resuming every sleeper whose deadline is reached.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a clock does not go back")
        let due = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.elapsed += duration
            return Self.takeDue(&s, now: origin.advanced(by: s.elapsed))
        }
        for continuation in due { continuation.resume() }
    }

    /// Moves the time forward to `instant` (nothing if it has passed).
    public func advance(to instant: ContinuousClock.Instant) {
        let delta = instant - now
        if delta > .zero { advance(by: delta) }
    }

    /// Waits (in real time, polling every millisecond) until at least `count` tasks are parked
    /// in `sleep`. Returns `false` if that did not happen within `timeout` of real time (a test
    /// that gets `false` has found a task that never went back to sleep).
    @discardableResult
    public func waitForSleepers(_ count: Int, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while sleeperCount < count {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    /// Waits (in real time, polling every millisecond) until at least `count` tasks are parked
    /// in `sleep` with exactly `deadline`. Returns `false` if that did not happen within
    /// `timeout` of real time.
    ///
    /// Since the time moves only when the test moves it, the deadline a piece of code computes
    /// (`now + backoff`, `arrival + batch deadline`, the next slot) is exact: waiting for a
    /// sleeper with that deadline both says the code is parked there and checks what it waits for.
    @discardableResult
    public func waitForSleeper(until deadline: ContinuousClock.Instant, count: Int = 1, timeout: Duration = .seconds(60)) async -> Bool {
        let giveUp = ContinuousClock.now + timeout
        while state.withLock({ s in s.sleepers.values.filter { $0.deadline == deadline }.count }) < count {
            if ContinuousClock.now >= giveUp { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    /// Moves the time, one sleeper's deadline at a time, until `instant`: before each step it
    /// waits for `sleepers` tasks to be parked again, so that work woken by one step is done (and
    /// has scheduled its next wake-up) before the time moves on.
    public func run(until instant: ContinuousClock.Instant, sleepers: Int = 1, timeout: Duration = .seconds(60)) async {
        while now < instant {
            await waitForSleepers(sleepers, timeout: timeout)
            let next = min(nextDeadline ?? instant, instant)
            advance(to: next)
            if next == instant { break }
        }
    }

    /// ``run(until:sleepers:timeout:)`` for `duration` from now.
    public func run(for duration: Duration, sleepers: Int = 1, timeout: Duration = .seconds(60)) async {
        await run(until: now.advanced(by: duration), sleepers: sleepers, timeout: timeout)
    }

    private static func takeDue(_ s: inout State, now: ContinuousClock.Instant) -> [CheckedContinuation<Void, any Error>] {
        let due = s.sleepers.filter { $0.value.deadline <= now }.sorted { $0.value.deadline < $1.value.deadline }
        for (id, _) in due { s.sleepers[id] = nil }
        return due.map(\.value.continuation)
    }
}
