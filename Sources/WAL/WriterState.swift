#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Snappy
import Model

/// The log's writing state: the series and metadata tables, the segment being written and the
/// scratch buffers.
///
/// Confined to one thread at a time: built by ``WriteAheadLog``'s `init` (replay, first segment),
/// then moved to the writer thread (``WALWriter``), which alone reads and changes it until it
/// exits. Other threads see only what the writer publishes (``WriterSnapshot``).
struct WriterState: Sendable {
    struct MetadataEntry: Sendable {
        var record: MetricMetadata
        /// The segment being written when it was last announced.
        var segment: Int
        var time: ContinuousClock.Instant
    }

    let directory: String
    let compression: WALCompression
    let metadataRetention: Duration
    /// The current segment; nil when a failure ended it and the next commit must start a new one.
    var file: SegmentFile?
    var segment = 0
    var segmentPath = ""
    /// The number the next new segment gets.
    var nextSegment = 0
    /// Bytes in the current segment, written or pending.
    var offset = 0
    /// Whether the current segment holds a commit (written or pending) beyond its head.
    var segmentHasCommit = false
    /// Bytes of the head (series and metadata) at the start of the current segment.
    var headSize = 0
    /// Bytes appended to the current segment that are not written yet (emptied by every write).
    var pending: [UInt8] = []
    /// A segment was created or removed since the writer last published: the directory needs an
    /// fsync (the published flag is what ``WriteAheadLog/sync()`` reads).
    var directoryDirty = false
    /// Commits failed in a row.
    var failureStreak = 0
    /// pwrite(2) calls made (``flush()``s that wrote something), for tests.
    var writeCalls = 0

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

    /// What other threads may know of the state.
    var snapshot: WriterSnapshot {
        WriterSnapshot(
            head: WALPosition(segment: segment, offset: offset), seriesCount: refsByLabels.count,
            metadataCount: metadata.count, headSize: headSize, file: file,
            firstKeptSegment: file != nil ? segment : nextSegment, writeCalls: writeCalls)
    }

    // MARK: Writing

    /// Compresses `payload` in place when that makes it smaller; returns the fragment flags.
    static func compress(_ payload: inout [UInt8], scratch: inout [UInt8], _ compression: WALCompression) -> UInt8 {
        guard compression == .snappy, payload.count >= minCompressLength else { return 0 }
        payload.withUnsafeBytes { Snappy.compress($0, into: &scratch) }
        guard scratch.count < payload.count else { return 0 }
        swap(&payload, &scratch)
        return WALSegment.snappyFlag
    }

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

    /// Writes `pending` at its place in the current segment, with one pwrite(2).
    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        guard let file else { preconditionFailure("bytes pending without a segment") }
        let at = offset - pending.count
        writeCalls += 1
        try pending.withUnsafeBytes { try Syscall.pwriteAll(file.fd, $0, at: at, path: file.path) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Drops what a failed write left: unwritten bytes, and written ones by truncating the
    /// segment back to `start`. If that fails too, ends the segment; the next commit starts a new
    /// one.
    mutating func abandonWrite(startingAt start: Int) {
        pending.removeAll(keepingCapacity: true)
        guard let file else { return }
        do {
            try Syscall.truncateFile(file.fd, start, path: file.path)
            offset = start
        } catch {
            self.file = nil
        }
    }

    // MARK: Segments

    /// Creates segment `number` and writes the head: every series of the table (sorted by ref),
    /// then every metadata entry (sorted by family). Released series and metadata not announced
    /// for a while are forgotten first. If the head cannot be written, the new file is emptied and
    /// removed (best effort) and the error thrown, with no segment open.
    mutating func startSegment(_ number: Int, now: ContinuousClock.Instant) throws {
        forgetReleasedAndStale(newSegment: number, now: now)
        let path = WALSegment.path(directory, number)
        let newFile = try SegmentFile(creating: path)
        file = newFile
        segment = number
        segmentPath = path
        offset = 0
        segmentHasCommit = false
        headSize = 0
        directoryDirty = true
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
            try? Syscall.truncateFile(newFile.fd, 0, path: path)
            file = nil
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

    /// Ends the current segment (written and fsynced, on this thread: the next segment must not
    /// exist before the previous one is durable) and starts the next one. On failure no segment
    /// is open. The old segment's descriptor closes when the last reference to it goes (a sync
    /// in progress may hold one).
    mutating func rollover(now: ContinuousClock.Instant) throws {
        guard let file else { preconditionFailure("rollover without a segment") }
        do {
            try flush()
            try Syscall.fsyncFile(file.fd, path: file.path)
        } catch {
            self.file = nil
            throw error
        }
        self.file = nil
        try startSegment(nextSegment, now: now)
    }

    /// The final write and fsync when the log closes: pending bytes (none between commits), the
    /// current segment, and the directory if `syncDirectory`. The segment is let go even when
    /// this fails.
    mutating func finish(syncDirectory: Bool) throws {
        defer { file = nil }
        if let file {
            try flush()
            try Syscall.fsyncFile(file.fd, path: file.path)
        }
        if syncDirectory { try Syscall.syncDirectory(directory) }
    }

    /// A rough estimate of the series table's memory: per series the hash-table slot (key, value
    /// and a metadata byte, at the table's capacity) and the label bytes with their array header.
    func estimatedSeriesMemory() -> Int {
        var total = refsByLabels.capacity * 25
        for labels in refsByLabels.keys { total += 32 + labels.byteCount }
        return total
    }
}
