import Model
import Foundation
import Testing
@testable import WAL

@Suite struct CompressionTests {
    let log = LogCapture()

    /// node_exporter-like commits: 50 series, values that change a little between scrapes.
    private func writeCommits(_ wal: WriteAheadLog, rounds: Int) async throws {
        var refs: [SeriesRef] = []
        for round in 0..<rounds {
            var batch = AppendBatch()
            for k in 0..<50 {
                let value = Double(1000 + k * 17) + Double(round) * 0.25
                if refs.isEmpty {
                    batch.append(
                        labels: labels("node_cpu_seconds_total", ("cpu", "\(k / 8)"), ("mode", "mode\(k % 8)"), ("instance", "10.0.0.1:9100"), ("job", "node")),
                        timestamp: 1_700_000_000_000 + Int64(round) * 15_000, value: value)
                } else {
                    batch.append(ref: refs[k], timestamp: 1_700_000_000_000 + Int64(round) * 15_000, value: value)
                }
            }
            batch.appendMetadata(MetricMetadata(family: "node_cpu_seconds", type: .counter, help: "Seconds the CPUs spent in each mode.", unit: "seconds"))
            let got = try await wal.commit(batch)
            if refs.isEmpty { refs = got }
        }
    }

    @Test func snappyRecordsAreSmallerAndReadBackTheSame() async throws {
        let plain = TempDir(), compressed = TempDir()
        let a = try WriteAheadLog(directory: plain.path, compression: .none, logger: log.logger)
        let b = try WriteAheadLog(directory: compressed.path, compression: .snappy, logger: log.logger)
        try await writeCommits(a, rounds: 40)
        try await writeCommits(b, rounds: 40)
        try await a.close()
        try await b.close()
        let plainRecords = try readAll(plain.path).map(\.record)
        let compressedRecords = try readAll(compressed.path).map(\.record)
        #expect(plainRecords.count == 42, "series, metadata, then 40 samples records")
        #expect(compressedRecords == plainRecords)
        let plainSize = fileBytes(plain.segmentPath(0)).count
        let compressedSize = fileBytes(compressed.segmentPath(0)).count
        #expect(compressedSize < plainSize * 3 / 4, "snappy: \(compressedSize) bytes, none: \(plainSize)")
        // The first record (series of the first commit) is flagged as compressed, the plain one not.
        #expect(fileBytes(compressed.segmentPath(0))[0] == WALSegment.FragmentType.full.rawValue | WALSegment.snappyFlag)
        #expect(fileBytes(plain.segmentPath(0))[0] == WALSegment.FragmentType.full.rawValue)
        #expect(log.warnings.isEmpty)
    }

    @Test func recordsThatDoNotShrinkAreStoredUncompressed() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, compression: .snappy, logger: log.logger)
        // A tiny record is not worth compressing.
        _ = try await wal.commit({ var b = AppendBatch(); b.append(labels: labels("a"), timestamp: 1, value: 1); return b }())
        // Random refs, timestamps and values: snappy cannot shrink them.
        var rng = SystemRandomNumberGenerator()
        var batch = AppendBatch()
        for _ in 0..<100 {
            batch.append(ref: rng.next(), timestamp: Int64.random(in: 0...1 << 40, using: &rng), value: Double(bitPattern: rng.next()))
        }
        _ = try await wal.commit(batch)
        _ = try await wal.commit({ var b = AppendBatch(); b.append(ref: 1, timestamp: 2, value: 2); return b }())
        try await wal.close()
        let types = fragmentTypes(fileBytes(dir.segmentPath(0)))
        #expect(types == [1, 1, 1, 1], "series, samples, random samples, samples: all uncompressed")
        #expect(allSamples(try readAll(dir.path)).count == 102)
    }

    @Test func aCompressedRecordSpanningPagesIsFlaggedInEveryFragment() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, compression: .snappy, logger: log.logger)
        var batch = AppendBatch()
        // 4000 series whose labels repeat a lot: compresses well, but still spans pages.
        let series = (0..<4000).map { labels("http_requests_total", ("handler", "/api/v1/query_range"), ("code", "\($0)"), ("instance", "node-\($0 % 7).example.com:9100")) }
        for l in series { batch.append(labels: l, timestamp: 5, value: 1) }
        let refs = try await wal.commit(batch)
        try await wal.close()
        let bytes = fileBytes(dir.segmentPath(0))
        #expect(bytes.count > WALSegment.pageSize)
        #expect(bytes[0] == WALSegment.FragmentType.first.rawValue | WALSegment.snappyFlag)
        #expect(bytes[WALSegment.pageSize] & WALSegment.snappyFlag != 0)
        let records = try readAll(dir.path)
        #expect(allSeries(records).map(\.labels) == series)
        #expect(allSeries(records).map(\.ref) == refs)
    }

    @Test func logsWrittenWithAndWithoutCompressionReadOnAndReopen() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, compression: .none, logger: log.logger)
            try await writeCommits(wal, rounds: 3)
            try await wal.close()
        }
        do {
            let wal = try WriteAheadLog(directory: dir.path, compression: .snappy, logger: log.logger)
            #expect(wal.seriesCount == 50)
            #expect(wal.metadataCount == 1)
            var batch = AppendBatch()
            batch.append(labels: labels("node_cpu_seconds_total", ("cpu", "0"), ("mode", "mode0"), ("instance", "10.0.0.1:9100"), ("job", "node")), timestamp: 9, value: 9)
            #expect(try await wal.commit(batch) == [1])
            try await wal.close()
        }
        let wal = try WriteAheadLog(directory: dir.path, compression: .none, logger: log.logger)
        #expect(wal.openReport.corruptions == 0)
        #expect(wal.seriesCount == 50)
        try await wal.close()
        let samples = allSamples(try readAll(dir.path))
        #expect(samples.count == 151)
        #expect(log.warnings.isEmpty)
    }

    @Test func zstdFlaggedFragmentsAreReportedAsCorrupt() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, compression: .none, logger: log.logger)
            try await writeCommits(wal, rounds: 2)
            try await wal.close()
        }
        var bytes = fileBytes(dir.segmentPath(0))
        bytes[0] |= WALSegment.zstdFlag
        writeBytes(bytes, to: dir.segmentPath(0))
        writeBytes([], to: dir.segmentPath(1))  // segment 0 is complete
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        #expect(throws: WALCorruptionError.self) { try reader.next() }
    }
}
