#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Snappy
import Synchronization
import Model

/// Errors of the WAL's own making (I/O failures are ``WALIOError``).
public enum WALError: Error, CustomStringConvertible {
    /// The log was closed; nothing more can be committed.
    case closed
    /// A commit could not be written (disk full, I/O error…). Nothing of it is in the log: its
    /// refs, metadata and releases were rolled back and the segment truncated to where the write
    /// that carried it started (or, if that failed, the next commit starts a new segment). Every
    /// commit of that write (group commit) gets this error. Later commits try again.
    case writeFailed(underlying: any Error)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .closed: "the WAL is closed"
        case .writeFailed(let e): "WAL write failed (disk full?), commit rolled back: \(e)"
        case .invalidArgument(let s): "invalid argument: \(s)"
        }
    }
}

/// What opening the log found and did (``WriteAheadLog/openReport``).
public struct WALOpenReport: Sendable {
    /// Time taken by the replay (opening, including repairs and starting the new segment).
    public var duration: Duration
    /// Segments read by the replay (the newest ones, back to one holding a commit).
    public var segments: Int
    /// Bytes read by the replay.
    public var bytes: Int
    /// Series in the table after the replay.
    public var series: Int
    /// Metric families in the metadata table after the replay.
    public var metadata: Int
    /// A rough estimate of the series table's memory, in bytes (label strings, arrays, hash table).
    public var seriesMemoryBytes: Int
    /// Corrupt or torn places found (each counted once).
    public var corruptions: Int
    /// What was done about each corruption, e.g. "truncated segment 00000003 from 1234 to 1200
    /// bytes: checksum mismatch".
    public var repairs: [String]
}

/// One segment file, as ``WriteAheadLog/segmentInfo()`` reports it.
public struct WALSegmentInfo: Sendable, Equatable {
    public var number: Int
    /// Size in bytes.
    public var size: Int
    /// Last modification time of the file: when its newest data was written (the segment being
    /// written changes with every commit; the others never change after they are completed).
    public var modified: Date
}

/// The write-ahead log: a directory of segments holding series records (ref → labels), metadata
/// records (family → HELP/TYPE/UNIT), samples records (ref, timestamp, value) and exemplars
/// records (ref, timestamp, value, labels). See `docs/wal-format.md` for the format.
///
/// One instance owns the directory for writing. All methods are thread-safe.
///
/// Threads:
/// - **Writes** (`pwrite`, segment starts, the fsync of a completed segment, the final fsync of
///   ``close()``) run on the log's own **writer thread**, one dedicated OS thread started by
///   `init` and joined by ``close()`` (or `deinit`). ``commit(_:)`` queues the batch and
///   suspends the calling task; the writer takes every batch queued at that moment and writes
///   them together (group commit).
/// - **``sync()``**'s fsyncs run on a ``BlockingIOPool``, without holding the lock that commits
///   take, so a slow fsync delays no commit.
/// - The accessors (``head``, ``seriesCount``, …) read what the writer last published, under a
///   lock held only for copying it: they never wait for I/O.
/// - `init` (replay) and ``segmentInfo()``, ``segments()``, ``removeSegments(before:)`` (directory
///   listing, `stat`, `unlink`) run on the caller's thread.
public final class WriteAheadLog: Sendable {
    public let directory: String
    let segmentSize: Int
    let compression: WALCompression
    let metadataRetention: Duration
    let logger: Logger
    /// What opening the log found: replay time and size, series, corruptions and repairs.
    public let openReport: WALOpenReport
    /// Shared with the writer thread: the commit queue, the lifecycle and the published state.
    private let mailbox: ConditionLock<WriterMailbox>
    private let writerThread: WorkerThread
    private let ioPool: BlockingIOPool
    /// Whether `ioPool` was created here (then ``close()`` shuts it down).
    private let ownsIOPool: Bool
    private let counters = WALCounters()
    private let hooks: WALTestHooks
    private let segmentStartHandler = Mutex<(@Sendable (Int) -> Void)?>(nil)
    /// The records written last, decoded (nil when the feed is off).
    private let feed: CommittedRecordWindow?

