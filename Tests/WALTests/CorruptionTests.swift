import Model
import Foundation
import Testing
@testable import WAL

@Suite struct CorruptionTests {
    let log = LogCapture()

    /// A small log: one segment of a few commits (series, metadata, samples, exemplars; some
    /// records compressed, some not). Returns the segment's bytes and its records with their
    /// end offsets.
    private func smallLog() async throws -> (bytes: [UInt8], records: [(record: WALRecord, end: Int)]) {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        var refs: [SeriesRef] = []
        for i in 0..<6 {
            var batch = AppendBatch()
            for k in 0..<(i % 3 + 1) {
                batch.append(labels: labels("m\(k)", ("instance", "10.0.0.\(i % 2):9100"), ("job", "node")), timestamp: Int64(i), value: Double(i * 10 + k))
            }
            for ref in refs.prefix(12) { batch.append(ref: ref, timestamp: Int64(i), value: Double(i)) }
            if i % 2 == 0 {
                batch.appendMetadata(MetricMetadata(family: "m\(i)", type: .gauge, help: "help \(i) with some words to compress compress compress"))
            }
            if i == 3 { batch.appendExemplar(ref: 1, timestamp: Int64(i), value: 0.5, labels: Labels(["trace_id": "abc"])) }
            refs += try await wal.commit(batch)
        }
        try await wal.close()
        let bytes = fileBytes(dir.segmentPath(0))
        let records = try readAll(dir.path).map { ($0.record, $0.next.offset) }
        #expect(records.last?.1 == bytes.count)
        let types = fragmentTypes(bytes)
        #expect(types.contains(WALSegment.FragmentType.full.rawValue | WALSegment.snappyFlag), "some record is compressed: \(types)")
        #expect(types.contains(WALSegment.FragmentType.full.rawValue), "some record is not: \(types)")
        return (bytes, records)
    }

