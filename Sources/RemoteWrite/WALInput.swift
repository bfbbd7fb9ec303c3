import Model
import WAL

/// Records the WAL committed last, kept in memory by the writer, so that an endpoint that has
/// caught up takes its records from there instead of reading and decoding the segment it has
/// just seen written.
protocol CommittedRecordSource: Sendable {
    /// Up to `maxRecords` records from `position` on, exactly as a ``WALReader`` at `position`
    /// would return them (each with where it starts and where the next one starts); empty when
    /// nothing was committed after `position` yet. Nil when memory does not hold the records at
    /// `position` (the reader is behind, or just started): then they come from the segment files.
    /// Must not block.
    func committedRecords(from position: WALPosition, maxRecords: Int) -> [WALReadAhead.Entry]?
}

/// The WAL's window of the records it wrote last (``WriteAheadLog/committedRecords(from:maxRecords:)``).
extension WriteAheadLog: CommittedRecordSource {}

/// No records in memory: everything is read from the segment files.
struct NoCommittedRecords: CommittedRecordSource {
    func committedRecords(from position: WALPosition, maxRecords: Int) -> [WALReadAhead.Entry]? { nil }
}

/// Where the WAL watcher gets "the next records from position P": the committed records in
/// memory when they are still there (``CommittedRecordSource``), else the segment files, read on
/// the ``BlockingIOPool``. Either way the records, their places and their order are the same.
///
/// Keeps a file reader while the records come from the files, so that consecutive reads go on
/// where the last one stopped; after records came from memory, or after a move, the next file
/// read opens a reader at ``position``.
struct WALInput {
    let directory: String
    let pool: BlockingIOPool
    let committed: any CommittedRecordSource
    /// At most this many records per read.
    let maxRecords: Int
    /// The file reader, whose place is ``position``; nil when a new one must be opened there.
    private var reader: WALReader?
    /// Where the next record starts.
    private(set) var position: WALPosition
    /// Records taken from memory and from the files so far (for tests and debugging).
    private(set) var counts = (memory: 0, files: 0)

    init(reader: WALReader, pool: BlockingIOPool, committed: any CommittedRecordSource, maxRecords: Int = 64) {
        directory = reader.directory
        self.pool = pool
        self.committed = committed
        self.maxRecords = maxRecords
        self.reader = reader
        position = reader.position
    }

    /// The next records from ``position``, which moves past them. An empty batch (without
    /// corruption) means the watcher is at the WAL's end.
    mutating func read() async throws -> WALReadAhead {
        if let entries = committed.committedRecords(from: position, maxRecords: maxRecords) {
            if let last = entries.last {
                position = last.next
                reader = nil
            }
            counts.memory += entries.count
            return WALReadAhead(entries: entries, corruption: nil)
        }
        let (reader, directory, position, maxRecords) = (self.reader, directory, position, maxRecords)
        let batch = try await pool.run {
            try WALReadAhead.read(from: reader ?? WALReader(directory: directory, from: position), maxRecords: maxRecords)
        }
        self.reader = batch.reader
        self.position = batch.reader?.position ?? position
        counts.files += batch.entries.count
        return batch
    }

    /// Reads on from `position` (a record's start or end, or a segment's start).
    mutating func move(to position: WALPosition) {
        reader = nil
        self.position = position
    }

    /// A file reader at ``position``, opened if needed. Blocks on file I/O: for work that runs
    /// on the pool.
    func fileReader() throws -> WALReader {
        try reader ?? WALReader(directory: directory, from: position)
    }

    /// Goes on where `reader` is (after work done with ``fileReader()``).
    mutating func adopt(_ reader: WALReader) {
        self.reader = reader
        position = reader.position
    }
}
