#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Snappy
import Synchronization

/// Errors of the WAL's own making (I/O failures are ``WALIOError``).
public enum WALError: Error, CustomStringConvertible {
    /// The log was closed; nothing more can be committed.
    case closed
    /// A commit could not be written (disk full, I/O error…). Nothing of it is in the log: its
    /// refs, metadata and releases were rolled back and the segment truncated to where the commit
    /// started (or, if that failed, the next commit starts a new segment). Later commits try again.
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
/// One instance owns the directory for writing. All methods are thread-safe; they block on file
/// I/O (`pwrite`, `fsync`), so call them from a thread that may block, not an event loop.
public final class WriteAheadLog: Sendable {
    public let directory: String
    let segmentSize: Int
    let compression: WALCompression
    let metadataRetention: Duration
    let logger: Logger
    /// What opening the log found: replay time and size, series, corruptions and repairs.
    public let openReport: WALOpenReport
    private let state: Mutex<WriterState>
    private let segmentStartHandler = Mutex<(@Sendable (Int) -> Void)?>(nil)
    private let writeFailureCount = Atomic<Int>(0)
    private let samplesAppendedCount = Atomic<Int>(0)

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
    public init(
        directory: String, segmentSize: Int = 32 << 20, compression: WALCompression = .snappy,
        metadataRetention: Duration = .seconds(15 * 60), logger: Logger
    ) throws {
        guard segmentSize > 0 else { throw WALError.invalidArgument("segmentSize must be positive, got \(segmentSize)") }
        guard metadataRetention >= .zero else { throw WALError.invalidArgument("metadataRetention must not be negative") }
        let clock = ContinuousClock()
        let started = clock.now
        self.directory = directory
        self.segmentSize = segmentSize
        self.compression = compression
        self.metadataRetention = metadataRetention
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let existing = try WALSegment.list(directory)
        var s = WriterState(directory: directory, compression: compression, metadataRetention: metadataRetention)
        var replay = try Self.replay(directory: directory, segments: existing, logger: logger, into: &s)
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
        if startFailure == nil {
            try Syscall.fsyncFile(s.fd, path: s.segmentPath)
            try Syscall.syncDirectory(directory)
            s.directoryNeedsSync = false
        }
        // Nobody holds a ref from before the restart: what is not appended again goes at the next
        // segment start. (Not when the new segment could not start: the next start is then the
        // one that writes the replayed table.)
        if startFailure == nil { s.released = RefSet(s.refsByLabels.values) }

        replay.duration = clock.now - started
        replay.series = s.refsByLabels.count
        replay.metadata = s.metadata.count
        replay.seriesMemoryBytes = s.estimatedSeriesMemory()
        openReport = replay
        logger.info("WAL replayed", metadata: [
            "directory": "\(directory)", "duration": "\(replay.duration)", "series": "\(replay.series)",
            "metadata": "\(replay.metadata)", "segments": "\(replay.segments)", "bytes": "\(replay.bytes)",
            "seriesMemoryBytes": "\(replay.seriesMemoryBytes)", "corruptions": "\(replay.corruptions)",
            "segment": "\(first)", "nextRef": "\(s.nextRef)",
        ])
        state = Mutex(s)
        if startFailure != nil { writeFailureCount.add(1, ordering: .relaxed) }
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 {
                try? s.flush()
                try? Syscall.closeFile(s.fd, path: s.segmentPath)
                s.fd = -1
            }
        }
    }