    /// Opens a log whose only segment is `bytes`, then checks: the open did not throw, reported
    /// one corruption exactly when `damaged`, and readers get exactly the records that end at or
    /// before `keptUpTo`, and then the new segment, without error.
    private func checkRepair(
        _ bytes: [UInt8], damaged: Bool, keptUpTo: Int, of records: [(record: WALRecord, end: Int)], what: String,
        reopen: Bool
    ) async {
        let dir = TempDir()
        writeBytes(bytes, to: dir.segmentPath(0))
        let capture = LogCapture()
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
            #expect(wal.openReport.corruptions == (damaged ? 1 : 0), "\(what)")
            #expect(wal.openReport.repairs.count == (damaged ? 1 : 0), "\(what)")
            #expect(capture.warnings.count == (damaged ? 1 : 0), "\(what)")
            try await wal.close()
            var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
            var inFirst: [WALRecord] = []
            while let r = try reader.next() {
                if r.next.segment == 0 { inFirst.append(r.record) }
            }
            let expected = records.filter { $0.end <= keptUpTo }.map(\.record)
            #expect(inFirst == expected, "\(what): \(inFirst.count) records, expected \(expected.count)")
            #expect(reader.position.segment == 1, "\(what): the reader reaches the new segment")
            if reopen {
                let again = LogCapture()
                let wal2 = try WriteAheadLog(directory: dir.path, logger: again.logger)
                #expect(wal2.openReport.corruptions == 0, "\(what): repaired once")
                #expect(again.warnings.isEmpty)
                try await wal2.close()
            }
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    @Test func everyTruncationOfTheLastSegmentIsRepairedToTheRecordsBeforeIt() async throws {
        let (bytes, records) = try await smallLog()
        let boundaries = Set([0] + records.map(\.end))
        for k in 0..<bytes.count {
            await checkRepair(
                Array(bytes[..<k]), damaged: !boundaries.contains(k), keptUpTo: k, of: records,
                what: "truncated at \(k) of \(bytes.count)", reopen: k % 7 == 0)
        }
    }

    @Test func everyFlippedByteOfTheLastSegmentIsRepairedToTheRecordsBeforeIt() async throws {
        let (bytes, records) = try await smallLog()
        for k in 0..<bytes.count {
            var damaged = bytes
            damaged[k] ^= 0xFF
            await checkRepair(damaged, damaged: true, keptUpTo: k, of: records, what: "byte \(k) of \(bytes.count) flipped", reopen: k % 7 == 0)
        }
    }

    @Test func corruptionInAnOlderSegmentDoesNotStopTheReplayAndReadersSkipIt() async throws {
        let dir = TempDir()
        var expectedSamples: [Int64] = []
        do {
            let wal = try WriteAheadLog(directory: dir.path, segmentSize: 700, logger: log.logger)
            for t in 0..<60 {
                var b = AppendBatch()
                b.append(labels: labels("s\(t % 4)"), timestamp: Int64(t), value: Double(t))
                _ = try await wal.commit(b)
                expectedSamples.append(Int64(t))
            }
            try await wal.close()
        }
        let segments = try WALSegment.list(dir.path)
        #expect(segments.count >= 4)
        // Damage segment 1 (complete, not the newest) in its middle.
        var bytes = fileBytes(dir.segmentPath(1))
        let middle = bytes.count / 2
        bytes[middle] ^= 0xFF
        writeBytes(bytes, to: dir.segmentPath(1))
        // Replay reads only the newest segment (it holds a commit): opening works as usual.
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        #expect(wal.seriesCount == 4)
        try await wal.close()

        // Readers: the corruption is an error until skipped; then reading goes on at segment 2.
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        var samples: [Int64] = []
        var skipped: [Int] = []
        #expect(reader.skipCorruptSegment() == nil, "nothing to skip before an error")
        while true {
            do {
                guard let r = try reader.next() else { break }
                if case .samples(let s) = r.record { samples += s.map(\.timestamp) }
            } catch let error as WALCorruptionError {
                #expect(error.segment == 1)
                #expect(throws: WALCorruptionError.self) { try reader.next() }  // stays there
                let skip = reader.skipCorruptSegment()
                skipped.append(try #require(skip))
                #expect(reader.position == WALPosition(segment: 2, offset: 0))
            }
        }
        #expect(skipped == [1])
        // All samples but those of segment 1 from the damaged record on.
        #expect(samples.count < expectedSamples.count)
        #expect(samples == samples.sorted())
        #expect(Set(expectedSamples).isSuperset(of: samples))
        let afterOne = try readAll(dir.path, from: WALPosition(segment: 2, offset: 0))
        #expect(Set(samples).isSuperset(of: allSamples(afterOne).map(\.timestamp)))
    }

    @Test func aCorruptOlderSegmentReadDuringReplayIsCountedAndLeftAlone() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            for t in 0..<5 {
                var b = AppendBatch()
                b.append(labels: labels("s\(t)"), timestamp: Int64(t), value: 1)
                _ = try await wal.commit(b)
            }
            try await wal.close()
        }
        // Segment 0 complete with a bad byte in its last record; segment 1 holds no commit, so
        // replay walks back into segment 0.
        var bytes = fileBytes(dir.segmentPath(0))
        bytes[bytes.count - 2] ^= 0xFF
        writeBytes(bytes, to: dir.segmentPath(0))
        writeBytes([], to: dir.segmentPath(1))
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        #expect(wal.openReport.corruptions == 1)
        #expect(wal.openReport.segments == 2)
        #expect(wal.openReport.repairs.first?.hasPrefix("left corrupt segment 00000000") == true)
        #expect(wal.seriesCount == 5)
        #expect(fileBytes(dir.segmentPath(0)) == bytes, "an older segment is not truncated")
        try await wal.close()
    }

    @Test func openReportDescribesTheReplay() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            #expect(wal.openReport.segments == 0 && wal.openReport.series == 0 && wal.openReport.corruptions == 0)
            var b = AppendBatch()
            for k in 0..<10 { b.append(labels: labels("m", ("k", "\(k)")), timestamp: 1, value: 1) }
            _ = try await wal.commit(b)
            try await wal.close()
        }
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        let report = wal.openReport
        #expect(report.series == 10)
        #expect(report.segments == 1)
        #expect(report.bytes == fileBytes(dir.segmentPath(0)).count)
        #expect(report.seriesMemoryBytes > 10 * 64)
        #expect(report.duration > .zero)
        #expect(capture.messages(.info).contains("WAL replayed"))
        try await wal.close()
    }
}