    /// Opens (creating if needed) the log in `directory`.
    ///
    /// Replays existing segments to rebuild the series table (labels ↔ ref) and the metadata
    /// table, so refs stay stable across restarts; the next new ref is the largest seen plus one.
    /// A torn or corrupted tail of the newest segment (bad checksum, cut-short fragment, garbage)
    /// is truncated to the end of the last valid record and logged once as a warning; corruption
    /// in an older segment is counted and logged but left alone (readers skip it with
    /// ``WALReader/skipCorruptSegment()``). Replay never fails because of the files' content.
    /// Then starts a fresh segment, headed by the full series and metadata tables, and logs
    /// "WAL replayed" at info (``openReport`` has the figures). If that segment cannot be written
    /// (disk full) the log opens all the same, so that readers can drain it and segments can be
    /// removed: commits throw ``WALError/writeFailed(underlying:)`` until one can start it.
    ///
    /// Series found by the replay count as released (``AppendBatch/release(ref:)``) after the new
    /// segment's head is written: the ones nobody appends again before the next segment starts
    /// are forgotten then (after a restart no appender holds a ref; the scraper appends by labels,
    /// which keeps a series' ref).
    ///
    /// The replay and the first segment's fsyncs run on the calling thread, before the writer
    /// thread starts: open the log before serving, not on the cooperative pool of a busy process.
    ///
    /// - Parameters:
    ///   - segmentSize: A new segment starts when a commit would make the current one bigger than
    ///     this. A segment holding a single commit may be bigger, and when the series head at the
    ///     start of a segment is more than half the limit, the limit for that segment is twice the
    ///     head's size (so that a big series table cannot make every commit roll over).
    ///   - compression: How record payloads are stored (snappy when it makes them smaller, by
    ///     default). Readers read both, whatever this is.
    ///   - metadataRetention: A metric family's metadata is forgotten (left out of later segment
    ///     heads) when it was not announced again in this time *and* not in the last two
    ///     segments. Appenders re-announce their metadata more often than this (the scraper: every
    ///     10 minutes).
    ///   - ioPool: Where ``sync()`` runs its fsyncs. Pass the agent's shared pool; the log does
    ///     not shut a pool it was given down. When nil, the log starts its own one-thread pool
    ///     (`wal-sync`) and shuts it down in ``close()``.
    ///   - committedRecordWindow: Bytes of decoded records the log keeps for
    ///     ``committedRecords(from:maxRecords:)`` (the newest records written; 4 MiB by
    ///     default). 0 turns that feed off: the writer then builds no decoded records at all.
    public convenience init(
        directory: String, segmentSize: Int = WriteAheadLog.defaultSegmentSize, compression: WALCompression = .snappy,
        metadataRetention: Duration = .seconds(15 * 60), ioPool: BlockingIOPool? = nil,
        committedRecordWindow: Int = WriteAheadLog.defaultCommittedRecordWindow, logger: Logger
    ) throws {
        try self.init(
            directory: directory, segmentSize: segmentSize, compression: compression, metadataRetention: metadataRetention,
            ioPool: ioPool, committedRecordWindow: committedRecordWindow, logger: logger, hooks: WALTestHooks())
    }

    /// The default segment size: 128 MiB, as Prometheus's `wlog`. Every segment starts with a head
    /// listing every live series (about 29 B per series with snappy on the bench's workload), so
    /// the segment size sets how often that is repeated: with 200,000 series, 32 MiB segments
    /// spend 17 % of the log on heads, 128 MiB ones 4 %.
    public static let defaultSegmentSize = 128 << 20

    /// The default bound of the committed-record window: 4 MiB, about 170 commits of 1,000
    /// samples.
    public static let defaultCommittedRecordWindow = 4 << 20