    /// Resolves the batch's new series against the series table (an existing label set reuses its
    /// ref, an unknown one gets a new ref), then writes one series record for the refs that are
    /// really new (none if there are none), one metadata record for the metadata entries that are
    /// new or changed (none if there are none), one samples record (none if the batch has no
    /// samples) and one exemplars record (none if the batch has no exemplars), all with a single
    /// write(2) before returning, so readers see whole records at once. Exemplars appended for a
    /// new series (``AppendBatch/appendExemplar(newSeries:timestamp:value:labels:)``) get the ref
    /// resolved here. The batch's releases take effect. Not durable until ``sync()``.
    ///
    /// When the write fails (disk full, I/O error) the commit is undone: its new refs and metadata
    /// are forgotten, its releases are not applied, the segment is truncated to where the commit
    /// started, and ``WALError/writeFailed(underlying:)`` is thrown. The next commit tries again.
    /// The first failure of a streak is logged at error, the recovery at info.
    ///
    /// - Returns: The refs of the batch's new series, in the order they were appended.
    public func commit(_ batch: AppendBatch) throws -> [SeriesRef] {
        var started: Int?
        defer {
            if let started, let handler = segmentStartHandler.withLock({ $0 }) { handler(started) }
        }
        return try state.withLock { s -> [SeriesRef] in
            try s.checkOpen()
            if batch.isEmpty { return [] }
            do {
                let before = s.segment
                let refs = try s.commit(batch, segmentSize: segmentSize, now: ContinuousClock.now)
                if s.segment != before { started = s.segment }
                samplesAppendedCount.add(batch.sampleCount, ordering: .relaxed)
                if s.failureStreak > 0 {
                    logger.info("WAL writes recovered", metadata: ["failedCommits": "\(s.failureStreak)", "segment": "\(s.segment)"])
                    s.failureStreak = 0
                }
                return refs
            } catch {
                writeFailureCount.add(1, ordering: .relaxed)
                if s.failureStreak == 0 {
                    logger.error("WAL write failed (disk full?); commits are refused until a write succeeds", metadata: [
                        "error": "\(error)", "segment": "\(s.segment)",
                    ])
                }
                s.failureStreak += 1
                throw WALError.writeFailed(underlying: error)
            }
        }
    }

    /// Calls `handler` with the new segment's number whenever a commit starts a new segment
    /// (after the commit, outside the log's lock): the moment the closed segments grew, when
    /// size caps are worth checking. One handler; setting another replaces it.
    public func onSegmentStart(_ handler: @escaping @Sendable (Int) -> Void) {
        segmentStartHandler.withLock { $0 = handler }
    }

    /// fsync of the current segment, and of the directory if segments were created or removed
    /// since the last sync. Holds the log's lock meanwhile (commits wait). A failure is counted in
    /// ``writeFailures``.
    public func sync() throws {
        try state.withLock { s in
            try s.checkOpen()
            do {
                try s.sync()
            } catch {
                writeFailureCount.add(1, ordering: .relaxed)
                throw error
            }
        }
    }

    /// Syncs and closes. Later commits throw ``WALError/closed``; closing again does nothing.
    public func close() throws {
        try state.withLock { s in
            guard case .open = s.status else { return }
            s.status = .closed
            guard s.fd >= 0 else {
                if s.directoryNeedsSync { try Syscall.syncDirectory(directory) }
                return
            }
            defer {
                try? Syscall.closeFile(s.fd, path: s.segmentPath)
                s.fd = -1
            }
            try s.flush()
            try s.sync()
        }
    }

    /// Position just after the last committed record.
    public var head: WALPosition {
        state.withLock { WALPosition(segment: $0.segment, offset: $0.offset) }
    }

    /// Number of series in the series table (released ones count until they are dropped at the
    /// next segment start).
    public var seriesCount: Int {
        state.withLock { $0.refsByLabels.count }
    }

    /// Number of metric families in the metadata table.
    public var metadataCount: Int {
        state.withLock { $0.metadata.count }
    }

    /// Bytes of the series head at the start of the current segment (series and metadata).
    public var headSize: Int {
        state.withLock { $0.headSize }
    }

    /// Samples written by successful commits since the log was opened.
    public var samplesAppended: Int {
        samplesAppendedCount.load(ordering: .relaxed)
    }

    /// Failed commits and syncs since the log was opened.
    public var writeFailures: Int {
        writeFailureCount.load(ordering: .relaxed)
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
        let current = state.withLock { $0.fd >= 0 ? $0.segment : $0.nextSegment }
        let limit = min(segment, current)
        var removed = 0
        for n in try WALSegment.list(directory) where n < limit {
            // A segment removed concurrently is fine.
            if try Syscall.unlinkIfExists(WALSegment.path(directory, n)) { removed += 1 }
        }
        if removed > 0 {
            state.withLock { $0.directoryNeedsSync = true }
            logger.debug("WAL segments removed", metadata: ["before": "\(limit)", "count": "\(removed)"])
        }
    }

    // MARK: Replay

