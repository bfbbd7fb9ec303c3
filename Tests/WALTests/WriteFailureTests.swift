#if canImport(Glibc)
import Model
import Glibc
#endif
import Foundation
import Testing
@testable import WAL

/// Disk full for real: a tiny tmpfs (mounting needs root; skipped where it is not allowed).
@Suite(.enabled(if: TinyFilesystem.available, "needs the right to mount a tmpfs"))
struct WriteFailureTests {
    let log = LogCapture()

    /// Fills the filesystem at `directory` with a file of zeros until ENOSPC; returns its path.
    private func fill(_ directory: String) -> String {
        let path = directory + "/filler"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        return path
    }

    private func isDiskFull(_ error: any Error) -> Bool {
        guard case WALError.writeFailed(let underlying) = error, let io = underlying as? WALIOError else { return false }
        return io.errno == ENOSPC
    }

    /// One scrape-like batch: `count` series named after `round`, plus the ones known by ref.
    private func batch(round: Int, new count: Int, known: [SeriesRef]) -> AppendBatch {
        var b = AppendBatch()
        for k in 0..<count {
            b.append(labels: labels("m", ("round", "\(round)"), ("k", "\(k)"), ("pad", String(repeating: "p", count: 40))), timestamp: Int64(round), value: Double(k))
        }
        for ref in known { b.append(ref: ref, timestamp: Int64(round), value: 1) }
        b.appendMetadata(MetricMetadata(family: "m\(round)", type: .gauge, help: "round \(round)"))
        return b
    }

