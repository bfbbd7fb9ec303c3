import Model
import Testing
@testable import WAL

/// The committed-record window: records from memory, exactly as a reader reads them from the file.
struct CommittedRecordsTests {
    let log = LogCapture()

    private func batch(round: Int, new: Int, known: [SeriesRef] = []) -> AppendBatch {
        var b = AppendBatch()
        for k in 0..<new {
            _ = b.append(labels: labels("m", ("round", "\(round)"), ("k", "\(k)")), timestamp: Int64(round) * 1000, value: Double(k) + 0.5)
        }
        for ref in known { b.append(ref: ref, timestamp: Int64(round) * 1000, value: Double(ref)) }
        if round % 2 == 0 { b.appendMetadata(MetricMetadata(family: "m", type: .gauge, help: "round \(round)")) }
        return b
    }

    /// What a reader created at `position` returns, as committed records.
    private func readerRecords(_ dir: String, from position: WALPosition) throws -> [CommittedRecord] {
        var reader = try WALReader(directory: dir, from: position)
        var out: [CommittedRecord] = []
        while let (record, next) = try reader.next() {
            out.append(CommittedRecord(record: record, start: reader.lastRecordStart, next: next))
        }
        return out
    }

    /// Every record from `position` through the window (following `next`).
    private func windowRecords(_ wal: WriteAheadLog, from position: WALPosition) -> [CommittedRecord]? {
        var out: [CommittedRecord] = []
        var at = position
        while true {
            guard let chunk = wal.committedRecords(from: at, maxRecords: 3) else { return nil }
            if chunk.isEmpty { return out }
            out += chunk
            at = chunk.last!.next
        }
    }

    @Test func theWindowHoldsWhatAReaderReadsFromTheSamePositionAcrossSegments() async throws {
        let dir = TempDir()
        // Small segments: several segment starts, each with a head of series and metadata.
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 16 << 10, compression: .snappy, logger: log.logger)
        let opened = wal.head
        #expect(wal.committedRecords(from: opened) == [])
        var known: [SeriesRef] = []
        var starts: [WALPosition] = []
        for round in 0..<70 {
            starts.append(wal.head)
            known += try await wal.commit(batch(round: round, new: 10, known: known))
        }
        #expect(wal.head.segment > opened.segment + 2)
        #expect(wal.committedRecords(from: wal.head) == [])