    /// Rebuilds the series and metadata tables from the newest segments, repairing a corrupt tail
    /// of the newest one.
    ///
    /// Every segment starts with the full tables, so replay walks back from the newest segment
    /// until one that holds a commit's samples or exemplars record (whose head is therefore
    /// complete) and takes the union of what it found; entries found in newer segments win.
    /// Exemplars and samples records are not decoded (they do not affect the tables).
    static func replay(directory: String, segments: [Int], logger: Logger, into s: inout WriterState) throws -> WALOpenReport {
        var report = WALOpenReport(
            duration: .zero, segments: 0, bytes: 0, series: 0, metadata: 0, seriesMemoryBytes: 0, corruptions: 0, repairs: [])
        var maxRef: SeriesRef = 0
        let newest = segments.last
        for segment in segments.reversed() {
            var sawCommit = false
            var segmentMetadata: [String: MetadataRecord] = [:]
            let path = WALSegment.path(directory, segment)
            guard let file = try ReadOnlyFile.openIfExists(path: path) else { continue }
            report.segments += 1
            var scanner = SegmentScanner(file: file, segment: segment, offset: 0)
            scan: while true {
                let result = try scanner.next(finished: true)
                var problem: (start: Int, offset: Int, reason: String)?
                switch result {
                case .record(let start, _):
                    let payload = scanner.payload
                    switch payload.first {
                    case WALRecordType.samples.rawValue, WALRecordType.exemplars.rawValue:
                        sawCommit = true
                    case WALRecordType.series.rawValue, WALRecordType.metadata.rawValue:
                        do {
                            switch try RecordCodec.decode(payload) {
                            case .series(let list)?:
                                for r in list {
                                    maxRef = max(maxRef, r.ref)
                                    if s.refsByLabels[r.labels] == nil { s.refsByLabels[r.labels] = r.ref }
                                }
                            case .metadata(let list)?:
                                for m in list { segmentMetadata[m.family] = m }
                            default:
                                break
                            }
                        } catch {
                            problem = (start, start, error.reason)
                        }
                    default:
                        break
                    }
                case .endOfSegment, .notYet:
                    break scan
                case .corrupt(let start, let offset, let reason):
                    problem = (start, offset, reason)
                }
                if let problem {
                    report.corruptions += 1
                    let size = (try? Syscall.fileSize(file.fd, path: path)) ?? -1
                    let name = WALSegment.name(segment)
                    if segment == newest {
                        // The tail of the segment being written at a crash: cut it off, once.
                        var repair = "truncated segment \(name) from \(size) to \(problem.start) bytes"
                        do {
                            let fd = try Syscall.openFile(path, O_WRONLY)
                            defer { try? Syscall.closeFile(fd, path: path) }
                            try Syscall.truncateFile(fd, problem.start, path: path)
                            try Syscall.fsyncFile(fd, path: path)
                        } catch {
                            repair = "could not truncate segment \(name) at \(problem.start) (\(error)); writing goes on in a new segment"
                        }
                        report.repairs.append(repair + ": \(problem.reason) at offset \(problem.offset)")
                        logger.warning("WAL segment has a corrupt tail; truncating it to the last valid record", metadata: [
                            "segment": "\(path)", "offset": "\(problem.start)", "badOffset": "\(problem.offset)",
                            "reason": "\(problem.reason)", "droppedBytes": "\(size - problem.start)",
                        ])
                    } else {
                        // A complete segment damaged later (bit rot, a bad disk): its valid part
                        // stays; readers skip the rest.
                        report.repairs.append(
                            "left corrupt segment \(name) as it is (readers skip from offset \(problem.start)): \(problem.reason) at offset \(problem.offset)")
                        logger.warning("WAL segment is corrupt; records after the damage cannot be read", metadata: [
                            "segment": "\(path)", "offset": "\(problem.start)", "badOffset": "\(problem.offset)",
                            "reason": "\(problem.reason)", "unreadableBytes": "\(size - problem.start)",
                        ])
                    }
                    break scan
                }
            }
            report.bytes += scanner.offset
            for (family, m) in segmentMetadata where s.metadata[family] == nil {
                s.metadata[family] = WriterState.MetadataEntry(record: m, segment: segment, time: ContinuousClock.now)
            }
            if sawCommit { break }
        }
        s.nextRef = max(s.nextRef, maxRef + 1)
        return report
    }
}

/// The writer's state, guarded by the log's mutex.
struct WriterState {
    enum Status {
        case open
        case closed
    }

    struct MetadataEntry {
        var record: MetadataRecord
        /// The segment being written when it was last announced.
        var segment: Int
        var time: ContinuousClock.Instant
    }

