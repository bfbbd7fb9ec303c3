#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Synchronization

/// Errors of the WAL's own making (I/O failures are ``WALIOError``).
public enum WALError: Error, CustomStringConvertible {
    /// The log was closed; nothing more can be committed.
    case closed
    /// An earlier write failed; the in-memory state may be ahead of the files, so the log refuses
    /// further commits. Reopen it (which repairs the tail) to continue.
    case failed(underlying: any Error)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .closed: "the WAL is closed"
        case .failed(let e): "the WAL failed earlier and must be reopened: \(e)"
        case .invalidArgument(let s): "invalid argument: \(s)"
        }
    }
}

/// The write-ahead log: a directory of segments holding series records (ref → labels), samples
/// records (ref, timestamp, value) and exemplars records (ref, timestamp, value, labels). See
/// `docs/wal-format.md` for the format.
///
/// One instance owns the directory for writing. All methods are thread-safe; they block on file
/// I/O (`pwrite`, `fsync`), so call them from a thread that may block, not an event loop.
public final class WriteAheadLog: Sendable {
    public let directory: String
    let segmentSize: Int
    let logger: Logger
    private let state: Mutex<WriterState>

    /// Opens (creating if needed) the log in `directory`.
    ///
    /// Replays existing segments to rebuild the series table (labels ↔ ref), so refs stay stable
    /// across restarts; the next new ref is the largest seen plus one. A torn or corrupted tail
    /// (bad checksum, cut-short fragment, garbage) is truncated to the end of the last valid record
    /// and logged once as a warning. Then starts a fresh segment, headed by the full series table.
    ///
    /// - Parameter segmentSize: A new segment starts when a commit would make the current one
    ///   bigger than this. A segment holding a single commit may be bigger, and when the series
    ///   head at the start of a segment is more than half the limit, the limit for that segment
    ///   is twice the head's size (so that a big series table cannot make every commit roll over).
    public init(directory: String, segmentSize: Int = 32 << 20, logger: Logger) throws {
        guard segmentSize > 0 else { throw WALError.invalidArgument("segmentSize must be positive, got \(segmentSize)") }
        self.directory = directory
        self.segmentSize = segmentSize
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let existing = try WALSegment.list(directory)
        var s = WriterState(directory: directory)
        try Self.replay(directory: directory, segments: existing, logger: logger, into: &s)
        let first = (existing.last ?? -1) + 1
        try s.startSegment(first)
        try s.flush()
        try Syscall.fsyncFile(s.fd, path: s.segmentPath)
        try Syscall.syncDirectory(directory)
        s.directoryNeedsSync = false
        logger.debug("WAL opened", metadata: [
            "directory": "\(directory)", "segment": "\(first)", "series": "\(s.refsByLabels.count)",
            "nextRef": "\(s.nextRef)",
        ])
        state = Mutex(s)
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
    /// really new (none if there are none), one samples record (none if the batch has no samples)
    /// and one exemplars record (none if the batch has no exemplars), all with a single write(2)
    /// before returning, so readers see whole records at once. Exemplars appended for a new series
    /// (``AppendBatch/appendExemplar(newSeries:timestamp:value:labels:)``) get the ref resolved
    /// here. Not durable until ``sync()``.
    ///
    /// - Returns: The refs of the batch's new series, in the order they were appended.
    public func commit(_ batch: AppendBatch) throws -> [SeriesRef] {
        try state.withLock { s -> [SeriesRef] in
            try s.checkOpen()
            if batch.isEmpty { return [] }

            // Series: resolve under the lock, encode only the really new ones.
            var refs: [SeriesRef] = []
            refs.reserveCapacity(batch.newSeries.count)
            var series = ByteEncoder(taking: &s.seriesScratch)
            series.byte(WALRecordType.series.rawValue)
            var newCount = 0
            for labels in batch.newSeries {
                if let ref = s.refsByLabels[labels] {
                    refs.append(ref)
                } else {
                    let ref = s.nextRef
                    s.nextRef += 1
                    s.refsByLabels[labels] = ref
                    RecordCodec.appendSeries(ref: ref, labels: labels, to: &series)
                    newCount += 1
                    refs.append(ref)
                }
            }
            series.finish(into: &s.seriesScratch)

            // Samples, with the refs just resolved (no samples record when there are no samples).
            @inline(__always) func resolve(isNew: Bool, _ refOrIndex: UInt64) -> SeriesRef {
                isNew ? refs[Int(refOrIndex)] : refOrIndex
            }
            let entries = batch.entries
            let writeSamples = !entries.isEmpty
            if writeSamples {
                var samples = ByteEncoder(taking: &s.samplesScratch)
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
                samples.finish(into: &s.samplesScratch)
            }

            // Exemplars, likewise (no exemplars record when there are none).
            let exemplars = batch.exemplars
            let writeExemplars = !exemplars.isEmpty
            if writeExemplars {
                var out = ByteEncoder(taking: &s.exemplarsScratch)
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
                out.finish(into: &s.exemplarsScratch)
            }

            do {
                var writeSeries = newCount > 0
                var needed = writeSeries ? WALSegment.encodedSize(payloadLength: s.seriesScratch.count, at: s.offset) : 0
                if writeSamples {
                    needed += WALSegment.encodedSize(payloadLength: s.samplesScratch.count, at: s.offset + needed)
                }
                if writeExemplars {
                    needed += WALSegment.encodedSize(payloadLength: s.exemplarsScratch.count, at: s.offset + needed)
                }
                // The head alone may approach the limit when the series table is big: then let
                // the segment grow to twice the head, so that most of every segment is data.
                let limit = max(segmentSize, 2 * s.headSize)
                if s.segmentHasCommit && s.offset + needed > limit {
                    try s.rollover()
                    logger.debug("WAL segment started", metadata: ["segment": "\(s.segment)"])
                    writeSeries = false  // the new segment's head already lists them
                }
                if writeSeries { s.appendRecord(s.seriesScratch) }
                if writeSamples { s.appendRecord(s.samplesScratch) }
                if writeExemplars { s.appendRecord(s.exemplarsScratch) }
                s.segmentHasCommit = true
                try s.flush()
            } catch {
                s.status = .failed(error)
                throw error
            }
            return refs
        }
    }

    /// fsync of the current segment, and of the directory if segments were created or removed
    /// since the last sync. Holds the log's lock meanwhile (commits wait).
    public func sync() throws {
        try state.withLock { s in
            try s.checkOpen()
            try s.sync()
        }
    }

    /// Syncs and closes. Later commits throw ``WALError/closed``; closing again does nothing.
    public func close() throws {
        try state.withLock { s in
            guard s.fd >= 0 else { s.status = .closed; return }
            defer {
                try? Syscall.closeFile(s.fd, path: s.segmentPath)
                s.fd = -1
                s.status = .closed
            }
            if case .open = s.status {
                try s.flush()
                try s.sync()
            }
        }
    }

    /// Position just after the last committed record.
    public var head: WALPosition {
        state.withLock { WALPosition(segment: $0.segment, offset: $0.offset) }
    }

    /// Number of series in the series table.
    public var seriesCount: Int {
        state.withLock { $0.refsByLabels.count }
    }

    /// Numbers of the segments on disk, ascending.
    public func segments() throws -> [Int] {
        try WALSegment.list(directory)
    }

    /// Deletes every segment with a number below `segment`, never the one being written.
    /// Readers that have an old segment open keep reading it.
    public func removeSegments(before segment: Int) throws {
        let current = state.withLock { $0.segment }
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

    /// Rebuilds the series table from the newest segments, repairing corrupt tails.
    ///
    /// Every segment starts with the full series table, so replay walks back from the newest
    /// segment until one that holds a commit's samples or exemplars record (whose head is
    /// therefore complete) and takes the union of the series found; refs found in newer segments
    /// win. Exemplars records are not decoded (they do not affect the series table).
    static func replay(directory: String, segments: [Int], logger: Logger, into s: inout WriterState) throws {
        var maxRef: SeriesRef = 0
        for segment in segments.reversed() {
            var sawCommit = false
            let path = WALSegment.path(directory, segment)
            let file = try ReadOnlyFile(path: path)
            var scanner = SegmentScanner(file: file, segment: segment, offset: 0)
            scan: while true {
                let result = try scanner.next(finished: true)
                var problem: (start: Int, offset: Int, reason: String)?
                switch result {
                case .record(let start, _):
                    let payload = scanner.payload
                    if payload.first == WALRecordType.samples.rawValue
                        || payload.first == WALRecordType.exemplars.rawValue
                    {
                        sawCommit = true
                    } else if payload.first == WALRecordType.series.rawValue {
                        do {
                            if case .series(let list)? = try RecordCodec.decode(payload) {
                                for r in list {
                                    maxRef = max(maxRef, r.ref)
                                    if s.refsByLabels[r.labels] == nil { s.refsByLabels[r.labels] = r.ref }
                                }
                            }
                        } catch {
                            problem = (start, start, error.reason)
                        }
                    }
                case .endOfSegment, .notYet:
                    break scan
                case .corrupt(let start, let offset, let reason):
                    problem = (start, offset, reason)
                }
                if let problem {
                    let size = try Syscall.fileSize(file.fd, path: path)
                    logger.warning("WAL segment has a corrupt tail; truncating it to the last valid record", metadata: [
                        "segment": "\(path)", "offset": "\(problem.start)", "badOffset": "\(problem.offset)",
                        "reason": "\(problem.reason)", "droppedBytes": "\(size - problem.start)",
                    ])
                    let fd = try Syscall.openFile(path, O_WRONLY)
                    defer { try? Syscall.closeFile(fd, path: path) }
                    try Syscall.truncateFile(fd, problem.start, path: path)
                    try Syscall.fsyncFile(fd, path: path)
                    break scan
                }
            }
            if sawCommit { break }
        }
        s.nextRef = max(s.nextRef, maxRef + 1)
    }
}

/// The writer's state, guarded by the log's mutex.
struct WriterState {
    enum Status {
        case open
        case closed
        case failed(any Error)
    }

    let directory: String
    var status: Status = .open
    var fd: CInt = -1
    var segment = 0
    var segmentPath = ""
    /// Bytes in the current segment, written or pending.
    var offset = 0
    /// Whether the current segment holds a commit (beyond its series head).
    var segmentHasCommit = false
    /// Bytes of the series head at the start of the current segment.
    var headSize = 0
    /// Bytes appended to the current segment that are not written yet (emptied by every commit).
    var pending: [UInt8] = []
    var directoryNeedsSync = false

    var refsByLabels: [Labels: SeriesRef] = [:]
    var nextRef: SeriesRef = 1

    var seriesScratch: [UInt8] = []
    var samplesScratch: [UInt8] = []
    var exemplarsScratch: [UInt8] = []

    /// Payload size above which the series head is split into several records.
    static let headRecordLimit = 1 << 20

    init(directory: String) {
        self.directory = directory
        pending.reserveCapacity(64 * 1024)
    }

    func checkOpen() throws {
        switch status {
        case .open: return
        case .closed: throw WALError.closed
        case .failed(let e): throw WALError.failed(underlying: e)
        }
    }

    /// Appends `payload` as one record, split into fragments at page boundaries, to `pending`.
    mutating func appendRecord(_ payload: [UInt8]) {
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
                pending.append(type.rawValue)
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
        try Syscall.fsyncFile(fd, path: segmentPath)
        if directoryNeedsSync {
            try Syscall.syncDirectory(directory)
            directoryNeedsSync = false
        }
    }

    /// Creates segment `number` and appends the whole series table as its head (not yet written).
    mutating func startSegment(_ number: Int) throws {
        let path = WALSegment.path(directory, number)
        fd = try Syscall.openFile(path, O_WRONLY | O_CREAT | O_EXCL)
        segment = number
        segmentPath = path
        offset = 0
        segmentHasCommit = false
        headSize = 0
        directoryNeedsSync = true

        guard !refsByLabels.isEmpty else { return }
        let all = refsByLabels.sorted { $0.value < $1.value }
        var e = ByteEncoder(taking: &seriesScratch)
        e.byte(WALRecordType.series.rawValue)
        for (labels, ref) in all {
            RecordCodec.appendSeries(ref: ref, labels: labels, to: &e)
            if e.bytes.count >= Self.headRecordLimit {
                e.finish(into: &seriesScratch)
                appendRecord(seriesScratch)
                e = ByteEncoder(taking: &seriesScratch)
                e.byte(WALRecordType.series.rawValue)
            }
        }
        e.finish(into: &seriesScratch)
        if seriesScratch.count > 1 { appendRecord(seriesScratch) }
        headSize = offset
    }

    /// Ends the current segment (written and fsynced) and starts the next one.
    mutating func rollover() throws {
        try flush()
        try Syscall.fsyncFile(fd, path: segmentPath)
        try Syscall.closeFile(fd, path: segmentPath)
        fd = -1
        try startSegment(segment + 1)
    }
}