    @Test func aCommitThatHitsAFullDiskIsRolledBackAndLaterCommitsSucceed() async throws {
        guard let fs = TinyFilesystem(kilobytes: 256) else { Issue.record("cannot mount"); return }
        let dir = fs.path + "/wal"
        let wal = try WriteAheadLog(directory: dir, segmentSize: 1 << 20, compression: .none, logger: log.logger)
        var known: [SeriesRef] = []
        var written: [Int64] = []
        for round in 0..<3 {
            known += try await wal.commit(batch(round: round, new: 5, known: known))
            written.append(Int64(round))
        }
        let filler = fill(fs.path)
        let before = (head: wal.head, series: wal.seriesCount, metadata: wal.metadataCount)
        let sizeBefore = fileBytes(WALSegment.path(dir, before.head.segment)).count

        // Full: the commit throws, and leaves nothing behind, in memory or on disk.
        var failures = 0
        for round in 3..<6 {
            await #expect(throws: WALError.self) { try await wal.commit(batch(round: round, new: 200, known: known)) }
            do { _ = try await wal.commit(batch(round: round, new: 200, known: known)) } catch { #expect(isDiskFull(error), "\(error)") }
            failures += 2
        }
        #expect(wal.head == before.head)
        #expect(wal.seriesCount == before.series)
        #expect(wal.metadataCount == before.metadata)
        #expect(fileBytes(WALSegment.path(dir, before.head.segment)).count == sizeBefore)
        #expect(wal.writeFailures == failures)
        #expect(log.errors.count == 1, "logged once per failure streak: \(log.errors)")

        // Space again: the next commit works, its series get refs the failed ones never used.
        try FileManager.default.removeItem(atPath: filler)
        let refs = try await wal.commit(batch(round: 6, new: 5, known: known))
        written.append(6)
        #expect(Set(refs).isDisjoint(with: known))
        #expect(wal.seriesCount == before.series + 5)
        #expect(log.messages(.info).filter { $0 == "WAL writes recovered" }.count == 1)

        // Readers see exactly the successful commits, without any error.
        let records = try readAll(dir)
        #expect(Set(allSamples(records).map(\.timestamp)) == Set(written))
        #expect(allMetadata(records).map(\.family) == ["m0", "m1", "m2", "m6"])
        try await wal.close()
        let reopened = try WriteAheadLog(directory: dir, logger: log.logger)
        #expect(reopened.openReport.corruptions == 0)
        try await reopened.close()
        _ = fs.path  // mounted until here
    }

    @Test func aFullDiskWhileStartingASegmentLeavesNoBrokenSegment() async throws {
        guard let fs = TinyFilesystem(kilobytes: 256) else { Issue.record("cannot mount"); return }
        let dir = fs.path + "/wal"
        // Segments of one commit each: every commit starts a new segment, with its head.
        let wal = try WriteAheadLog(directory: dir, segmentSize: 1, compression: .none, logger: log.logger)
        var known: [SeriesRef] = []
        var written: Set<Int64> = []
        var round = 0
        var filler: String?
        var failed = 0
        while failed < 5 {
            do {
                known += try await wal.commit(batch(round: round, new: 20, known: known))
                written.insert(Int64(round))
            } catch {
                #expect(isDiskFull(error), "\(error)")
                failed += 1
            }
            round += 1
            if round == 3 { filler = fill(fs.path) }
        }
        #expect(wal.writeFailures == 5)
        try FileManager.default.removeItem(atPath: filler!)
        for _ in 0..<3 {
            known += try await wal.commit(batch(round: round, new: 20, known: known))
            written.insert(Int64(round))
            round += 1
        }
        let segments = try wal.segments()
        #expect(segments == Array(segments.first!...segments.last!), "no gap: \(segments)")
        // Every segment can be read on its own, and all of the log from the start, without error.
        let records = try readAll(dir)
        #expect(Set(allSamples(records).map(\.timestamp)) == written)
        for n in segments {
            var knownRefs = Set<SeriesRef>()
            for r in try readAll(dir, from: WALPosition(segment: n, offset: 0)) {
                if case .series(let s) = r.record { knownRefs.formUnion(s.map(\.ref)) }
                if case .samples(let s) = r.record { #expect(s.allSatisfy { knownRefs.contains($0.ref) }, "segment \(n)") }
            }
        }
        try await wal.close()
        let reopened = try WriteAheadLog(directory: dir, logger: log.logger)
        #expect(reopened.openReport.corruptions == 0)
        try await reopened.close()
        _ = fs.path  // mounted until here
    }
}

extension WriteFailureTests {
    @Test func aLogOpensOnAFullDiskAndTakesCommitsOnceThereIsSpace() async throws {
        guard let fs = TinyFilesystem(kilobytes: 256) else { Issue.record("cannot mount"); return }
        let dir = fs.path + "/wal"
        var known: [SeriesRef] = []
        do {
            let wal = try WriteAheadLog(directory: dir, compression: .none, logger: log.logger)
            for round in 0..<3 { known += try await wal.commit(batch(round: round, new: 30, known: known)) }
            try await wal.close()
        }
        let filler = fill(fs.path)
        // The new segment's head (90 series) does not fit: the open works all the same.
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir, compression: .none, logger: capture.logger)
        #expect(wal.seriesCount == 90)
        #expect(wal.writeFailures == 1)
        #expect(try wal.segments() == [0])
        #expect(wal.head == WALPosition(segment: 0, offset: fileBytes(WALSegment.path(dir, 0)).count))
        await #expect(throws: WALError.self) { try await wal.commit(batch(round: 3, new: 1, known: known)) }
        #expect(capture.errors.count == 1, "\(capture.errors)")
        // Remote write drained segment 0 and removed it: a new segment can start.
        try wal.removeSegments(before: 1)
        try FileManager.default.removeItem(atPath: filler)
        _ = try await wal.commit(batch(round: 4, new: 1, known: known))
        #expect(capture.messages(.info).contains("WAL writes recovered"))
        #expect(try wal.segments() == [1])
        let records = try readAll(dir)
        #expect(allSeries(records).count == 91, "the head of segment 1 lists every series, and the new one")
        #expect(Set(allSamples(records).map(\.timestamp)) == [4])
        try await wal.close()
        _ = fs.path
    }
}

extension WriteFailureTests {
    /// Failed writes leave a gap in the committed-record window: nothing from before them is
    /// served; after the next good write, the window holds exactly what a reader reads from there.
    @Test func theCommittedRecordWindowStartsAgainAfterAFailedWrite() async throws {
        guard let fs = TinyFilesystem(kilobytes: 256) else { Issue.record("cannot mount"); return }
        let dir = fs.path + "/wal"
        let wal = try WriteAheadLog(directory: dir, segmentSize: 1 << 20, compression: .none, logger: log.logger)
        let opened = wal.head
        var known: [SeriesRef] = []
        for round in 0..<3 { known += try await wal.commit(batch(round: round, new: 5, known: known)) }
        #expect(wal.committedRecords(from: opened, maxRecords: 1000)?.isEmpty == false)
        let beforeFailure = wal.head
        let filler = fill(fs.path)
        var round = 3
        var failed = 0
        while failed < 2 {
            do { known += try await wal.commit(batch(round: round, new: 200, known: known)) } catch { failed += 1 }
            round += 1
        }
        #expect(wal.committedRecords(from: opened) == nil)
        #expect(wal.committedRecords(from: beforeFailure) == nil)
        try FileManager.default.removeItem(atPath: filler)
        let afterFailure = wal.head
        known += try await wal.commit(batch(round: round, new: 3, known: Array(known.prefix(5))))
        var reader = try WALReader(directory: dir, from: afterFailure)
        var fromFile: [CommittedRecord] = []
        while let (record, next) = try reader.next() {
            fromFile.append(CommittedRecord(record: record, start: reader.lastRecordStart, next: next))
        }
        #expect(!fromFile.isEmpty)
        #expect(wal.committedRecords(from: afterFailure, maxRecords: 1000) == fromFile)
        #expect(wal.committedRecords(from: wal.head) == [])
        try await wal.close()
        _ = fs.path  // mounted until here
    }
}