    /// The public `init`, with test hooks.
    init(
        directory: String, segmentSize: Int = WriteAheadLog.defaultSegmentSize, compression: WALCompression = .snappy,
        metadataRetention: Duration = .seconds(15 * 60), ioPool: BlockingIOPool? = nil,
        committedRecordWindow: Int = WriteAheadLog.defaultCommittedRecordWindow, logger: Logger,
        hooks: WALTestHooks
    ) throws {
        guard segmentSize > 0 else { throw WALError.invalidArgument("segmentSize must be positive, got \(segmentSize)") }
        guard committedRecordWindow >= 0 else { throw WALError.invalidArgument("committedRecordWindow must not be negative") }
        guard metadataRetention >= .zero else { throw WALError.invalidArgument("metadataRetention must not be negative") }
        let clock = ContinuousClock()
        let started = clock.now
        self.directory = directory
        self.segmentSize = segmentSize
        self.compression = compression
        self.metadataRetention = metadataRetention
        self.logger = logger
        self.hooks = hooks
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let existing = try WALSegment.list(directory)
        var s = WriterState(
            directory: directory, compression: compression, metadataRetention: metadataRetention, feedLimit: committedRecordWindow)
        var replay = try WriterState.replay(directory: directory, segments: existing, logger: logger, into: &s)
        let first = (existing.last ?? -1) + 1
        // Replayed metadata counts as announced now, in the new segment.
        for family in s.metadata.keys { s.metadata[family]!.segment = first }
        var startFailure: (any Error)?
        do {
            try s.startSegment(first, now: clock.now)
        } catch let error as WALIOError where !existing.isEmpty {
            // Disk full (or the like) at start: open anyway, so that remote write can send what is
            // in the log and free space; commits fail (and are counted) until a segment can start.
            startFailure = error
            s.segment = existing.last!
            s.offset = try Syscall.statIfExists(WALSegment.path(directory, s.segment))?.size ?? 0
            s.failureStreak = 1
            logger.error("WAL cannot start a new segment (disk full?); commits are refused until a write succeeds", metadata: [
                "error": "\(error)", "segment": "\(first)",
            ])
        }
        if startFailure == nil, let file = s.file {
            try Syscall.fsyncFile(file.fd, path: file.path)
            try Syscall.syncDirectory(directory)
            s.directoryDirty = false
        }
        // Nobody holds a ref from before the restart: what is not appended again goes at the next
        // segment start. (Not when the new segment could not start: the next start is then the
        // one that writes the replayed table.)
        if startFailure == nil { s.released = RefSet(s.series.refs) }
        // The feed starts after the first segment's head (readers that start before it read the
        // file).
        s.feedOutbox.removeAll()
        s.feedGap = false
        feed = committedRecordWindow > 0
            ? CommittedRecordWindow(limit: committedRecordWindow, end: startFailure == nil ? s.position : nil) : nil

        replay.duration = clock.now - started
        replay.series = s.series.count
        replay.metadata = s.metadata.count
        replay.seriesMemoryBytes = s.estimatedSeriesMemory()
        openReport = replay
        logger.info("WAL replayed", metadata: [
            "directory": "\(directory)", "duration": "\(replay.duration)", "series": "\(replay.series)",
            "metadata": "\(replay.metadata)", "segments": "\(replay.segments)", "bytes": "\(replay.bytes)",
            "seriesMemoryBytes": "\(replay.seriesMemoryBytes)", "corruptions": "\(replay.corruptions)",
            "segment": "\(first)", "nextRef": "\(s.nextRef)",
        ])
        if startFailure != nil { counters.writeFailures.add(1, ordering: .relaxed) }

        let mailbox = ConditionLock(WriterMailbox(published: s.snapshot, directoryNeedsSync: s.directoryDirty))
        s.directoryDirty = false
        self.mailbox = mailbox
        if let ioPool {
            self.ioPool = ioPool
            ownsIOPool = false
        } else {
            self.ioPool = try BlockingIOPool(threads: 1, name: "wal-sync")
            ownsIOPool = true
        }
        // The state moves to the writer thread. Nothing here may keep a copy: its copy-on-write
        // tables would then be copied on the writer's first change.
        let handoff = Handoff(WALWriter(
            state: s, mailbox: mailbox, feed: feed, segmentSize: segmentSize, counters: counters, logger: logger, hooks: hooks))
        s = WriterState(directory: directory, compression: compression, metadataRetention: metadataRetention)
        writerThread = try WorkerThread(name: "wal-writer") {
            guard var writer = handoff.take() else { return }
            writer.run()
        }
    }