    /// What a commit changed in memory, to take back when its write fails.
    struct Undo {
        var addedLabels: [Labels] = []
        var unreleased: [SeriesRef] = []
        var metadata: [(family: String, previous: MetadataEntry?)] = []
    }

    let directory: String
    let compression: WALCompression
    let metadataRetention: Duration
    var status: Status = .open
    /// The current segment's descriptor; -1 when a failure ended it and the next commit must
    /// start a new one.
    var fd: CInt = -1
    var segment = 0
    var segmentPath = ""
    /// The number the next new segment gets.
    var nextSegment = 0
    /// Bytes in the current segment, written or pending.
    var offset = 0
    /// Whether the current segment holds a commit (beyond its head).
    var segmentHasCommit = false
    /// Bytes of the head (series and metadata) at the start of the current segment.
    var headSize = 0
    /// Bytes appended to the current segment that are not written yet (emptied by every commit).
    var pending: [UInt8] = []
    var directoryNeedsSync = false
    /// Commits failed in a row.
    var failureStreak = 0

    var refsByLabels: [Labels: SeriesRef] = [:]
    var nextRef: SeriesRef = 1
    /// Refs whose appenders said they are done with them; dropped at the next segment start.
    var released = RefSet()
    var metadata: [String: MetadataEntry] = [:]

    var seriesScratch: [UInt8] = []
    var metadataScratch: [UInt8] = []
    var samplesScratch: [UInt8] = []
    var exemplarsScratch: [UInt8] = []
    var compressScratch: [UInt8] = []
    /// For the head's records (a commit that starts a segment has its own records in the others).
    var headScratch: [UInt8] = []

    /// Payload size above which the head is split into several records.
    static let headRecordLimit = 1 << 20
    /// Released series that start a new segment early once they are half of the table.
    static let releasedRolloverMinimum = 4096
    /// Payloads smaller than this are not worth compressing.
    static let minCompressLength = 64

    init(directory: String, compression: WALCompression, metadataRetention: Duration) {
        self.directory = directory
        self.compression = compression
        self.metadataRetention = metadataRetention
        pending.reserveCapacity(64 * 1024)
    }

    func checkOpen() throws {
        switch status {
        case .open: return
        case .closed: throw WALError.closed
        }
    }

    // MARK: Commit