        let fromFile = try readerRecords(dir.path, from: opened)
        let fromWindow = try #require(windowRecords(wal, from: opened))
        #expect(fromWindow.count == fromFile.count)
        #expect(fromWindow == fromFile)
        // From any record boundary, including the end of a segment.
        for r in fromFile.prefix(60) {
            #expect(windowRecords(wal, from: r.start) == (try readerRecords(dir.path, from: r.start)))
            #expect(windowRecords(wal, from: r.next) == (try readerRecords(dir.path, from: r.next)))
        }
        // The first record of a new segment is found from the end of the one before.
        let boundary = try #require(fromFile.firstIndex { $0.start.offset == 0 && $0.start.segment > opened.segment })
        let previousEnd = fromFile[boundary - 1].next
        #expect(previousEnd.segment == fromFile[boundary].start.segment - 1)
        #expect(wal.committedRecords(from: previousEnd, maxRecords: 1) == [fromFile[boundary]])
        // maxRecords is respected.
        #expect(wal.committedRecords(from: opened, maxRecords: 2)?.count == 2)
        #expect(wal.committedRecords(from: opened, maxRecords: 0) == [])
        try await wal.close()
    }

    @Test func onlyExactRecordBoundariesAreServed() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1 << 20, compression: .none, logger: log.logger)
        _ = try await wal.commit(batch(round: 0, new: 5))
        let records = try readerRecords(dir.path, from: WALPosition(segment: wal.head.segment, offset: 0))
        let first = try #require(records.first)
        // Inside a record, past the head, before the log was opened: nil (read the file).
        #expect(wal.committedRecords(from: WALPosition(segment: first.start.segment, offset: first.start.offset + 1)) == nil)
        #expect(wal.committedRecords(from: WALPosition(segment: wal.head.segment, offset: wal.head.offset + 1)) == nil)
        #expect(wal.committedRecords(from: WALPosition(segment: wal.head.segment + 1, offset: 0)) == nil)
        #expect(wal.committedRecords(from: WALPosition(segment: 0, offset: 0)) == (wal.head.segment == 0 ? Array(records) : nil))
        try await wal.close()
    }

    @Test func recordsWrittenBeforeTheLogWasOpenedAreReadFromTheFile() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1 << 20, compression: .snappy, logger: log.logger)
            _ = try await wal.commit(batch(round: 0, new: 5))
            try await wal.close()
        }
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1 << 20, compression: .snappy, logger: log.logger)
        // The old segment is not in the window; the new segment's head was written by the open,
        // before the window started: from its end on, the window serves.
        #expect(wal.committedRecords(from: WALPosition(segment: 0, offset: 0)) == nil)
        #expect(wal.committedRecords(from: WALPosition(segment: wal.head.segment, offset: 0)) == nil)
        let afterHead = wal.head
        _ = try await wal.commit(batch(round: 1, new: 3, known: [1, 2]))
        #expect(windowRecords(wal, from: afterHead) == (try readerRecords(dir.path, from: afterHead)))
        try await wal.close()
    }

    @Test func theWindowIsBoundedAndDropsTheOldestRecordsFirst() async throws {
        let dir = TempDir()
        let limit = 16 << 10
        let wal = try WriteAheadLog(
            directory: dir.path, segmentSize: 1 << 20, compression: .none, committedRecordWindow: limit, logger: log.logger)
        let opened = wal.head
        var known: [SeriesRef] = []
        for round in 0..<100 { known += try await wal.commit(batch(round: round, new: 2, known: Array(known.suffix(50)))) }
        let window = try #require(wal.committedRecordWindow)
        #expect(window.bytesHeld <= limit)
        #expect(window.bytesHeld > limit / 2)
        #expect(wal.committedRecords(from: opened) == nil)
        // What it still holds is the newest run, up to the head, exactly as the file has it.
        let fromFile = try readerRecords(dir.path, from: opened)
        let held = fromFile.suffix(window.count)
        let oldest = try #require(held.first)
        #expect(windowRecords(wal, from: oldest.start) == Array(held))
        let dropped = fromFile[fromFile.count - window.count - 1]
        #expect(wal.committedRecords(from: dropped.start) == nil)
        try await wal.close()
    }

    @Test func aWindowOfZeroTurnsTheFeedOff() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, committedRecordWindow: 0, logger: log.logger)
        let opened = wal.head
        _ = try await wal.commit(batch(round: 0, new: 3))
        #expect(wal.committedRecordWindow == nil)
        #expect(wal.committedRecords(from: opened) == nil)
        try await wal.close()
    }

    @Test func aHeadBiggerThanTheWindowIsNotHeldAndTheWindowStartsAfterIt() async throws {
        let dir = TempDir()
        let limit = 8 << 10
        let wal = try WriteAheadLog(
            directory: dir.path, segmentSize: 64 << 10, compression: .snappy, committedRecordWindow: limit, logger: log.logger)
        var known: [SeriesRef] = []
        var round = 0
        let firstSegment = wal.head.segment
        while wal.head.segment == firstSegment {
            known += try await wal.commit(batch(round: round, new: 40))
            round += 1
        }
        // The new segment's head (every series) is bigger than the window: not held.
        let newSegment = WALPosition(segment: wal.head.segment, offset: 0)
        #expect(wal.committedRecords(from: newSegment) == nil)
        let afterCommit = wal.head
        _ = try await wal.commit(batch(round: round, new: 1, known: Array(known.prefix(5))))
        #expect(windowRecords(wal, from: afterCommit) == (try readerRecords(dir.path, from: afterCommit)))
        try await wal.close()
    }

    @Test func theWindowKeepsItsRunAcrossAppendsAndRestartsAfterAGap() {
        let window = CommittedRecordWindow(limit: 1 << 20, end: WALPosition(segment: 3, offset: 100))
        func record(_ s: Int, _ a: Int, _ b: Int) -> CommittedRecord {
            CommittedRecord(
                record: .samples([SampleRecord(ref: SeriesRef(a), timestamp: 1, value: 1)]),
                start: WALPosition(segment: s, offset: a), next: WALPosition(segment: s, offset: b))
        }
        #expect(window.records(from: WALPosition(segment: 3, offset: 100), maxRecords: 10) == [])
        window.append([record(3, 100, 150), record(3, 150, 200)], afterGap: false)
        window.append([record(4, 0, 60)], afterGap: false)
        #expect(window.records(from: WALPosition(segment: 3, offset: 100), maxRecords: 10)?.count == 3)
        #expect(window.records(from: WALPosition(segment: 3, offset: 200), maxRecords: 10) == [record(4, 0, 60)])
        #expect(window.records(from: WALPosition(segment: 4, offset: 60), maxRecords: 10) == [])
        #expect(window.records(from: WALPosition(segment: 3, offset: 120), maxRecords: 10) == nil)
        // A failed write between: what came before is gone, the new run starts at its first record.
        window.append([record(4, 200, 260)], afterGap: true)
        #expect(window.count == 1)
        #expect(window.records(from: WALPosition(segment: 3, offset: 100), maxRecords: 10) == nil)
        #expect(window.records(from: WALPosition(segment: 4, offset: 60), maxRecords: 10) == nil)
        #expect(window.records(from: WALPosition(segment: 4, offset: 200), maxRecords: 10) == [record(4, 200, 260)])
        // A gap with nothing after it: nothing is served, not even the end.
        window.append([], afterGap: true)
        #expect(window.count == 0)
        #expect(window.records(from: WALPosition(segment: 4, offset: 260), maxRecords: 10) == nil)
    }
}
