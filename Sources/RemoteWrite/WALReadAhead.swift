import Model
import WAL

/// Records read from the WAL in one go: from the segment files with ``read(from:maxRecords:maxSamples:)``
/// (file I/O: on a ``BlockingIOPool`` thread, never on the cooperative pool), or from memory
/// (``CommittedRecordSource``).
struct WALReadAhead: Sendable {
    /// A record with its place: the WAL's own ``CommittedRecord``, so that records from memory
    /// and from the files are the same values.
    typealias Entry = CommittedRecord

    /// The file reader after the last record returned; nil when the records came from memory.
    var reader: WALReader?
    var entries: [Entry]
    /// Set when reading stopped at a corrupt record of a complete segment (after `entries`).
    var corruption: WALCorruptionError?

    init(reader: WALReader? = nil, entries: [Entry], corruption: WALCorruptionError?) {
        self.reader = reader
        self.entries = entries
        self.corruption = corruption
    }

    /// Reads records from `reader` until `maxSamples` samples and exemplars are read, or
    /// `maxRecords` records, or the end of what is written. Blocks on file I/O.
    static func read(from reader: WALReader, maxRecords: Int = 64, maxSamples: Int = 50_000) throws -> WALReadAhead {
        var reader = reader
        var entries: [Entry] = []
        var samples = 0
        while entries.count < maxRecords, samples < maxSamples {
            let next: (record: WALRecord, next: WALPosition)?
            do {
                next = try reader.next()
            } catch let error as WALCorruptionError {
                return WALReadAhead(reader: reader, entries: entries, corruption: error)
            }
            guard let (record, position) = next else { break }
            entries.append(Entry(record: record, start: reader.lastRecordStart, next: position))
            switch record {
            case .samples(let list): samples += list.count
            case .exemplars(let list): samples += list.count
            default: break
            }
        }
        return WALReadAhead(reader: reader, entries: entries, corruption: nil)
    }
}