    /// The body of ``WriteAheadLog/commit(_:)``: on failure, undoes everything and rethrows the
    /// I/O error.
    mutating func commit(_ batch: AppendBatch, segmentSize: Int, now: ContinuousClock.Instant) throws -> [SeriesRef] {
        var undo = Undo()

        // Series: resolve under the lock, encode only the really new ones.
        let checkReleased = !released.isEmpty
        // A series this batch releases but also appends by labels is in use again (a scraper
        // forgot it and then saw it again): it stays.
        let batchReleases: Set<SeriesRef>? = batch.released.isEmpty ? nil : Set(batch.released)
        var keptFromRelease: Set<SeriesRef> = []
        var refs: [SeriesRef] = []
        refs.reserveCapacity(batch.newSeries.count)
        var series = ByteEncoder(taking: &seriesScratch)
        series.byte(WALRecordType.series.rawValue)
        var newCount = 0
        for labels in batch.newSeries {
            if let ref = refsByLabels[labels] {
                refs.append(ref)
                if checkReleased, released.remove(ref) { undo.unreleased.append(ref) }
                if let batchReleases, batchReleases.contains(ref) { keptFromRelease.insert(ref) }
            } else {
                let ref = nextRef
                nextRef += 1
                refsByLabels[labels] = ref
                undo.addedLabels.append(labels)
                RecordCodec.appendSeries(ref: ref, labels: labels, to: &series)
                newCount += 1
                refs.append(ref)
            }
        }
        series.finish(into: &seriesScratch)

        // A series appended by ref is in use again.
        let entries = batch.entries
        let exemplars = batch.exemplars
        if checkReleased && !released.isEmpty {
            for e in entries where !e.isNew {
                if released.remove(e.refOrIndex) { undo.unreleased.append(e.refOrIndex) }
            }
            for x in exemplars where !x.isNew {
                if released.remove(x.refOrIndex) { undo.unreleased.append(x.refOrIndex) }
            }
        }

        // Metadata: only what is new or changed is written; the rest is kept alive.
        var metadataCount = 0
        if !batch.metadata.isEmpty {
            var out = ByteEncoder(taking: &metadataScratch)
            out.byte(WALRecordType.metadata.rawValue)
            for m in batch.metadata {
                if let entry = metadata[m.family], entry.record == m {
                    metadata[m.family]!.segment = segment
                    metadata[m.family]!.time = now
                } else {
                    undo.metadata.append((m.family, metadata[m.family]))
                    metadata[m.family] = MetadataEntry(record: m, segment: segment, time: now)
                    RecordCodec.appendMetadata(m, to: &out)
                    metadataCount += 1
                }
            }
            out.finish(into: &metadataScratch)
        }

        // Samples, with the refs just resolved (no samples record when there are no samples).
        @inline(__always) func resolve(isNew: Bool, _ refOrIndex: UInt64) -> SeriesRef {
            isNew ? refs[Int(refOrIndex)] : refOrIndex
        }
        let writeSamples = !entries.isEmpty
        if writeSamples {
            var samples = ByteEncoder(taking: &samplesScratch)
            samples.byte(WALRecordType.samples.rawValue)
            let baseRef = resolve(isNew: entries[0].isNew, entries[0].refOrIndex)
            let baseTime = entries[0].timestamp
            samples.be64(baseRef)
            samples.be64(UInt64(bitPattern: baseTime))
            for e in entries {
                RecordCodec.appendSample(
                    resolve(isNew: e.isNew, e.refOrIndex), e.timestamp, e.value,
                    baseRef: baseRef, baseTime: baseTime, to: &samples)
            }
            samples.finish(into: &samplesScratch)
        }

        // Exemplars, likewise (no exemplars record when there are none).
        let writeExemplars = !exemplars.isEmpty
        if writeExemplars {
            var out = ByteEncoder(taking: &exemplarsScratch)
            out.byte(WALRecordType.exemplars.rawValue)
            let baseRef = resolve(isNew: exemplars[0].isNew, exemplars[0].refOrIndex)
            let baseTime = exemplars[0].timestamp
            out.be64(baseRef)
            out.be64(UInt64(bitPattern: baseTime))
            for x in exemplars {
                RecordCodec.appendExemplar(
                    resolve(isNew: x.isNew, x.refOrIndex), x.timestamp, x.value, x.labels,
                    baseRef: baseRef, baseTime: baseTime, to: &out)
            }
            out.finish(into: &exemplarsScratch)
        }

        var commitStart = offset
        do {
            var writeSeries = newCount > 0
            let writeMetadata = metadataCount > 0
            let seriesFlags = writeSeries ? Self.compress(&seriesScratch, scratch: &compressScratch, compression) : 0
            let metadataFlags = writeMetadata ? Self.compress(&metadataScratch, scratch: &compressScratch, compression) : 0
            let samplesFlags = writeSamples ? Self.compress(&samplesScratch, scratch: &compressScratch, compression) : 0
            let exemplarsFlags = writeExemplars ? Self.compress(&exemplarsScratch, scratch: &compressScratch, compression) : 0
            var needed = 0
            func add(_ write: Bool, _ payload: [UInt8]) {
                if write { needed += WALSegment.encodedSize(payloadLength: payload.count, at: offset + needed) }
            }
            add(writeSeries, seriesScratch)
            add(writeMetadata, metadataScratch)
            add(writeSamples, samplesScratch)
            add(writeExemplars, exemplarsScratch)
            // The head alone may approach the limit when the series table is big: then let the
            // segment grow to twice the head, so that most of every segment is data.
            let limit = max(segmentSize, 2 * headSize)
            // Released series are only dropped at a segment start: when they make up half the
            // table, start one now rather than when the segment is full (which may take hours on
            // a small agent), so that memory follows the live series.
            let releasedPileUp = released.count >= max(Self.releasedRolloverMinimum, refsByLabels.count / 2)
            if fd < 0 {
                // An earlier failure ended the segment: start a new one. (Like a rollover, after
                // this commit's series were resolved and the refs it uses were un-released.)
                try startSegment(nextSegment, now: now)
                writeSeries = false
            } else if segmentHasCommit && (offset + needed > limit || releasedPileUp) {
                try rollover(now: now)
                writeSeries = false  // the new segment's head already lists them
            }
            commitStart = offset
            if writeSeries { appendRecord(seriesScratch, flags: seriesFlags) }
            if writeMetadata { appendRecord(metadataScratch, flags: metadataFlags) }
            if writeSamples { appendRecord(samplesScratch, flags: samplesFlags) }
            if writeExemplars { appendRecord(exemplarsScratch, flags: exemplarsFlags) }
            try flush()
            segmentHasCommit = true
        } catch {
            rollBack(undo)
            abandonCommit(startingAt: commitStart)
            throw error
        }
        if !batch.released.isEmpty {
            for ref in batch.released where !keptFromRelease.contains(ref) { released.insert(ref) }
        }
        return refs
    }

