import Model
import Foundation
import Testing
@testable import WAL

@Suite struct SeriesForgettingTests {
    let log = LogCapture()

    /// Commits `batch` until the log has started a new segment (appending `filler`'s sample each time).
    private func rollOver(_ wal: WriteAheadLog, filler: SeriesRef, time: inout Int64) async throws {
        let start = wal.head.segment
        while wal.head.segment == start {
            _ = try await wal.commit({ var b = AppendBatch(); b.append(ref: filler, timestamp: time, value: 0); return b }())
            time += 1
        }
    }

    @Test func churningSeriesKeepTheTableAndTheHeadBounded() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 16 * 1024, logger: log.logger)
        // A target whose 100 series change every 5 rounds (pod churn); each vanished series gets its
        // staleness marker and is released, as the scraper does.
        var live: [Labels: SeriesRef] = [:]
        var t: Int64 = 0
        var maxSeries = 0, maxHead = 0
        var firstHalfMaxSeries = 0
        for round in 0..<400 {
            if round == 200 { firstHalfMaxSeries = maxSeries }
            let generation = round / 5
            let wanted = (0..<100).map { labels("container_cpu_usage_seconds_total", ("pod", "web-\(generation)-\($0)")) }
            var batch = AppendBatch()
            var newLabels: [Labels] = []
            for l in wanted {
                if let ref = live[l] {
                    batch.append(ref: ref, timestamp: t, value: Double(round))
                } else {
                    batch.append(labels: l, timestamp: t, value: Double(round))
                    newLabels.append(l)
                }
            }
            let wantedSet = Set(wanted)
            for (l, ref) in live where !wantedSet.contains(l) {
                batch.append(ref: ref, timestamp: t, value: Double(bitPattern: 0x7ff0_0000_0000_0002))
                batch.release(ref: ref)
                live[l] = nil
            }
            let refs = try await wal.commit(batch)
            for (l, ref) in zip(newLabels, refs) { live[l] = ref }
            t += 15_000
            maxSeries = max(maxSeries, wal.seriesCount)
            maxHead = max(maxHead, wal.headSize)
        }
        let segments = try wal.segments()
        #expect(segments.count > 10)
        // 8,000 series were created; the table holds the live ones plus those released since the
        // last segment start, and so does every head.
        #expect(maxSeries <= 1000, "series table peaked at \(maxSeries)")
        #expect(maxSeries <= firstHalfMaxSeries + 100, "no growth: \(firstHalfMaxSeries) then \(maxSeries)")
        let oneSeries = 8 + 1 + 2 * 9 + 34 + 5 + 10  // ref, count, names and values
        #expect(maxHead <= 1000 * oneSeries, "head peaked at \(maxHead) bytes")
        #expect(wal.seriesCount < 8000 / 4)
        try await wal.close()

        // A reader starting at any segment still resolves every sample's ref.
        for start in segments {
            var known = Set<SeriesRef>()
            for r in try readAll(dir.path, from: WALPosition(segment: start, offset: 0)) {
                switch r.record {
                case .series(let s): known.formUnion(s.map(\.ref))
                case .samples(let s):
                    for sample in s where !known.contains(sample.ref) {
                        Issue.record("segment \(start): sample of unknown ref \(sample.ref)")
                    }
                case .exemplars, .metadata: break
                }
            }
        }
    }

    @Test func releasedSeriesAppendedAgainBeforeTheNextSegmentStays() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 512, logger: log.logger)
        var first = AppendBatch()
        for name in ["filler", "by_labels", "by_ref", "gone"] { first.append(labels: labels(name), timestamp: 0, value: 0) }
        let refs = try await wal.commit(first)
        var release = AppendBatch()
        for ref in refs.dropFirst() { release.release(ref: ref) }
        _ = try await wal.commit(release)
        #expect(wal.seriesCount == 4, "released series stay until the next segment starts")
        // Appended again: one by labels (gets its old ref), one by ref.
        var again = AppendBatch()
        again.append(labels: labels("by_labels"), timestamp: 1, value: 1)
        again.append(ref: refs[2], timestamp: 1, value: 1)
        #expect(try await wal.commit(again) == [refs[1]])
        var t: Int64 = 2
        try await rollOver(wal, filler: refs[0], time: &t)
        #expect(wal.seriesCount == 3)
        let head = try readAll(dir.path, from: WALPosition(segment: wal.head.segment, offset: 0))
        #expect(head.first?.record == .series([
            SeriesRecord(ref: refs[0], labels: labels("filler")),
            SeriesRecord(ref: refs[1], labels: labels("by_labels")),
            SeriesRecord(ref: refs[2], labels: labels("by_ref")),
        ]))
        // A forgotten series that comes back is new: it gets a new ref.
        var back = AppendBatch()
        back.append(labels: labels("gone"), timestamp: t, value: 1)
        let newRef = try await wal.commit(back)
        #expect(newRef.count == 1 && newRef[0] > refs[3])
        try await wal.close()
    }

    @Test func aReleaseTakesEffectWithTheStalenessMarkerOfTheSameBatch() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 512, logger: log.logger)
        var first = AppendBatch()
        first.append(labels: labels("filler"), timestamp: 0, value: 0)
        first.append(labels: labels("vanishing"), timestamp: 0, value: 0)
        first.append(labels: labels("seen_again"), timestamp: 0, value: 0)
        let refs = try await wal.commit(first)
        // The scraper forgot "seen_again" and releases it, but the same scrape sees it again (by
        // labels): it stays. "vanishing" gets its marker and goes.
        var batch = AppendBatch()
        batch.append(ref: refs[1], timestamp: 1, value: Double(bitPattern: 0x7ff0_0000_0000_0002))
        batch.release(ref: refs[1])
        batch.release(ref: refs[2])
        batch.append(labels: labels("seen_again"), timestamp: 1, value: 1)
        #expect(try await wal.commit(batch) == [refs[2]])
        var t: Int64 = 2
        try await rollOver(wal, filler: refs[0], time: &t)
        #expect(wal.seriesCount == 2)
        let head = try readAll(dir.path, from: WALPosition(segment: wal.head.segment, offset: 0))
        #expect(allSeries(Array(head.prefix(1))).map(\.ref) == [refs[0], refs[2]])
        try await wal.close()
    }

    @Test func seriesNobodyAppendsAfterAReopenAreForgottenAtTheNextSegment() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            var b = AppendBatch()
            for name in ["kept", "filler", "orphan"] { b.append(labels: labels(name), timestamp: 0, value: 0) }
            #expect(try await wal.commit(b) == [1, 2, 3])
            try await wal.close()
        }
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 512, logger: log.logger)
        #expect(wal.seriesCount == 3)
        // The new segment's head still lists all three (readers from here need them).
        let head = try readAll(dir.path, from: WALPosition(segment: 1, offset: 0))
        #expect(allSeries(head).map(\.ref) == [1, 2, 3])
        var b = AppendBatch()
        b.append(labels: labels("kept"), timestamp: 1, value: 1)
        b.append(labels: labels("filler"), timestamp: 1, value: 1)
        #expect(try await wal.commit(b) == [1, 2], "refs stay stable across the restart")
        var t: Int64 = 2
        try await rollOver(wal, filler: 2, time: &t)
        #expect(wal.seriesCount == 2)
        try await wal.close()
    }

    @Test func manyReleasedSeriesStartANewSegmentBeforeItIsFull() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        var batch = AppendBatch()
        batch.append(labels: labels("live"), timestamp: 0, value: 0)
        for k in 0..<WriterState.releasedRolloverMinimum { batch.append(labels: labels("gone", ("k", "\(k)")), timestamp: 0, value: 0) }
        let refs = try await wal.commit(batch)
        var release = AppendBatch()
        release.append(ref: refs[0], timestamp: 1, value: 1)
        for ref in refs.dropFirst() { release.release(ref: ref) }
        _ = try await wal.commit(release)
        #expect(wal.head.segment == 0 && wal.seriesCount == refs.count)
        // The next commit finds half the table released: new segment, table back to the live series.
        _ = try await wal.commit({ var b = AppendBatch(); b.append(ref: refs[0], timestamp: 2, value: 2); return b }())
        #expect(wal.head.segment == 1)
        #expect(wal.seriesCount == 1)
        #expect(allSeries(try readAll(dir.path, from: WALPosition(segment: 1, offset: 0))).map(\.ref) == [refs[0]])
        try await wal.close()
    }
}
