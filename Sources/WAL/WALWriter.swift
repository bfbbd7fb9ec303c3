import Logging
import Synchronization

/// What the writer thread publishes for other threads after each group of commits (and at
/// open): the accessors of ``WriteAheadLog`` and ``WriteAheadLog/sync()`` read it.
struct WriterSnapshot: Sendable {
    /// Just after the last written commit.
    var head: WALPosition
    var seriesCount: Int
    var metadataCount: Int
    var headSize: Int
    /// The segment being written; nil when a failure ended it.
    var file: SegmentFile?
    /// Segments below this may be removed: the segment being written, or when a failure ended it,
    /// the next one to be created.
    var firstKeptSegment: Int
    /// pwrite(2) calls made so far.
    var writeCalls: Int
}

/// Counters shared by the writer thread and the log's callers.
final class WALCounters: Sendable {
    let samplesAppended = Atomic<Int>(0)
    let writeFailures = Atomic<Int>(0)
}

/// Test hooks (internal; production code passes none).
struct WALTestHooks: Sendable {
    /// Replaces the fsync of the segment in ``WriteAheadLog/sync()`` (runs on the I/O pool).
    var syncSegment: (@Sendable (SegmentFile) throws -> Void)?
    /// Called on the writer thread with the size of each group of commits it took, before it
    /// writes them.
    var beforeGroup: (@Sendable (Int) -> Void)?

    init(syncSegment: (@Sendable (SegmentFile) throws -> Void)? = nil, beforeGroup: (@Sendable (Int) -> Void)? = nil) {
        self.syncSegment = syncSegment
        self.beforeGroup = beforeGroup
    }
}

/// One queued ``WriteAheadLog/commit(_:)``: its batch and the continuation of the caller, who
/// waits for the writer thread.
struct CommitRequest: Sendable {
    var batch: AppendBatch
    let continuation: CheckedContinuation<CommitOutcome, any Error>
}

/// What the log's callers and its writer thread share, under one ``ConditionLock``. Held only
/// briefly (queueing, taking, publishing), never across I/O.
struct WriterMailbox: Sendable {
    enum Lifecycle: Sendable {
        /// Commits are taken.
        case open
        /// ``WriteAheadLog/close()`` was called: no new commits; the writer drains the queued
        /// ones, then syncs and closes.
        case closing
        /// The writer has closed the log and exited.
        case closed
    }

    var lifecycle = Lifecycle.open
    /// Commits waiting for the writer, oldest first. Only the writer takes them out. Bounded
    /// without a limit of its own: every caller waits for its commit, so this holds at most one
    /// batch per task committing at that moment.
    var requests: [CommitRequest] = []
    /// `close()` calls waiting for the writer to finish; resumed by it, once each (the first
    /// with the result of the final sync, the others with success).
    var closeWaiters: [CheckedContinuation<Void, any Error>] = []
    /// Set when the log goes away without `close()`: the writer exits without a final sync.
    var stop = false
    var published: WriterSnapshot
    /// A segment was created or removed since the last successful directory fsync.
    var directoryNeedsSync = false
    /// Tasks in ``WriteAheadLog/waitForCommit(after:)``, by id, with the head they wait past.
    var headWaiters: [Int: (after: WALPosition, continuation: CheckedContinuation<Void, Never>)] = [:]
    var nextWaiterID = 0

    /// Takes the waiters that the published head (or the log's closing) releases.
    mutating func takeReleasedHeadWaiters() -> [CheckedContinuation<Void, Never>] {
        guard !headWaiters.isEmpty else { return [] }
        let closing = lifecycle != .open
        let released = headWaiters.filter { closing || $0.value.after != published.head }
        for id in released.keys { headWaiters[id] = nil }
        return released.values.map(\.continuation)
    }
}

/// The log's writer: the only code that touches ``WriterState`` once the log is open, run by
/// one dedicated thread (``WorkerThread``) from `init` until `close()` (or `deinit`).
///
/// Loop: sleep until commits are queued (or the log closes); take **every** queued commit (a
/// group, in FIFO order); commit them with ``WriterState/commitGroup(_:segmentSize:now:)`` (one
/// pwrite per segment touched); count and log; hand the records written to the committed-record
/// feed; publish the new snapshot; drop the batches; then
/// resume each caller's continuation with its own result. Every request taken is resumed
/// exactly once, after the snapshot that includes it is published (so `head` and ``sync()``
/// cover every commit that has returned). On `close()`, the queue is drained before the final
/// fsync; the close callers are resumed last, and the thread exits.
struct WALWriter: Sendable {
    var state: WriterState
    let mailbox: ConditionLock<WriterMailbox>
    /// Where the records written go, decoded (nil when the feed is off).
    let feed: CommittedRecordWindow?
    let segmentSize: Int
    let counters: WALCounters
    let logger: Logger
    let hooks: WALTestHooks

