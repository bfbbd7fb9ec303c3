import Snappy

/// A record in a segment was found corrupt: bad checksum, impossible fragment sequence,
/// fragment crossing a page, garbage, or a record cut short in a segment that is complete.
public struct WALCorruptionError: Error, CustomStringConvertible, Equatable {
    /// Segment number.
    public var segment: Int
    /// Offset of the record that could not be read (the last good position).
    public var recordOffset: Int
    /// Offset of the first bad byte found (fragment header or page padding).
    public var offset: Int
    public var reason: String

    public var description: String {
        "corrupt WAL record in segment \(WALSegment.name(segment)) at offset \(recordOffset)"
            + (offset != recordOffset ? " (bad fragment at \(offset))" : "") + ": \(reason)"
    }
}

/// What scanning for the next record found.
enum ScanResult: Equatable {
    /// A whole record from `start` to `end`; its payload is in ``SegmentScanner/payload``.
    case record(start: Int, end: Int)
    /// (Live segment only.) No complete record is there yet; try again later from the same place.
    case notYet
    /// (Complete segment only.) The segment ends cleanly at a record boundary.
    case endOfSegment
    /// The bytes at `offset` (in the record starting at `recordStart`) are not a valid fragment.
    /// In a live segment this may also be a write in progress or a torn tail about to be repaired.
    case corrupt(recordStart: Int, offset: Int, reason: String)
}

/// Reads the fragments of one segment file and reassembles records, with read-ahead buffering.
///
/// Used by ``WALReader`` (tailing, possibly while the writer appends) and by the writer's
/// replay. Only ever reads the file. `finished` tells the scanner whether the segment can still
/// grow: in a live segment, a missing or zeroed tail means "not written yet", in a finished one
/// it is the end (at a record boundary) or corruption (inside a record).
struct SegmentScanner: Sendable {
    let file: ReadOnlyFile
    let segment: Int
    /// Start of the next record to read.
    private(set) var offset: Int
    /// Payload of the record last returned by ``next(finished:)`` (decompressed if it was stored
    /// compressed).
    private(set) var payload: [UInt8] = []
    /// Whether the record last returned was stored snappy-compressed.
    private(set) var wasCompressed = false

    private var buffer: [UInt8] = []
    /// Segment offset of `buffer[0]`.
    private var bufferBase: Int

    private static let readChunk = 128 * 1024
    /// Largest decompressed record accepted (a record is at most one commit or one head part).
    static let maxRecordLength = 1 << 30

    init(file: ReadOnlyFile, segment: Int, offset: Int) {
        self.file = file
        self.segment = segment
        self.offset = offset
        self.bufferBase = offset
    }

    private enum Step {
        case needMore
        case result(ScanResult)
    }

    /// Finds the next record at ``offset``; on `.record`, ``offset`` moves past it.
    mutating func next(finished: Bool) throws -> ScanResult {
        compact()
        var eof = false
        while true {
            switch parse(finished: finished, eof: eof) {
            case .needMore:
                if try fill() == 0 { eof = true }
            case .result(let r):
                if case .record(let start, let end) = r {
                    if wasCompressed {
                        // Checksums were fine, so these are the bytes the writer wrote: a block
                        // that does not decompress is corruption, not a torn write.
                        do {
                            payload = try Snappy.decompress(payload, maxLength: Self.maxRecordLength)
                        } catch {
                            return .corrupt(recordStart: start, offset: start, reason: "compressed record does not decompress: \(error)")
                        }
                    }
                    offset = end
                }
                return r
            }
        }
    }

    /// Forgets bytes read ahead of ``offset``, so the next scan reads them from the file again
    /// (needed when the file may have been truncated and rewritten since, e.g. by a repair).
    mutating func discardReadAhead() {
        buffer.removeAll(keepingCapacity: true)
        bufferBase = offset
    }

    /// Drops buffered bytes before ``offset`` once there are enough of them to matter.
    private mutating func compact() {
        let consumed = offset - bufferBase
        if consumed < 0 || consumed > buffer.count {
            buffer.removeAll(keepingCapacity: true)
            bufferBase = offset
        } else if consumed >= 256 * 1024 {
            buffer.removeSubrange(0..<consumed)
            bufferBase = offset
        }
    }