    /// Takes back a failed commit's effects on the tables (its refs are not reused: numbers are
    /// cheap, and a partly written record may name them).
    mutating func rollBack(_ undo: Undo) {
        for labels in undo.addedLabels { refsByLabels[labels] = nil }
        released.formUnion(undo.unreleased)
        for (family, previous) in undo.metadata.reversed() { metadata[family] = previous }
    }

    /// Drops what a failed commit left: unwritten bytes, and written ones by truncating the
    /// segment back to `start`. If that fails too, ends the segment; the next commit starts a new
    /// one.
    mutating func abandonCommit(startingAt start: Int) {
        pending.removeAll(keepingCapacity: true)
        guard fd >= 0 else { return }
        do {
            try Syscall.truncateFile(fd, start, path: segmentPath)
            offset = start
        } catch {
            try? Syscall.closeFile(fd, path: segmentPath)
            fd = -1
        }
    }

    /// Compresses `payload` in place when that makes it smaller; returns the fragment flags.
    static func compress(_ payload: inout [UInt8], scratch: inout [UInt8], _ compression: WALCompression) -> UInt8 {
        guard compression == .snappy, payload.count >= minCompressLength else { return 0 }
        payload.withUnsafeBytes { Snappy.compress($0, into: &scratch) }
        guard scratch.count < payload.count else { return 0 }
        swap(&payload, &scratch)
        return WALSegment.snappyFlag
    }

    // MARK: Writing

    /// Appends `payload` as one record, split into fragments at page boundaries, to `pending`.
    mutating func appendRecord(_ payload: [UInt8], flags: UInt8) {
        payload.withUnsafeBytes { p in
            var i = 0
            var first = true
            repeat {
                let inPage = WALSegment.pageSize - offset % WALSegment.pageSize
                if inPage < WALSegment.headerSize {
                    pending.append(contentsOf: repeatElement(0, count: inPage))
                    offset += inPage
                    continue
                }
                let n = min(p.count - i, inPage - WALSegment.headerSize)
                let last = i + n == p.count
                let type: WALSegment.FragmentType = first ? (last ? .full : .first) : (last ? .last : .middle)
                let chunk = UnsafeRawBufferPointer(rebasing: p[i..<(i + n)])
                let crc = CRC32C.checksum(chunk)
                pending.append(type.rawValue | flags)
                pending.append(UInt8(truncatingIfNeeded: n >> 8))
                pending.append(UInt8(truncatingIfNeeded: n))
                pending.append(UInt8(truncatingIfNeeded: crc >> 24))
                pending.append(UInt8(truncatingIfNeeded: crc >> 16))
                pending.append(UInt8(truncatingIfNeeded: crc >> 8))
                pending.append(UInt8(truncatingIfNeeded: crc))
                pending.append(contentsOf: chunk)
                offset += WALSegment.headerSize + n
                i += n
                first = false
            } while i < p.count
        }
    }

