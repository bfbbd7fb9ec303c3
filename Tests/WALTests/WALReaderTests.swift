import Foundation
import Testing
@testable import WAL

@Suite struct WALReaderTests {
    let log = LogCapture()

    private func batch(_ t: Int64, _ names: String...) -> AppendBatch {
        var b = AppendBatch()
        for n in names { b.append(labels: labels(n), timestamp: t, value: Double(t)) }
        return b
    }

    @Test func tailsALiveWriter() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1024, logger: log.logger)
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        #expect(try reader.next() == nil)

        _ = try await wal.commit(batch(1, "a"))
        var got = 0
        while let r = try reader.next() {
            if case .samples(let s) = r.record { got += s.count }
        }
        #expect(got == 1)
        #expect(try reader.next() == nil)
        #expect(reader.position == wal.head)

        // More commits, across several segment switches, read as they come.
        for t in 2...100 {
            _ = try await wal.commit(batch(Int64(t), "a", "b\(t % 7)"))
            var seen: [Int64] = []
            while let r = try reader.next() {
                if case .samples(let s) = r.record { seen += s.map(\.timestamp) }
                #expect(r.next == reader.position)
            }
            #expect(seen == [Int64(t), Int64(t)])
            #expect(reader.position == wal.head)
        }
        #expect(try wal.segments().count > 3)
        try await wal.close()
    }

    @Test func recreatingAtAnyReturnedPositionContinues() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1500, logger: log.logger)
        for t in 0..<40 { _ = try await wal.commit(batch(Int64(t), "x\(t % 5)", "y")) }
        let all = try readAll(dir.path)
        #expect(all.count > 40)
        for (i, r) in all.enumerated() {
            let rest = try readAll(dir.path, from: r.next)
            #expect(rest.map(\.record) == all[(i + 1)...].map(\.record))
            #expect(rest.map(\.next) == all[(i + 1)...].map(\.next))
        }
        try await wal.close()
    }

    @Test func startsAtOldestExistingSegmentAfterADeletedOne() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1000, logger: log.logger)
        for t in 0..<200 { _ = try await wal.commit(batch(Int64(t), "s\(t % 3)")) }
        #expect(try wal.segments().count > 4)
        try wal.removeSegments(before: 3)
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 1, offset: 123))
        let first = try #require(try reader.next())
        #expect(reader.position.segment == 3)
        // Segment 3 starts with the full series table.
        #expect(first.record == .series([
            SeriesRecord(ref: 1, labels: labels("s0")),
            SeriesRecord(ref: 2, labels: labels("s1")),
            SeriesRecord(ref: 3, labels: labels("s2")),
        ]))
        // Reader at a segment that does not exist yet: nothing, then it appears.
        let future = wal.head.segment + 1
        var ahead = try WALReader(directory: dir.path, from: WALPosition(segment: future, offset: 0))
        #expect(try ahead.next() == nil)
        try await wal.close()
        let reopened = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(reopened.head.segment == future)
        #expect(try ahead.next() != nil)
        try await reopened.close()
    }

    @Test func recordWithLaterFragmentsNotYetWritten() async throws {
        // Build a segment holding one record of three pages, then expose it piece by piece.
        let source = TempDir()
        let wal = try WriteAheadLog(directory: source.path, compression: .none, logger: log.logger)
        var b = AppendBatch()
        b.append(labels: labels("big", ("v", String(repeating: "z", count: 70_000))), timestamp: 1, value: 1)
        _ = try await wal.commit(b)
        try await wal.close()
        let bytes = fileBytes(source.segmentPath(0))
        #expect(bytes.count > 2 * WALSegment.pageSize)

        let dir = TempDir()
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        #expect(try reader.next() == nil)
        for cut in [1, 6, 7, 100, WALSegment.pageSize, WALSegment.pageSize + 3, 2 * WALSegment.pageSize + 10] {
            writeBytes(Array(bytes[..<cut]), to: dir.segmentPath(0))
            #expect(try reader.next() == nil, "cut at \(cut)")
            #expect(reader.position == WALPosition(segment: 0, offset: 0))
        }
        writeBytes(bytes, to: dir.segmentPath(0))
        let series = try #require(try reader.next())
        guard case .series(let s) = series.record else {
            Issue.record("expected series")
            return
        }
        #expect(s.first?.labels["v"]?.count == 70_000)
        #expect(try reader.next().map { $0.record } == .samples([SampleRecord(ref: 1, timestamp: 1, value: 1)]))
        #expect(try reader.next() == nil)
    }

    @Test func corruptionThrowsInACompleteSegmentOnly() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        _ = try await wal.commit(batch(1, "a"))
        _ = try await wal.commit(batch(2, "b"))
        try await wal.close()
        var bytes = fileBytes(dir.segmentPath(0))
        bytes[bytes.count - 2] ^= 0xFF
        writeBytes(bytes, to: dir.segmentPath(0))

        // Last segment: bad bytes may be a write in progress or a tail to be repaired.
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        var count = 0
        while try reader.next() != nil { count += 1 }
        #expect(count == 3)  // series, samples, series; the last samples record is bad

        // Once a later segment exists, the segment is complete and the error surfaces.
        writeBytes([], to: dir.segmentPath(1))
        do {
            _ = try reader.next()
            Issue.record("expected a corruption error")
        } catch let error as WALCorruptionError {
            #expect(error.segment == 0)
            #expect(error.recordOffset == reader.position.offset)
            #expect(error.reason == "checksum mismatch")
            #expect(error.description.contains("00000000"))
        }
    }

    @Test func readerWaitingAtATornTailContinuesAfterTheWriterRepairsIt() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        _ = try await wal.commit(batch(1, "a"))
        _ = try await wal.commit(batch(2, "b"))
        try await wal.close()
        var bytes = fileBytes(dir.segmentPath(0))
        bytes[bytes.count - 1] ^= 0x01
        writeBytes(bytes, to: dir.segmentPath(0))

        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        var seen: [Int64] = []
        while let r = try reader.next() { seen += allSamples([r]).map(\.timestamp) }
        #expect(seen == [1])

        // The writer restarts: truncates the torn record, starts segment 1, goes on.
        let capture = LogCapture()
        let reopened = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        #expect(capture.warnings.count == 1)
        _ = try await reopened.commit(batch(3, "c"))
        var after: [WALRecord] = []
        while let r = try reader.next() { after.append(r.record) }
        #expect(after == [
            .series([
                SeriesRecord(ref: 1, labels: labels("a")),
                SeriesRecord(ref: 2, labels: labels("b")),
            ]),
            .series([SeriesRecord(ref: 3, labels: labels("c"))]),
            .samples([SampleRecord(ref: 3, timestamp: 3, value: 3)]),
        ])
        try await reopened.close()
    }

    @Test func skipsZeroPaddingAndUnknownRecords() throws {
        // A Prometheus-style segment: records, then the page zero-padded; plus a histogram record
        // (a type this module skips).
        func fragment(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
            let crc = CRC32C.checksum(payload)
            return [type, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF),
                    UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)] + payload
        }
        let series = RecordCodec.encode(.series([SeriesRecord(ref: 9, labels: labels("p"))]))
        let samples = RecordCodec.encode(.samples([SampleRecord(ref: 9, timestamp: 5, value: 0.5)]))
        let metadata: [UInt8] = [7, 1, 2, 3]  // histogram samples: skipped
        var seg0 = fragment(1, series) + fragment(1, metadata)
        seg0 += [UInt8](repeating: 0, count: WALSegment.pageSize - seg0.count)
        // The record on page 2 is split across fragments.
        seg0 += fragment(2, Array(samples[..<10])) + fragment(3, Array(samples[10..<12])) + fragment(4, Array(samples[12...]))
        seg0 += [UInt8](repeating: 0, count: 50)
        let dir = TempDir()
        writeBytes(seg0, to: dir.segmentPath(0))
        // As the last segment, zeros mean "not yet written".
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        #expect(try reader.next()?.record == .series([SeriesRecord(ref: 9, labels: labels("p"))]))
        #expect(try reader.next() == nil)
        #expect(reader.position.offset == 7 + series.count + 7 + metadata.count)

        writeBytes(fragment(1, samples), to: dir.segmentPath(1))
        let records = try readAll(dir.path)
        #expect(records.map(\.record) == [
            .series([SeriesRecord(ref: 9, labels: labels("p"))]),
            .samples([SampleRecord(ref: 9, timestamp: 5, value: 0.5)]),
            .samples([SampleRecord(ref: 9, timestamp: 5, value: 0.5)]),
        ])
        #expect(records[1].next == WALPosition(segment: 0, offset: WALSegment.pageSize + 21 + samples.count))
        #expect(records[2].next == WALPosition(segment: 1, offset: 7 + samples.count))
    }

    @Test func missingDirectoryThrows() {
        #expect(throws: (any Error).self) {
            try WALReader(directory: "/nonexistent/wal-\(UUID().uuidString)", from: WALPosition(segment: 0, offset: 0))
        }
    }
}
