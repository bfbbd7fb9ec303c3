import Model
import Synchronization
import WAL

/// One generation of shards: created when the endpoint starts and at each reshard. Shard `i`
/// of a set of `n` carries the samples of the series whose `ref % n == i`.
final class ShardSet: Sendable {
    let queues: [ShardQueue]
    /// The read position when this set began receiving samples.
    let start: Cursor
    /// Per-shard cursors restored from the stored progress (first set only, same shard count).
    let floors: [Cursor]
    /// Fired when the set this one replaced has drained; this one sends only after that, so a
    /// series' samples never overtake each other.
    let previousDrained: OneShotEvent?
    /// Fired when every sender of this set has finished.
    let drained = OneShotEvent()
    private let running: Mutex<Int>

    init(
        count: Int, capacity: Int, start: Cursor, floors: [Cursor] = [], firstBatchEnds: [Cursor?] = [], previous: ShardSet?,
        clock: any AgentClock
    ) {
        queues = (0..<max(1, count)).map { i in
            ShardQueue(capacity: capacity, firstBatchEnd: i < firstBatchEnds.count ? firstBatchEnds[i] : nil, clock: clock)
        }
        self.start = start
        self.floors = floors
        self.previousDrained = previous?.drained
        running = Mutex(queues.count)
    }

    var count: Int { queues.count }

    /// The queue of series `ref`.
    func queue(for ref: SeriesRef) -> ShardQueue { queues[Int(ref % UInt64(queues.count))] }

    /// No more samples come: the senders flush what is queued and finish.
    func close() { for q in queues { q.close() } }

    /// Lets the watcher, if it waits for room in one of the queues, look at a request.
    func wakeProducer() { for q in queues { q.wakeProducer() } }

    /// Samples and exemplars queued or in flight.
    var pendingCounts: (samples: Int, exemplars: Int) {
        queues.reduce((0, 0)) { total, queue in
            let p = queue.pendingCounts
            return (total.0 + p.samples, total.1 + p.exemplars)
        }
    }

    /// One of the set's senders returned; the last one fires ``drained``.
    func senderFinished() {
        let last = running.withLock { n -> Bool in
            n -= 1
            return n == 0
        }
        if last { drained.fire() }
    }
}

/// The endpoint's shard sets: the current one, which the watcher fills, and the one it
/// replaced while that one still sends what it holds. Resharding is a hand-off between the
/// watcher (which switches sets between two WAL records, so every sample goes to exactly one
/// set) and the shard runner (which starts the new set's senders): ``newSets`` carries each new
/// set to the runner.
final class ShardSets: Sendable {
    private struct State {
        var current: ShardSet
        var draining: ShardSet?
        /// A shard count the reshard policy asked for, applied by the watcher.
        var pendingReshard: Int?
    }

    private let state: Mutex<State>
    /// Sets created by ``reshard(to:at:capacity:clock:)``, for the runner; finished by ``finish()``.
    let newSets: AsyncStream<ShardSet>
    private let newSetsContinuation: AsyncStream<ShardSet>.Continuation

    init(first: ShardSet) {
        state = Mutex(State(current: first))
        (newSets, newSetsContinuation) = AsyncStream.makeStream(of: ShardSet.self)
    }

    var current: ShardSet { state.withLock { $0.current } }
    var draining: ShardSet? { state.withLock { $0.draining } }
    /// The draining set (if any) and the current one.
    var all: [ShardSet] { state.withLock { [$0.draining, $0.current].compactMap { $0 } } }
    var isResharding: Bool { state.withLock { $0.draining != nil } }

    /// Asks the watcher to move to `count` shards at its next record (ignored while a previous
    /// reshard still drains, or when the count is the current one).
    func requestReshard(to count: Int) {
        state.withLock { s in
            if s.draining == nil, s.current.count != count { s.pendingReshard = count }
        }
    }

    /// Called by the watcher between records: if a reshard is pending, starts a set of that many
    /// shards beginning at `position` and returns (old, new); the old set is closed by the caller.
    func reshardIfRequested(at position: Cursor, capacity: Int, clock: any AgentClock) -> (old: ShardSet, new: ShardSet)? {
        let swapped = state.withLock { s -> (ShardSet, ShardSet)? in
            guard let count = s.pendingReshard else { return nil }
            s.pendingReshard = nil
            guard s.draining == nil, s.current.count != count else { return nil }
            let old = s.current
            let new = ShardSet(count: count, capacity: capacity, start: position, previous: old, clock: clock)
            s.draining = old
            s.current = new
            return (old, new)
        }
        if let swapped { newSetsContinuation.yield(swapped.1) }
        return swapped
    }

    /// The set that was draining has finished: it no longer counts for progress.
    func drainingFinished(_ set: ShardSet) {
        state.withLock { s in
            if s.draining === set { s.draining = nil }
        }
    }

    /// No more sets come (the watcher has stopped).
    func finish() { newSetsContinuation.finish() }
}
