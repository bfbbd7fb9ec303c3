import Model
import Synchronization

/// A record the log's writer wrote, decoded, with its place: what ``WALReader/next()`` returns
/// for it (`record`, and `next` as the position after it) together with
/// ``WALReader/lastRecordStart`` (`start`).
public struct CommittedRecord: Sendable, Equatable {
    public var record: WALRecord
    /// Where the record starts: a place a ``WALReader`` can be created at.
    public var start: WALPosition
    /// Where the next record starts (in the same segment; the next segment's first record starts
    /// at its offset 0).
    public var next: WALPosition

    public init(record: WALRecord, start: WALPosition, next: WALPosition) {
        self.record = record
        self.start = start
        self.next = next
    }

    /// Heap bytes the decoded record holds, roughly (what the window counts against its bound).
    var cost: Int {
        switch record {
        case .series(let list):
            return 64 + list.reduce(0) { $0 + Self.seriesCost(labelBytes: $1.labels.byteCount) }
        case .samples(let list):
            return 64 + list.count * MemoryLayout<SampleRecord>.stride
        case .exemplars(let list):
            return 64 + list.reduce(0) { $0 + MemoryLayout<ExemplarRecord>.stride + 32 + $1.labels.byteCount }
        case .metadata(let list):
            return 64 + list.reduce(0) { $0 + Self.metadataCost($1) }
        }
    }

    /// One series of a series record: the entry, and the label bytes' own array.
    static func seriesCost(labelBytes: Int) -> Int {
        MemoryLayout<SeriesRecord>.stride + 32 + labelBytes
    }

    static func metadataCost(_ m: MetricMetadata) -> Int {
        MemoryLayout<MetricMetadata>.stride + m.family.utf8.count + m.help.utf8.count + m.unit.utf8.count
    }
}

/// The records the writer wrote last, decoded, in a window bounded by bytes (oldest dropped
/// first): ``WriteAheadLog/committedRecords(from:maxRecords:)``.
///
/// The writer thread appends the records of each group of commits after they are written, and
/// before it publishes the group (so a task that ``WriteAheadLog/waitForCommit(after:)`` woke
/// finds them here). Records of a failed write are never added; a failed write, or a segment
/// head too big for the window, empties the window (``append(_:afterGap:)``), so that what it
/// holds is always one unbroken run of records, exactly as a reader reads them.
final class CommittedRecordWindow: Sendable {
    struct State {
        /// The records held, oldest first: `records[first...]` (the slots before `first` are
        /// emptied placeholders, removed now and then).
        var records: [CommittedRecord] = []
        /// ``CommittedRecord/cost`` of each record in `records`.
        var costs: [Int] = []
        var first = 0
        /// Sum of the live records' costs.
        var bytes = 0
        /// Where the run of records held starts, when known: the position the oldest record
        /// held follows (its own start, or the end of the previous segment). Nil after a gap until
        /// the next record.
        var runStart: WALPosition?
        /// After the newest record written (nil after a gap).
        var end: WALPosition?

        var count: Int { records.count - first }
    }

    /// Stands in for a dropped record (an empty array allocates nothing).
    private static let placeholder = CommittedRecord(
        record: .samples([]), start: WALPosition(segment: 0, offset: 0), next: WALPosition(segment: 0, offset: 0))

    let limit: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - limit: Bytes of decoded records held at most (``CommittedRecord/cost``).
    ///   - end: The log's head when it opens: records after it will follow without a gap.
    init(limit: Int, end: WALPosition?) {
        self.limit = limit
        state = Mutex(State(runStart: end, end: end))
    }

    /// Adds the records of a group, in write order. With `afterGap`, records were written before
    /// them that the window did not get: what it holds is dropped first. A record bigger than the
    /// whole window is not held: the run starts again after it. Then the oldest records are
    /// dropped until the window is within its limit.
    func append(_ new: [CommittedRecord], afterGap: Bool) {
        // What is dropped is freed here, after the lock is let go.
        var garbage: [CommittedRecord] = []
        state.withLock { s in
            func restart(_ s: inout State, at position: WALPosition?) {
                garbage.append(contentsOf: s.records[s.first...])
                s = State(runStart: position, end: position)
            }
            if afterGap { restart(&s, at: nil) }
            for r in new {
                let cost = r.cost
                if cost > limit {
                    restart(&s, at: r.next)
                    continue
                }
                if s.count == 0 && s.runStart == nil { s.runStart = r.start }
                s.records.append(r)
                s.costs.append(cost)
                s.bytes += cost
                s.end = r.next
                while s.bytes > limit {
                    garbage.append(s.records[s.first])
                    s.records[s.first] = Self.placeholder
                    s.bytes -= s.costs[s.first]
                    s.runStart = garbage[garbage.count - 1].next
                    s.first += 1
                }
            }
            // Remove the placeholders now and then, so that dropping stays O(1) on average.
            if s.first > 64 && s.first * 2 > s.records.count {
                s.records.removeSubrange(..<s.first)
                s.costs.removeSubrange(..<s.first)
                s.first = 0
            }
        }
        _ = garbage
    }

    /// Up to `maxRecords` records starting exactly at `position` (see
    /// ``WriteAheadLog/committedRecords(from:maxRecords:)``).
    func records(from position: WALPosition, maxRecords: Int) -> [CommittedRecord]? {
        state.withLock { s -> [CommittedRecord]? in
            let live = s.records[s.first...]
            // The first record held starting at or after `position`.
            var low = s.first, high = s.records.count
            while low < high {
                let mid = (low + high) / 2
                if s.records[mid].start < position { low = mid + 1 } else { high = mid }
            }
            if low < s.records.count {
                let r = s.records[low]
                // It starts there, or `position` is the end of the record before it (the end of
                // a segment, whose next record starts the next segment).
                let previousEnd = low > s.first ? s.records[low - 1].next : s.runStart
                guard r.start == position || previousEnd == position else { return nil }
                return Array(live[low..<min(s.records.count, low + max(0, maxRecords))])
            }
            if let end = s.end, end == position { return [] }
            return nil
        }
    }

    /// Bytes held (the sum of the records' costs), for tests.
    var bytesHeld: Int { state.withLock { $0.bytes } }
    /// Records held, for tests.
    var count: Int { state.withLock { $0.count } }
}
