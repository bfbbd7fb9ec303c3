#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads records in order starting at a position.
///
/// Works while a writer appends to the same directory: it only opens files read-only, treats
/// the unwritten tail of the segment being written as "not yet", and moves to the next segment
/// only once one exists (the writer creates segment n+1 only after its last write to n).
///
/// A reader is a value; copies share the open file (reads are positional) but not their place.
/// Not meant for concurrent use from several tasks at once: give each task its own reader.
public struct WALReader: Sendable {
    public let directory: String
    /// Where the next record starts; a valid place to create a new reader at.
    public private(set) var position: WALPosition
    /// Where the record ``next()`` returned last starts. Not the position before the call: when
    /// a segment ends, the record comes from the start of the next one.
    public private(set) var lastRecordStart: WALPosition

    private var scanner: SegmentScanner?
    /// True once a later segment exists, i.e. the current one will not grow any more.
    private var finished = false
    /// The segment whose corruption the last ``next()`` call threw, until skipped.
    private var corruptSegment: Int?

    /// - Parameters:
    ///   - directory: The WAL directory (must exist).
    ///   - position: A position returned by ``next()`` or ``WriteAheadLog/head``, or
    ///     `(segment, 0)`. If that segment no longer exists, reading starts at the oldest
    ///     existing segment after it.
    public init(directory: String, from position: WALPosition) throws {
        _ = try WALSegment.list(directory)  // throws when the directory cannot be listed
        self.directory = directory
        self.position = WALPosition(segment: max(0, position.segment), offset: max(0, position.offset))
        self.lastRecordStart = self.position
    }

    /// The next complete record and the position right after it, or nil when no further complete
    /// record is written yet (call again later; the reader stays where it is).
    ///
    /// Series, metadata, samples and exemplars records are returned, in the order they were
    /// written (a commit writes series, metadata, samples, exemplars). Records of other types are
    /// skipped. Compressed records are decompressed.
    ///
    /// Throws ``WALCorruptionError`` for a corrupt record in a segment that is complete (a later
    /// segment exists); the reader then stays where it is (calling `next()` again throws again)
    /// until ``skipCorruptSegment()`` moves it past the damage. In the segment still being
    /// written, bad bytes are reported as nil, since the writer repairs a torn tail when it
    /// restarts.
    public mutating func next() throws -> (record: WALRecord, next: WALPosition)? {
        do {
            let result = try nextRecord()
            corruptSegment = nil
            return result
        } catch let error as WALCorruptionError {
            corruptSegment = error.segment
            throw error
        }
    }

    /// After ``next()`` threw a ``WALCorruptionError``: gives up the rest of that segment and
    /// moves to the start of the next one (or the oldest existing segment after it), where the
    /// segment head lists every live series again. Everything after the damage in the skipped
    /// segment is lost to this reader; count it, log it, and go on.
    ///
    /// - Returns: The number of the segment skipped, or nil (and nothing changes) when the last
    ///   call to `next()` did not throw a corruption error.
    @discardableResult
    public mutating func skipCorruptSegment() -> Int? {
        guard let segment = corruptSegment else { return nil }
        corruptSegment = nil
        position = WALPosition(segment: segment + 1, offset: 0)
        scanner = nil
        finished = false
        return segment
    }

    private mutating func nextRecord() throws -> (record: WALRecord, next: WALPosition)? {
        while true {
            guard try openSegment() else { return nil }
            switch try scanner!.next(finished: finished) {
            case .record(let start, let end):
                lastRecordStart = WALPosition(segment: position.segment, offset: start)
                let record: WALRecord?
                do {
                    record = try RecordCodec.decode(scanner!.payload)
                } catch {
                    throw WALCorruptionError(
                        segment: position.segment, recordOffset: start, offset: start, reason: error.reason)
                }
                position.offset = end
                if let record { return (record, position) }
            case .notYet:
                if !finished && successorExists() {
                    markFinished()
                    continue
                }
                return nil
            case .corrupt(let start, let offset, let reason):
                if !finished {
                    if successorExists() {
                        markFinished()
                        continue
                    }
                    return nil
                }
                throw WALCorruptionError(segment: position.segment, recordOffset: start, offset: offset, reason: reason)
            case .endOfSegment:
                let later = try WALSegment.list(directory).first { $0 > position.segment }
                position = WALPosition(segment: later ?? position.segment + 1, offset: 0)
                scanner = nil
                finished = false
            }
        }
    }

    /// The current segment will not grow any more: re-read its tail from the file (a restarted
    /// writer may have truncated a torn tail we had read ahead) and treat its end as final.
    private mutating func markFinished() {
        finished = true
        scanner?.discardReadAhead()
    }

    private func successorExists() -> Bool {
        Syscall.exists(WALSegment.path(directory, position.segment + 1))
    }

    /// Opens the segment at ``position`` (or the oldest existing one after it). False when there
    /// is none yet.
    private mutating func openSegment() throws -> Bool {
        if scanner != nil { return true }
        var file = try ReadOnlyFile.openIfExists(path: WALSegment.path(directory, position.segment))
        if file == nil {
            guard let later = try WALSegment.list(directory).first(where: { $0 > position.segment }),
                  let laterFile = try ReadOnlyFile.openIfExists(path: WALSegment.path(directory, later))
            else { return false }
            file = laterFile
            position = WALPosition(segment: later, offset: 0)
        }
        guard let file else { return false }
        scanner = SegmentScanner(file: file, segment: position.segment, offset: position.offset)
        finished = false
        return true
    }
}