    /// Writes `pending` at its place in the current segment.
    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        let at = offset - pending.count
        let fd = self.fd, path = segmentPath
        try pending.withUnsafeBytes { try Syscall.pwriteAll(fd, $0, at: at, path: path) }
        pending.removeAll(keepingCapacity: true)
    }

    mutating func sync() throws {
        if fd >= 0 { try Syscall.fsyncFile(fd, path: segmentPath) }
        if directoryNeedsSync {
            try Syscall.syncDirectory(directory)
            directoryNeedsSync = false
        }
    }

    /// Creates segment `number` and writes the head: every series of the table (sorted by ref),
    /// then every metadata entry (sorted by family). Released series and metadata not announced
    /// for a while are forgotten first. If the head cannot be written, the new file is emptied and
    /// removed (best effort) and the error thrown, with no segment open.
    mutating func startSegment(_ number: Int, now: ContinuousClock.Instant) throws {
        forgetReleasedAndStale(newSegment: number, now: now)
        let path = WALSegment.path(directory, number)
        let newFD = try Syscall.openFile(path, O_WRONLY | O_CREAT | O_EXCL)
        fd = newFD
        segment = number
        segmentPath = path
        offset = 0
        segmentHasCommit = false
        headSize = 0
        directoryNeedsSync = true
        pending.removeAll(keepingCapacity: true)
        do {
            if !refsByLabels.isEmpty {
                appendHeadRecords(.series, refsByLabels.sorted { $0.value < $1.value }) { entry, e in
                    RecordCodec.appendSeries(ref: entry.value, labels: entry.key, to: &e)
                }
            }
            if !metadata.isEmpty {
                let all = metadata.values.map(\.record).sorted { $0.family.utf8.lexicographicallyPrecedes($1.family.utf8) }
                appendHeadRecords(.metadata, all) { m, e in RecordCodec.appendMetadata(m, to: &e) }
            }
            headSize = offset
            try flush()
        } catch {
            pending.removeAll(keepingCapacity: true)
            // Leave no half-written head behind: an empty segment is valid, a missing one better.
            try? Syscall.truncateFile(newFD, 0, path: path)
            try? Syscall.closeFile(newFD, path: path)
            fd = -1
            let removed = (try? Syscall.unlinkIfExists(path)) ?? false
            nextSegment = removed ? number : number + 1
            offset = 0
            throw error
        }
        nextSegment = number + 1
    }

    /// Before a new segment's head: drops released series, and metadata announced neither in the
    /// last two segments nor within the retention time.
    mutating func forgetReleasedAndStale(newSegment number: Int, now: ContinuousClock.Instant) {
        if !released.isEmpty {
            let released = self.released
            refsByLabels = refsByLabels.filter { !released.contains($0.value) }
            self.released.removeAll()
        }
        if !metadata.isEmpty {
            let retention = metadataRetention
            func stale(_ e: MetadataEntry) -> Bool {
                e.segment < number - 2 && now - e.time > retention
            }
            if metadata.values.contains(where: stale) {
                metadata = metadata.filter { !stale($0.value) }
            }
        }
    }

    /// Appends `items` as records of `type` (compressed as configured), starting a new record
    /// whenever the payload passes ``headRecordLimit``, so that a big table is several records.
    mutating func appendHeadRecords<Item>(_ type: WALRecordType, _ items: [Item], _ encode: (Item, inout ByteEncoder) -> Void) {
        var e = ByteEncoder(taking: &headScratch)
        e.byte(type.rawValue)
        for item in items {
            encode(item, &e)
            if e.bytes.count >= Self.headRecordLimit {
                e.finish(into: &headScratch)
                let flags = Self.compress(&headScratch, scratch: &compressScratch, compression)
                appendRecord(headScratch, flags: flags)
                e = ByteEncoder(taking: &headScratch)
                e.byte(type.rawValue)
            }
        }
        e.finish(into: &headScratch)
        if headScratch.count > 1 {
            let flags = Self.compress(&headScratch, scratch: &compressScratch, compression)
            appendRecord(headScratch, flags: flags)
        }
    }

    /// Ends the current segment (written and fsynced) and starts the next one. On failure no
    /// segment is open.
    mutating func rollover(now: ContinuousClock.Instant) throws {
        do {
            try flush()
            try Syscall.fsyncFile(fd, path: segmentPath)
        } catch {
            try? Syscall.closeFile(fd, path: segmentPath)
            fd = -1
            throw error
        }
        try? Syscall.closeFile(fd, path: segmentPath)
        fd = -1
        try startSegment(nextSegment, now: now)
    }

    /// A rough estimate of the series table's memory: per series the hash-table slot, the label
    /// array and its labels, and the bytes of strings too long to be stored inline (over 15 UTF-8
    /// bytes), with their allocation headers.
    func estimatedSeriesMemory() -> Int {
        var total = refsByLabels.capacity * 24
        for labels in refsByLabels.keys {
            total += 32 + labels.count * 32
            for label in labels.pairs {
                let n = label.name.utf8.count, v = label.value.utf8.count
                if n > 15 { total += 32 + n }
                if v > 15 { total += 32 + v }
            }
        }
        return total
    }
}
