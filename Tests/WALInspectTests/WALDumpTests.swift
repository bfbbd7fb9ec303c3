import Foundation
import Testing
import WAL
@testable import WALInspect

@Suite("WAL dump")
struct WALDumpTests {
    @Test func textDumpPrintsEveryRecordWithItsPosition() async throws {
        let storage = try TestStorage()
        try await writeFixtureWAL(storage)
        try expectGolden(try storage.dump(.text), "dump.txt")
    }

    @Test func jsonDumpPrintsOneObjectPerLine() async throws {
        let storage = try TestStorage()
        try await writeFixtureWAL(storage)
        let lines = try storage.dump(.json)
        try expectGolden(lines, "dump.jsonl")
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["kind"] is String, "\(line)")
        }
    }

    @Test func positionsInTheDumpAreWhereTheRecordsStart() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        let lines = try storage.dump(.json)
        func firstSample(at p: WALPosition) -> [String: Any]? {
            lines.lazy.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["kind"] as? String == "sample" && $0["segment"] as? Int == p.segment && $0["offset"] as? Int == p.offset }
        }
        #expect(positions.samples.count == 4)
        for p in positions.samples {
            #expect(firstSample(at: p)?["index"] as? Int == 0, "no sample printed at \(p)")
        }
        // A reader started at a printed position reads that very record.
        var reader = try WALReader(directory: storage.wal, from: positions.samples[2])
        guard case .samples(let samples)? = try reader.next()?.record else {
            Issue.record("no samples record at \(positions.samples[2])")
            return
        }
        #expect(samples.first?.timestamp == t0 + 15_000)
    }

    @Test func aRecordAfterPagePaddingHasThePositionRemoteWriteGivesIt() async throws {
        // Commit single samples until a record follows a page tail too short for a fragment
        // header (fewer than 7 bytes: skipped, the record's fragment starts on the next page).
        // The WAL names such a record by the offset in the tail (equivalent to the next page's
        // start, docs/wal-format.md), as WALReader.lastRecordStart and remote write's cursors do.
        let storage = try TestStorage()
        let wal = try WriteAheadLog(directory: storage.wal, logger: quietLogger)
        var batch = AppendBatch()
        batch.append(labels: labels("padded", ("job", "x")), timestamp: t0, value: 0)
        let ref = try await wal.commit(batch)[0]
        var padded: (start: WALPosition, timestamp: Int64)?
        for i in 1...20_000 where padded == nil {
            let before = wal.head
            batch.removeAll()
            batch.append(ref: ref, timestamp: t0 + Int64(i), value: Double(i))
            try await wal.commit(batch)
            if before.offset % 32768 > 32768 - 7 {
                var reader = try WALReader(directory: storage.wal, from: before)
                _ = try reader.next()
                padded = (reader.lastRecordStart, t0 + Int64(i))
            }
        }
        try await wal.close()
        let p = try #require(padded, "no record followed page padding")

        let lines = try storage.dump(.text, match: ["padded"], from: p.timestamp, to: p.timestamp)
        #expect(lines.last?.hasPrefix("\(RecordPrinter.position(p.start))+0 sample ref=\(ref) ") == true, "\(lines.last ?? "")")

        // A cursor at the record's start (as remote write stores it) acknowledges nothing of it;
        // one sample further acknowledges that sample.
        try storage.storeProgress("at-start", EndpointProgress(acknowledged: Cursor(position: p.start)))
        try storage.storeProgress("after-it", EndpointProgress(acknowledged: Cursor(position: p.start, samplesDone: 1)))
        let selection = Selection(selectors: [try SeriesSelector(parsing: "padded")], from: p.timestamp, to: p.timestamp)
        let lag = try storage.inspect(.init(selection: selection, records: false, lag: true)).report.lag
        #expect(lag.map(\.name) == ["after-it", "at-start"])
        #expect(lag.map(\.unsentSamples) == [0, 1])
    }

    @Test func aTornTailOfTheNewestSegmentIsTheEnd() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        let before = try storage.dump(.text)
        // Half a record: a `first` fragment header promising more than is there, and a few bytes.
        let handle = try #require(FileHandle(forWritingAtPath: storage.segmentPath(positions.head.segment)))
        handle.seekToEndOfFile()
        handle.write(Data([2, 0, 100, 1, 2, 3, 4, 9, 9, 9]))
        try handle.close()

        let result = try storage.inspect(.init(format: .text, records: true, stats: true))
        #expect(result.problems.isEmpty)
        #expect(result.report.isClean)
        let statsStart = try #require(result.lines.firstIndex { $0.hasPrefix("segments:") })
        #expect(Array(result.lines[..<statsStart]) == before)
        #expect(result.report.stats.unreadableTail?.position == positions.head)
        #expect(result.report.stats.unreadableTail?.bytes == 10)
        #expect(result.lines.contains("unreadable tail:  10 bytes at \(RecordPrinter.position(positions.head)) (torn, or being written)"),
                "\(result.lines)")
    }

    @Test func aCorruptRecordInAFinishedSegmentIsReportedAndTheNextSegmentIsRead() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        // Damage the payload of the third commit's samples record (segment 0, finished): its
        // checksum no longer matches.
        let damaged = positions.samples[2]
        #expect(damaged.segment == 0)
        let handle = try #require(FileHandle(forUpdatingAtPath: storage.segmentPath(0)))
        try handle.seek(toOffset: UInt64(damaged.offset + 7 + 3))
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: UInt64(damaged.offset + 7 + 3))
        try handle.write(contentsOf: [byte ^ 0xff])
        try handle.close()

        let result = try storage.inspect(.init(format: .text))
        #expect(!result.report.isClean)
        #expect(result.report.corruptions.map(\.segment) == [0])
        #expect(result.report.corruptions.first?.recordOffset == damaged.offset)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: storage.segmentPath(0))[.size] as? Int)
        #expect(result.problems == [
            "corrupt WAL record in segment 00000000 at offset \(damaged.offset): checksum mismatch "
                + "(file \(storage.wal)/00000000); skipped the rest of that segment (\(size - damaged.offset) bytes)"
        ])
        try expectGolden(result.lines, "corrupt-segment.txt")
        // Everything before the damage and all of segment 1 was printed.
        let full = try TestStorage()
        try await writeFixtureWAL(full)
        let undamaged = try full.dump(.text)
        let cut = try #require(undamaged.firstIndex { $0.hasPrefix(RecordPrinter.position(damaged)) })
        let segment1 = undamaged.drop { !$0.hasPrefix("00000001@") }
        #expect(result.lines == Array(undamaged[..<cut]) + segment1)
    }

    @Test func anEmptyWALPrintsNothing() throws {
        let storage = try TestStorage()
        let result = try storage.inspect(.init(format: .text))
        #expect(result.lines.isEmpty)
        #expect(result.report.isClean)
    }

    @Test func aMissingStorageDirectoryIsAnErrorNamingIt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("walinspect-missing-\(UUID().uuidString)").path
        #expect(throws: InspectionError("storage directory \(path) does not exist")) {
            try WALInspector(storagePath: path)
        }
    }

    @Test func aStorageDirectoryWithoutWALIsAnErrorNamingTheWALPath() throws {
        let storage = try TestStorage()
        try FileManager.default.removeItem(atPath: storage.wal)
        #expect(throws: InspectionError("no WAL in \(storage.path): \(storage.wal) does not exist")) {
            try WALInspector(storagePath: storage.path)
        }
    }
}
