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

    /// Every series the log knows: label bytes by ref, and the index from labels to ref.
    var series = SeriesStore()
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

    /// The committed-record feed (``CommittedRecordWindow``): whether to build the decoded form
    /// of what is written, and its bound (heads bigger than that are not built).
    let feedLimit: Int
    /// Records appended to `pending`, decoded, with their positions: written (moved to
    /// `feedOutbox`) or dropped with `pending`.
    var feedStaged: [CommittedRecord] = []
    /// Records written since the writer last published, in write order.
    var feedOutbox: [CommittedRecord] = []
    /// Records were written that the feed does not get (a failed write, a head too big for the
    /// window): the window must drop what it holds before the outbox is added.
    var feedGap = false

    /// Payload size above which the head is split into several records.
    static let headRecordLimit = 1 << 20
    /// Released series that start a new segment early once they are half of the table.
    static let releasedRolloverMinimum = 4096
    /// Payloads smaller than this are not worth compressing.
    static let minCompressLength = 64

    /// Pending bytes kept allocated between writes; a bigger buffer (a big head) is let go.
    static let pendingKeptCapacity = 1 << 20

    init(directory: String, compression: WALCompression, metadataRetention: Duration, feedLimit: Int = 0) {
        self.directory = directory
        self.compression = compression
        self.metadataRetention = metadataRetention
        self.feedLimit = feedLimit
        pending.reserveCapacity(64 * 1024)
    }

    /// Whether the writer builds the decoded records for the feed.
    var feedEnabled: Bool { feedLimit > 0 }

    /// Where the next record starts.
    var position: WALPosition { WALPosition(segment: segment, offset: offset) }

    /// What other threads may know of the state.
    var snapshot: WriterSnapshot {
        WriterSnapshot(
            head: WALPosition(segment: segment, offset: offset), seriesCount: series.count,
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

    /// Appends `payload` as one record to `pending` (``appendRecord(_:flags:)``), and its decoded
    /// form, when the feed is on, to `feedStaged` (built by `decoded` only then).
    mutating func appendRecord(_ payload: [UInt8], flags: UInt8, decoded: () -> WALRecord?) {
        let start = position
        appendRecord(payload, flags: flags)
        if feedEnabled, let record = decoded() {
            feedStaged.append(CommittedRecord(record: record, start: start, next: position))
        }
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

    /// Writes `pending` at its place in the current segment, with one pwrite(2); its records go
    /// to the feed's outbox. On failure they are dropped from the feed (a gap), and `pending` is
    /// left to the caller.
    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        guard let file else { preconditionFailure("bytes pending without a segment") }
        let at = offset - pending.count
        writeCalls += 1
        do {
            try pending.withUnsafeBytes { try Syscall.pwriteAll(file.fd, $0, at: at, path: file.path) }
        } catch {
            dropFeed()
            throw error
        }
        clearPending()
        if !feedStaged.isEmpty {
            feedOutbox.append(contentsOf: feedStaged)
            feedStaged.removeAll(keepingCapacity: true)
        }
    }

    /// Empties `pending`, letting go of a buffer a big head grew.
    mutating func clearPending() {
        if pending.capacity > Self.pendingKeptCapacity {
            pending = []
            pending.reserveCapacity(64 * 1024)
        } else {
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// Records were (or may have been) written that the feed will not get: it must start again
    /// after them.
    mutating func dropFeed() {
        guard feedEnabled else { return }
        feedStaged.removeAll()
        feedOutbox.removeAll()
        feedGap = true
    }

    /// Drops what a failed write left: unwritten bytes, and written ones by truncating the
    /// segment back to `start`. If that fails too, ends the segment; the next commit starts a new
    /// one.
    mutating func abandonWrite(startingAt start: Int) {
        clearPending()
        dropFeed()
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
        clearPending()
        do {
            // The feed gets the head decoded when that fits its window; otherwise it starts again
            // after the head.
            let decodeHead = feedEnabled && headFeedCost() <= feedLimit
            if !series.isEmpty { appendSeriesHead(decoded: decodeHead) }
            if !metadata.isEmpty {
                let all = metadata.values.map(\.record).sorted { $0.family.utf8.lexicographicallyPrecedes($1.family.utf8) }
                appendHeadRecords(.metadata, all, decoded: decodeHead) { m, e in RecordCodec.appendMetadata(m, to: &e) }
            }
            headSize = offset
            try flush()
            if feedEnabled, !decodeHead { dropFeed() }
        } catch {
            clearPending()
            dropFeed()
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
        if !released.isEmpty || series.count < series.entries.count {
            series.removeAll(in: released)
            released.removeAll()
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

    /// Appends the series head: every series of the table in ref order, as series records of
    /// about ``headRecordLimit`` bytes each, written from the table's bytes as they are. With
    /// `decoded`, each record also goes to the feed.
    mutating func appendSeriesHead(decoded: Bool) {
        var e = ByteEncoder(taking: &headScratch)
        e.byte(WALRecordType.series.rawValue)
        var records: [SeriesRecord] = []
        let store = series  // shares the storage: the table does not change while the head is written
        for i in store.entries.indices where store.entries[i].isLive {
            let entry = store.entries[i]
            store.withBytes(ofEntry: i) { bytes in
                e.be64(entry.ref)
                e.uvarint(UInt64(entry.labelCount))
                e.bytes.append(contentsOf: bytes)
                if decoded {
                    records.append(SeriesRecord(ref: entry.ref, labels: Labels(trustedBytes: Array(bytes), count: Int(entry.labelCount))))
                }
            }
            if e.bytes.count >= Self.headRecordLimit { appendSeriesHeadRecord(&e, &records, decoded: decoded) }
        }
        if e.bytes.count > 1 { appendSeriesHeadRecord(&e, &records, decoded: decoded) }
        e.finish(into: &headScratch)
    }

    /// One record of the series head: what `e` holds, appended; `e` starts the next one.
    private mutating func appendSeriesHeadRecord(_ e: inout ByteEncoder, _ records: inout [SeriesRecord], decoded: Bool) {
        e.finish(into: &headScratch)
        let flags = Self.compress(&headScratch, scratch: &compressScratch, compression)
        let list = records
        appendRecord(headScratch, flags: flags) { decoded ? .series(list) : nil }
        records.removeAll()
        e = ByteEncoder(taking: &headScratch)
        e.byte(WALRecordType.series.rawValue)
    }

    /// Appends `items` as records of `type` (compressed as configured), starting a new record
    /// whenever the payload passes ``headRecordLimit``, so that a big table is several records.
    mutating func appendHeadRecords(
        _ type: WALRecordType, _ items: [MetricMetadata], decoded: Bool, _ encode: (MetricMetadata, inout ByteEncoder) -> Void
    ) {
        var e = ByteEncoder(taking: &headScratch)
        e.byte(type.rawValue)
        var first = 0
        for (i, item) in items.enumerated() {
            encode(item, &e)
            if e.bytes.count >= Self.headRecordLimit {
                e.finish(into: &headScratch)
                let flags = Self.compress(&headScratch, scratch: &compressScratch, compression)
                let part = Array(items[first...i])
                appendRecord(headScratch, flags: flags) { decoded ? .metadata(part) : nil }
                first = i + 1
                e = ByteEncoder(taking: &headScratch)
                e.byte(type.rawValue)
            }
        }
        e.finish(into: &headScratch)
        if headScratch.count > 1 {
            let flags = Self.compress(&headScratch, scratch: &compressScratch, compression)
            let part = Array(items[first...])
            appendRecord(headScratch, flags: flags) { decoded ? .metadata(part) : nil }
        }
    }

    /// What the head would cost the feed's window decoded (``CommittedRecord/cost``, roughly).
    func headFeedCost() -> Int {
        var cost = 0
        for e in series.entries where e.isLive { cost += CommittedRecord.seriesCost(labelBytes: Int(e.length)) }
        for m in metadata.values { cost += CommittedRecord.metadataCost(m.record) }
        return cost
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

    /// The series table's memory: its label bytes, entries and index, at their capacities.
    func estimatedSeriesMemory() -> Int {
        series.memoryBytes
    }
}