    deinit {
        // No commit can be queued (each caller keeps the log alive until its commit returns):
        // the writer exits at once, without the final fsync that `close()` does. The segment's
        // descriptor closes with the writer's state.
        mailbox.withLock { $0.stop = true }
        mailbox.signal()
        writerThread.joinOrDetach()
    }

    /// Resolves the batch's new series against the series table (an existing label set reuses its
    /// ref, an unknown one gets a new ref), then writes one series record for the refs that are
    /// really new (none if there are none), one metadata record for the metadata entries that are
    /// new or changed (none if there are none), one samples record (none if the batch has no
    /// samples) and one exemplars record (none if the batch has no exemplars). Exemplars appended
    /// for a new series (``AppendBatch/appendExemplar(newSeries:timestamp:value:labels:)``) get the
    /// ref resolved here. The batch's releases take effect. Not durable until ``sync()``.
    ///
    /// The work is done by the log's writer thread; the calling task is suspended meanwhile (its
    /// thread is not blocked). Commits are taken in the order they were queued. The writer takes
    /// every commit queued at that moment and writes their records with a single write(2)
    /// (group commit; a group that starts a new segment is written with one write per segment),
    /// so readers see whole records at once, and every commit's records in one piece. When this
    /// returns, the records are written (readers see them) and ``head`` is past them.
    ///
    /// Cancelling the calling task does not cancel a commit: it is written all the same and this
    /// returns its refs.
    ///
    /// When the write fails (disk full, I/O error), every commit it carried is undone: their new
    /// refs and metadata are forgotten, their releases are not applied, the segment is truncated
    /// to where the write started, and each caller gets ``WALError/writeFailed(underlying:)``.
    /// The next commit tries again. The first failure of a streak is logged at error, the
    /// recovery at info. After ``close()`` was called, throws ``WALError/closed``.
    ///
    /// - Returns: The refs of the batch's new series, in the order they were appended.
    public func commit(_ batch: AppendBatch) async throws -> [SeriesRef] {
        let outcome = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommitOutcome, any Error>) in
            // Resumed exactly once: here when the commit is refused or trivial, otherwise by the
            // writer thread, which takes every queued request (it runs until the queue is drained,
            // even when closing).
            let answer = mailbox.withLock { m -> Result<CommitOutcome, any Error>? in
                guard case .open = m.lifecycle else { return .failure(WALError.closed) }
                if batch.isEmpty { return .success(.empty) }
                m.requests.append(CommitRequest(batch: batch, continuation: continuation))
                return nil
            }
            if let answer {
                continuation.resume(with: answer)
            } else {
                mailbox.signal()  // only the writer thread waits on the mailbox
            }
        }
        if let started = outcome.startedSegment, let handler = segmentStartHandler.withLock({ $0 }) {
            handler(started)
        }
        return outcome.refs
    }

    /// Returns once the log's ``head`` differs from `head` (a commit was written after it), when
    /// the log is closing, or when the task is cancelled: how a reader that has caught up with
    /// the log waits for more without polling. Resumed by the writer thread right after it
    /// publishes the commit, so a read started afterwards sees it.
    public func waitForCommit(after head: WALPosition) async {
        let id = mailbox.withLock { m -> Int in
            defer { m.nextWaiterID += 1 }
            return m.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = mailbox.withLock { m -> Bool in
                    if m.published.head != head || m.lifecycle != .open || Task.isCancelled { return true }
                    m.headWaiters[id] = (head, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            mailbox.withLock { $0.headWaiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// The records the log wrote starting exactly at `position`, decoded, from memory: for a
    /// reader that has caught up with the log (a remote-write endpoint following it), so that it
    /// need not read back and decode what was just written.
    ///
    /// After each group of commits is written, and before ``head`` moves past it (so before
    /// ``waitForCommit(after:)`` returns for it), the writer thread adds the records it wrote,
    /// **every** record (segment heads included, when they fit), to a window of the newest
    /// records, bounded by `committedRecordWindow` bytes (the oldest are dropped first). Records
    /// of a write that failed are never added.
    ///
    /// - Returns:
    ///   - Up to `maxRecords` records, in write order, each exactly what a ``WALReader`` created
    ///     at `position` would return, one after another: `record` from ``WALReader/next()``,
    ///     `start` its ``WALReader/lastRecordStart`` and `next` its position after the record.
    ///     The first starts at `position`, or, when `position` is the end of a complete segment,
    ///     at offset 0 of the next segment (as a reader moves on); each following one starts at
    ///     the previous one's `next` or, likewise, at the start of the next segment. To go on,
    ///     call again with the last one's `next`.
    ///   - An empty array when `position` is the end of what the log has written (``head``, as
    ///     of the writer's last publication): nothing more yet; wait with
    ///     ``waitForCommit(after:)``.
    ///   - `nil` when the window does not hold the record at `position`: it was dropped (the
    ///     caller is too far behind), or never added (written before the log was opened, a segment
    ///     head bigger than the window, records written around a failed write), or `position` is
    ///     not a record boundary of this log. The caller reads the file with a ``WALReader`` from
    ///     `position` instead; that is always correct, this is only faster.
    ///
    /// Thread-safe; takes a lock held only for copying the references out (never across I/O),
    /// so it may be called from any task. The records are **shared**: other callers get the
    /// same arrays (copy-on-write values, so a caller that changes its copy gets its own, but it
    /// must not assume the arrays are fresh copies, nor that they stay in the window).
    public func committedRecords(from position: WALPosition, maxRecords: Int = 64) -> [CommittedRecord]? {
        feed?.records(from: position, maxRecords: maxRecords)
    }

    /// The committed-record window, for tests.
    var committedRecordWindow: CommittedRecordWindow? { feed }

    /// Calls `handler` with the new segment's number whenever a commit starts a new segment
    /// (after the commit, outside the log's lock, in the task that committed): the moment the
    /// closed segments grew, when size caps are worth checking. One handler; setting another
    /// replaces it.
    public func onSegmentStart(_ handler: @escaping @Sendable (Int) -> Void) {
        segmentStartHandler.withLock { $0 = handler }
    }

    /// fsync of the segment being written, and of the directory if segments were created or
    /// removed since the last sync: every commit that returned before this call is durable when
    /// it returns.
    ///
    /// The fsyncs run on the log's ``BlockingIOPool``; the log's lock is held only to take a
    /// reference to the segment's file, so commits go on meanwhile (a rollover meanwhile is safe:
    /// the old segment's descriptor stays open until this is done with it, and the writer
    /// fsyncs a segment before it starts the next). A failure is counted in ``writeFailures``.
    /// After ``close()`` was called, throws ``WALError/closed``.
    public func sync() async throws {
        let (file, syncDirectory) = try mailbox.withLock { m -> (SegmentFile?, Bool) in
            guard case .open = m.lifecycle else { throw WALError.closed }
            defer { m.directoryNeedsSync = false }
            return (m.published.file, m.directoryNeedsSync)
        }
        let syncSegment = hooks.syncSegment ?? { file in try Syscall.fsyncFile(file.fd, path: file.path) }
        let directory = self.directory
        do {
            try await ioPool.run {
                if let file { try syncSegment(file) }
                if syncDirectory { try Syscall.syncDirectory(directory) }
            }
        } catch {
            if syncDirectory { mailbox.withLock { $0.directoryNeedsSync = true } }
            if error is BlockingIOPoolShutDownError { throw WALError.closed }
            counters.writeFailures.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// Stops taking commits (later ones throw ``WALError/closed``), lets the writer thread write
    /// the commits already queued, then fsyncs the segment (and the directory if needed) on the
    /// writer thread, and ends the thread. Throws when that last write or fsync fails (the log is
    /// closed all the same). Closing again (or concurrently) waits for the first close and does
    /// nothing more.
    public func close() async throws {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Resumed exactly once: here if the writer has already closed the log, otherwise
                // by the writer when it has (it takes the waiters and sets `.closed` together).
                let closed = mailbox.withLock { m -> Bool in
                    switch m.lifecycle {
                    case .closed:
                        return true
                    case .open, .closing:
                        m.lifecycle = .closing
                        m.closeWaiters.append(continuation)
                        return false
                    }
                }
                if closed {
                    continuation.resume()
                } else {
                    mailbox.signal()
                }
            }
        } catch {
            await finishClosing()
            throw error
        }
        await finishClosing()
    }

    /// After the writer has closed the log: joins its thread (which has nothing left to do but
    /// return, so this waits for no I/O) and shuts down the log's own I/O pool.
    private func finishClosing() async {
        writerThread.join()
        if ownsIOPool { await ioPool.shutdown() }
    }

    private var published: WriterSnapshot {
        mailbox.withLock { $0.published }
    }

    /// Position just after the last committed record.
    public var head: WALPosition {
        published.head
    }

    /// Number of series in the series table (released ones count until they are dropped at the
    /// next segment start).
    public var seriesCount: Int {
        published.seriesCount
    }

    /// Number of metric families in the metadata table.
    public var metadataCount: Int {
        published.metadataCount
    }

    /// Bytes of the series head at the start of the current segment (series and metadata).
    public var headSize: Int {
        published.headSize
    }

    /// Samples written by successful commits since the log was opened.
    public var samplesAppended: Int {
        counters.samplesAppended.load(ordering: .relaxed)
    }

    /// Failed commits and syncs since the log was opened.
    public var writeFailures: Int {
        counters.writeFailures.load(ordering: .relaxed)
    }

    /// pwrite(2) calls the writer has made (segment heads included), for tests.
    var writeCalls: Int {
        published.writeCalls
    }

    /// Commits queued for the writer thread and not yet taken by it, for tests.
    var queuedCommits: Int {
        mailbox.withLock { $0.requests.count }
    }

    /// Numbers of the segments on disk, ascending.
    public func segments() throws -> [Int] {
        try WALSegment.list(directory)
    }

    /// Every segment on disk, ascending: number, size and last modification time. A segment
    /// removed while this runs is left out.
    public func segmentInfo() throws -> [WALSegmentInfo] {
        try WALSegment.list(directory).compactMap { n in
            guard let st = try Syscall.statIfExists(WALSegment.path(directory, n)) else { return nil }
            return WALSegmentInfo(number: n, size: st.size, modified: st.modified)
        }
    }

    /// Total size of the segments on disk, in bytes.
    public var sizeOnDisk: Int {
        ((try? segmentInfo()) ?? []).reduce(0) { $0 + $1.size }
    }

    /// Deletes every segment with a number below `segment`, never the one being written.
    /// Readers that have an old segment open keep reading it.
    public func removeSegments(before segment: Int) throws {
        // The writer only ever moves to later segments: a snapshot a little old is safe.
        let current = published.firstKeptSegment
        let limit = min(segment, current)
        var removed = 0
        for n in try WALSegment.list(directory) where n < limit {
            // A segment removed concurrently is fine.
            if try Syscall.unlinkIfExists(WALSegment.path(directory, n)) { removed += 1 }
        }
        if removed > 0 {
            mailbox.withLock { $0.directoryNeedsSync = true }
            logger.debug("WAL segments removed", metadata: ["before": "\(limit)", "count": "\(removed)"])
        }
    }
}

/// Moves a value to another thread without leaving a copy behind (so that its copy-on-write
/// storage stays uniquely referenced there).
final class Handoff<Value: Sendable>: Sendable {
    private let slot: Mutex<Value?>

    init(_ value: consuming Value) {
        slot = Mutex(value)
    }

    /// The value, the first time; nil afterwards.
    func take() -> Value? {
        slot.withLock { $0.take() }
    }
}
