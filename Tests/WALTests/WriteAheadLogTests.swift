import Model
import Foundation
import Logging
import Testing
@testable import WAL

@Suite struct WriteAheadLogTests {
    let log = LogCapture()

    @Test func commitThenRead() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(wal.head == WALPosition(segment: 0, offset: 0))

        var batch = AppendBatch()
        let up = labels("up", ("job", "a"))
        let i0 = batch.append(labels: up, timestamp: 1000, value: 1)
        let i1 = batch.append(labels: labels("x"), timestamp: 1000, value: 2)
        batch.append(labels: up, timestamp: 1001, value: 3)  // same label set again in one batch
        #expect(i0 == 0 && i1 == 1)
        #expect(batch.sampleCount == 3)
        let refs = try await wal.commit(batch)
        #expect(refs == [1, 2, 1])
        #expect(wal.seriesCount == 2)

        var second = AppendBatch()
        second.append(ref: refs[1], timestamp: 2000, value: 4)
        let j = second.append(labels: up, timestamp: 2000, value: 5)
        let refs2 = try await wal.commit(second)
        #expect(refs2[j] == 1)
        #expect(try await wal.commit(AppendBatch()) == [])

        let records = try readAll(dir.path)
        #expect(records.map(\.record) == [
            .series([SeriesRecord(ref: 1, labels: up), SeriesRecord(ref: 2, labels: labels("x"))]),
            .samples([
                SampleRecord(ref: 1, timestamp: 1000, value: 1),
                SampleRecord(ref: 2, timestamp: 1000, value: 2),
                SampleRecord(ref: 1, timestamp: 1001, value: 3),
            ]),
            // No series record: nothing new.
            .samples([SampleRecord(ref: 2, timestamp: 2000, value: 4), SampleRecord(ref: 1, timestamp: 2000, value: 5)]),
        ])
        #expect(records.last?.next == wal.head)
        try await wal.sync()
        try await wal.close()
        try await wal.close()
        await #expect(throws: WALError.self) { try await wal.commit(second) }
        #expect(log.warnings.isEmpty)
    }

    @Test func recordSpanningPages() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, compression: .none, logger: log.logger)
        var batch = AppendBatch()
        let big = (0..<20).map { labels("big_\($0)", ("value", String(repeating: "v\($0)", count: 2000))) }
        for l in big { batch.append(labels: l, timestamp: 5, value: 1) }
        let refs = try await wal.commit(batch)
        let records = try readAll(dir.path)
        #expect(records.count == 2)
        #expect(allSeries(records).map(\.labels) == big)
        #expect(allSeries(records).map(\.ref) == refs)
        #expect(wal.head.offset > 2 * WALSegment.pageSize)
        // Fragment types on disk: the first page starts with a "first" fragment.
        let bytes = fileBytes(dir.segmentPath(0))
        #expect(bytes[0] == 2)
        #expect(bytes[WALSegment.pageSize] == 3)
        try await wal.close()
    }

    @Test func rollsOverToSelfContainedSegments() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 4096, logger: log.logger)
        var expected: [SampleRecord] = []
        var refs: [Labels: SeriesRef] = [:]
        for round in 0..<200 {
            var batch = AppendBatch()
            var newLabels: [Labels] = []
            for k in 0..<5 {
                let l = labels("m", ("k", "\(k + round / 40 * 5)"))
                if let r = refs[l] {
                    batch.append(ref: r, timestamp: Int64(round), value: Double(k))
                } else {
                    batch.append(labels: l, timestamp: Int64(round), value: Double(k))
                    newLabels.append(l)
                }
            }
            let got = try await wal.commit(batch)
            for (l, r) in zip(newLabels, got) { refs[l] = r }
            for k in 0..<5 {
                let l = labels("m", ("k", "\(k + round / 40 * 5)"))
                expected.append(SampleRecord(ref: refs[l]!, timestamp: Int64(round), value: Double(k)))
            }
        }
        let segments = try wal.segments()
        #expect(segments.count > 3)
        #expect(segments == Array(0...segments.last!))
        #expect(wal.head.segment == segments.last)
        for n in segments {
            let size = fileBytes(dir.segmentPath(n)).count
            #expect(size <= 4096 || n == 0, "segment \(n) is \(size) bytes")
        }

        let records = try readAll(dir.path)
        #expect(allSamples(records) == expected)

        // A reader starting at any segment can resolve every ref it meets.
        for start in segments.dropFirst() {
            let fromHere = try readAll(dir.path, from: WALPosition(segment: start, offset: 0))
            var known = Set<SeriesRef>()
            for r in fromHere {
                switch r.record {
                case .series(let s): known.formUnion(s.map(\.ref))
                case .samples(let s): #expect(s.allSatisfy { known.contains($0.ref) })
                case .exemplars(let x): #expect(x.allSatisfy { known.contains($0.ref) })
                case .metadata: break
                }
            }
            // The head lists the whole table as it was when the segment started.
            if case .series(let head)? = fromHere.first?.record {
                #expect(head.map(\.ref) == head.map(\.ref).sorted())
                #expect(head.count >= 5)
            } else {
                Issue.record("segment \(start) does not start with a series record")
            }
        }
        try await wal.close()
    }

    @Test func reopenKeepsRefsStable() async throws {
        let dir = TempDir()
        let a = labels("a"), b = labels("b"), c = labels("c")
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            var batch = AppendBatch()
            batch.append(labels: a, timestamp: 1, value: 1)
            batch.append(labels: b, timestamp: 1, value: 1)
            #expect(try await wal.commit(batch) == [1, 2])
            try await wal.close()
        }
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(wal.seriesCount == 2)
        #expect(wal.head.segment == 1)
        var batch = AppendBatch()
        batch.append(labels: c, timestamp: 2, value: 2)
        batch.append(labels: b, timestamp: 2, value: 2)
        #expect(try await wal.commit(batch) == [3, 2])
        // The new segment starts with the full table.
        let fromNew = try readAll(dir.path, from: WALPosition(segment: 1, offset: 0))
        #expect(fromNew.first?.record == .series([SeriesRecord(ref: 1, labels: a), SeriesRecord(ref: 2, labels: b)]))
        try await wal.close()

        // Refs survive even when old segments are gone (and reopening several times).
        let again = try WriteAheadLog(directory: dir.path, logger: log.logger)
        try again.removeSegments(before: 2)
        #expect(try again.segments() == [2])
        try await again.close()
        let third = try WriteAheadLog(directory: dir.path, logger: log.logger)
        var last = AppendBatch()
        last.append(labels: a, timestamp: 3, value: 3)
        last.append(labels: labels("d"), timestamp: 3, value: 3)
        #expect(try await third.commit(last) == [1, 4])
        try await third.close()
        #expect(log.warnings.isEmpty)
    }

    /// Writes three batches, closes, and returns the segment's size and the offset where the
    /// third commit's samples record starts.
    private func threeCommits(_ dir: borrowing TempDir) async throws -> (size: Int, thirdStart: Int) {
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        var start = 0
        for i in 0..<3 {
            var batch = AppendBatch()
            batch.append(labels: labels("m\(i)"), timestamp: Int64(i), value: Double(i))
            start = wal.head.offset
            _ = try await wal.commit(batch)
        }
        try await wal.close()
        return (fileBytes(dir.segmentPath(0)).count, start)
    }

    private func checkRepaired(_ dir: borrowing TempDir, keptSamples: Int) async throws {
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        #expect(capture.warnings.count == 1)
        #expect(wal.head.segment == 1)
        let samples = allSamples(try readAll(dir.path))
        #expect(samples.map(\.timestamp) == Array(0..<Int64(keptSamples)))
        // Writing goes on, and readers get through the repaired segment into the new one.
        var batch = AppendBatch()
        batch.append(labels: labels("after"), timestamp: 99, value: 1)
        _ = try await wal.commit(batch)
        #expect(allSamples(try readAll(dir.path)).last?.timestamp == 99)
        try await wal.close()
        // A second reopen finds nothing to repair.
        let capture2 = LogCapture()
        try await WriteAheadLog(directory: dir.path, logger: capture2.logger).close()
        #expect(capture2.warnings.isEmpty)
    }

    @Test func tornTailIsTruncated() async throws {
        let dir = TempDir()
        let (size, thirdStart) = try await threeCommits(dir)
        let bytes = fileBytes(dir.segmentPath(0))
        writeBytes(Array(bytes[..<(size - 5)]), to: dir.segmentPath(0))
        try await checkRepaired(dir, keptSamples: 2)
        // The series record of the third commit survived, its samples did not.
        #expect(fileBytes(dir.segmentPath(0)).count < thirdStart + 40)
    }

    @Test func truncatedHeaderIsTruncated() async throws {
        let dir = TempDir()
        let (_, thirdStart) = try await threeCommits(dir)
        let bytes = fileBytes(dir.segmentPath(0))
        // Keep the third commit's series record and 3 bytes of the next fragment header.
        let seriesEnd = thirdStart + 7 + 1 + 8 + 1 + 1 + 8 + 1 + 2
        writeBytes(Array(bytes[..<(seriesEnd + 3)]), to: dir.segmentPath(0))
        try await checkRepaired(dir, keptSamples: 2)
        #expect(fileBytes(dir.segmentPath(0)).count == seriesEnd)
    }

    @Test func flippedByteInLastRecordIsTruncated() async throws {
        let dir = TempDir()
        let (size, _) = try await threeCommits(dir)
        var bytes = fileBytes(dir.segmentPath(0))
        bytes[size - 3] ^= 0x40
        writeBytes(bytes, to: dir.segmentPath(0))
        try await checkRepaired(dir, keptSamples: 2)
    }

    @Test func garbageAfterValidDataIsTruncated() async throws {
        let dir = TempDir()
        let (size, _) = try await threeCommits(dir)
        appendBytes([0x09, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03, 0x04], to: dir.segmentPath(0))
        try await checkRepaired(dir, keptSamples: 3)
        #expect(fileBytes(dir.segmentPath(0)).count == size)
    }

    @Test func zeroedTailIsKeptAsPadding() async throws {
        // A crash can leave zero-filled blocks at the end of a file: that is not corruption.
        let dir = TempDir()
        let (size, _) = try await threeCommits(dir)
        appendBytes([UInt8](repeating: 0, count: 100), to: dir.segmentPath(0))
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        #expect(capture.warnings.isEmpty)
        #expect(allSamples(try readAll(dir.path)).count == 3)
        try await wal.close()
        #expect(fileBytes(dir.segmentPath(0)).count == size + 100)
    }

    @Test func removeSegments() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1024, logger: log.logger)
        for i in 0..<60 {
            var batch = AppendBatch()
            for k in 0..<10 { batch.append(labels: labels("m\(k)"), timestamp: Int64(i), value: 1) }
            _ = try await wal.commit(batch)
        }
        let before = try wal.segments()
        #expect(before.count > 4)
        try wal.removeSegments(before: 3)
        #expect(try wal.segments() == before.filter { $0 >= 3 })
        try wal.removeSegments(before: 1_000_000)
        #expect(try wal.segments() == [wal.head.segment])
        try await wal.sync()
        // A reader started before the removed segments starts at the oldest left.
        let records = try readAll(dir.path)
        #expect(allSeries(records).count == 10)
        #expect(allSamples(records).count % 10 == 0)
        #expect(allSamples(records).count > 0)
        try await wal.close()
    }

    @Test func concurrentCommits() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 64 * 1024, logger: log.logger)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<200 {
                        var batch = AppendBatch()
                        batch.append(labels: labels("shared"), timestamp: Int64(i), value: Double(t))
                        batch.append(labels: labels("own", ("t", "\(t)")), timestamp: Int64(i), value: 1)
                        _ = try? await wal.commit(batch)
                    }
                }
            }
        }
        #expect(wal.seriesCount == 9)
        let records = try readAll(dir.path)
        #expect(allSamples(records).count == 8 * 200 * 2)
        #expect(Set(allSeries(records).map(\.ref)) == Set(1...9))
        try await wal.close()
    }

    @Test func recordBiggerThanASegmentGoesAlone() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 2000, logger: log.logger)
        _ = try await wal.commit({ var b = AppendBatch(); b.append(labels: labels("small"), timestamp: 1, value: 1); return b }())
        var big = AppendBatch()
        for k in 0..<200 { big.append(labels: labels("big", ("k", "\(k)")), timestamp: 2, value: 2) }
        _ = try await wal.commit(big)
        #expect(wal.head.segment == 1)
        #expect(wal.head.offset > 2000)
        // The big commit started a new segment whose head (the whole table, new series included)
        // is bigger than the limit; later commits still share it rather than rolling over on
        // every commit: the limit becomes twice the head's size.
        _ = try await wal.commit({ var b = AppendBatch(); b.append(ref: 1, timestamp: 3, value: 3); return b }())
        #expect(wal.head.segment == 1)
        _ = try await wal.commit({ var b = AppendBatch(); b.append(ref: 1, timestamp: 4, value: 4); return b }())
        #expect(wal.head.segment == 1)
        _ = try await wal.commit({ var b = AppendBatch(); b.append(ref: 1, timestamp: 5, value: 5); return b }())
        #expect(wal.head.segment == 1)
        let samples = allSamples(try readAll(dir.path))
        #expect(samples.map(\.timestamp) == [1] + Array(repeating: 2, count: 200) + [3, 4, 5])
        try await wal.close()
    }

    @Test func invalidSegmentSize() {
        let dir = TempDir()
        #expect(throws: WALError.self) { try WriteAheadLog(directory: dir.path, segmentSize: 0, logger: log.logger) }
    }
}