    /// Reads more of the file after the buffered bytes; returns the count read (0 at end of file).
    private mutating func fill() throws -> Int {
        let at = bufferBase + buffer.count
        let size = try Syscall.fileSize(file.fd, path: file.path)
        guard size > at else { return 0 }
        let want = min(size - at, max(Self.readChunk, min(buffer.count, 16 << 20)))
        let fd = file.fd, path = file.path
        let chunk = try [UInt8](unsafeUninitializedCapacity: want) { bytes, initialized in
            initialized = try Syscall.readAt(fd, UnsafeMutableRawBufferPointer(bytes), at: at, path: path)
        }
        buffer.append(contentsOf: chunk)
        return chunk.count
    }

    private mutating func parse(finished: Bool, eof: Bool) -> Step {
        var out: [UInt8] = []
        swap(&out, &payload)
        defer { swap(&out, &payload) }
        out.removeAll(keepingCapacity: true)
        let start = offset
        let base = bufferBase
        var recordFlags: UInt8 = 0
        defer { wasCompressed = recordFlags & WALSegment.snappyFlag != 0 }
        return buffer.withUnsafeBytes { b -> Step in
            let end = base + b.count
            var o = start
            var started = false

            func corrupt(_ reason: String) -> Step {
                .result(.corrupt(recordStart: start, offset: o, reason: reason))
            }
            func incomplete(_ what: String) -> Step {
                if !eof { return .needMore }
                if !finished { return .result(.notYet) }
                return corrupt(what)
            }

            while true {
                let inPage = WALSegment.pageSize - o % WALSegment.pageSize
                if inPage < WALSegment.headerSize {
                    // Page tail too short for a header: zero padding, skipped.
                    o += inPage
                    continue
                }
                if o + WALSegment.headerSize > end {
                    if !eof { return .needMore }
                    if !started && o >= end {
                        return .result(finished ? .endOfSegment : .notYet)
                    }
                    return incomplete(started ? "record cut short at end of segment" : "partial fragment header at end of segment")
                }
                let type = b[o - base]
                if type == WALSegment.FragmentType.pageTerm.rawValue {
                    if !finished { return .result(.notYet) }
                    if started { return corrupt("zero padding inside a record") }
                    // Zero padding to the end of the page.
                    let pageEnd = o + inPage
                    if pageEnd > end && !eof { return .needMore }
                    let checkEnd = min(pageEnd, end)
                    for i in o..<checkEnd where b[i - base] != 0 {
                        o = i
                        return corrupt("non-zero byte in page padding")
                    }
                    o = pageEnd
                    continue
                }
                let flags = type & ~WALSegment.typeMask
                guard let fragment = WALSegment.FragmentType(rawValue: type & WALSegment.typeMask),
                    fragment != .pageTerm, flags & ~(WALSegment.snappyFlag | WALSegment.zstdFlag) == 0
                else {
                    return corrupt("invalid fragment type \(type)")
                }
                if flags & WALSegment.zstdFlag != 0 {
                    return corrupt("zstd-compressed record (not supported)")
                }
                if started && flags != recordFlags {
                    return corrupt("compression flag differs between fragments of a record")
                }
                recordFlags = flags
                let length = Int(b[o - base + 1]) << 8 | Int(b[o - base + 2])
                if WALSegment.headerSize + length > inPage {
                    return corrupt("fragment of \(length) bytes crosses a page boundary")
                }
                let payloadStart = o + WALSegment.headerSize
                if payloadStart + length > end {
                    return incomplete("fragment cut short at end of segment")
                }
                switch fragment {
                case .full, .first:
                    if started { return corrupt("record start fragment inside a record") }
                case .middle, .last:
                    if !started { return corrupt("continuation fragment without a record start") }
                case .pageTerm:
                    break
                }
                var crc: UInt32 = 0
                for i in 3..<7 { crc = crc << 8 | UInt32(b[o - base + i]) }
                let data = UnsafeRawBufferPointer(rebasing: b[(payloadStart - base)..<(payloadStart - base + length)])
                if CRC32C.checksum(data) != crc {
                    return corrupt("checksum mismatch")
                }
                out.append(contentsOf: data)
                o = payloadStart + length
                started = true
                if fragment == .full || fragment == .last {
                    return .result(.record(start: start, end: o))
                }
            }
        }
    }
}