    private enum Work {
        case commits
        case close
        case stop
    }

    /// The thread's body.
    mutating func run() {
        var group: [CommitRequest] = []
        while true {
            let work = mailbox.withLock(waitingUntil: { !$0.requests.isEmpty || $0.lifecycle != .open || $0.stop }) { m -> Work in
                if !m.requests.isEmpty {
                    swap(&group, &m.requests)  // the emptied array goes back, keeping its capacity
                    return .commits
                }
                return m.stop ? .stop : .close
            }
            switch work {
            case .commits:
                commit(&group)
            case .close:
                finishClosing()
                return
            case .stop:
                return
            }
        }
    }

    /// Commits a group, publishes, and resumes its callers; leaves `group` empty.
    private mutating func commit(_ group: inout [CommitRequest]) {
        hooks.beforeGroup?(group.count)
        let results = state.commitGroup(group.lazy.map(\.batch), segmentSize: segmentSize, now: .now)
        precondition(results.count == group.count)
        for (request, result) in zip(group, results) { account(request.batch, result) }
        publish()
        // Let go of the batches before resuming, so that a caller reusing its batch finds its
        // storage uniquely referenced again (no copy).
        let continuations = group.map(\.continuation)
        group.removeAll(keepingCapacity: true)
        for (continuation, result) in zip(continuations, results) {
            continuation.resume(with: result.mapError { WALError.writeFailed(underlying: $0) })
        }
    }

    /// Counters and the failure streak's log lines, for one commit.
    private mutating func account(_ batch: AppendBatch, _ result: WriterState.CommitResult) {
        switch result {
        case .success:
            counters.samplesAppended.add(batch.sampleCount, ordering: .relaxed)
            if state.failureStreak > 0 {
                logger.info("WAL writes recovered", metadata: ["failedCommits": "\(state.failureStreak)", "segment": "\(state.segment)"])
                state.failureStreak = 0
            }
        case .failure(let error):
            counters.writeFailures.add(1, ordering: .relaxed)
            if state.failureStreak == 0 {
                logger.error("WAL write failed (disk full?); commits are refused until a write succeeds", metadata: [
                    "error": "\(error)", "segment": "\(state.segment)",
                ])
            }
            state.failureStreak += 1
        }
    }

    /// Hands the records written to the feed, then publishes the snapshot and wakes the tasks
    /// waiting for a commit (which then find the records in the feed).
    private mutating func publish() {
        if let feed, !state.feedOutbox.isEmpty || state.feedGap {
            feed.append(state.feedOutbox, afterGap: state.feedGap)
            state.feedOutbox.removeAll(keepingCapacity: true)
            state.feedGap = false
        }
        let snapshot = state.snapshot
        let dirty = state.directoryDirty
        state.directoryDirty = false
        let released = mailbox.withLock { m in
            m.published = snapshot
            if dirty { m.directoryNeedsSync = true }
            return m.takeReleasedHeadWaiters()
        }
        for waiter in released { waiter.resume() }
    }

    /// After the last queued commit: the final write and fsync, then `.closed`, then the close
    /// callers are resumed.
    private mutating func finishClosing() {
        let directoryNeedsSync = mailbox.withLock { m in
            defer { m.directoryNeedsSync = false }
            return m.directoryNeedsSync
        }
        var result: Result<Void, any Error> = .success(())
        do {
            try state.finish(syncDirectory: directoryNeedsSync || state.directoryDirty)
        } catch {
            result = .failure(error)
        }
        state.directoryDirty = false
        let snapshot = state.snapshot
        // Free the tables here, before the close callers resume: `close()` joins this thread, and
        // that join should then wait for nothing but the thread's end.
        state = WriterState(directory: state.directory, compression: state.compression, metadataRetention: state.metadataRetention)
        let (waiters, headWaiters) = mailbox.withLock { m in
            m.published = snapshot
            m.lifecycle = .closed
            defer { m.closeWaiters.removeAll() }
            return (m.closeWaiters, m.takeReleasedHeadWaiters())
        }
        for waiter in headWaiters { waiter.resume() }
        for (i, waiter) in waiters.enumerated() {
            waiter.resume(with: i == 0 ? result : .success(()))
        }
    }
}
