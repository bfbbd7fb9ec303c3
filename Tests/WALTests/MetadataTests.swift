import Model
import Foundation
import Testing
@testable import WAL

@Suite struct MetadataTests {
    let log = LogCapture()

    let cpu = MetricMetadata(family: "node_cpu_seconds", type: .counter, help: "Seconds the CPUs spent in each mode.", unit: "seconds")
    let load = MetricMetadata(family: "node_load1", type: .gauge, help: "1m load average.")

    private func batch(_ t: Int64, metadata: [MetricMetadata]) -> AppendBatch {
        var b = AppendBatch()
        b.append(labels: labels("node_load1"), timestamp: t, value: 1)
        for m in metadata { b.appendMetadata(m) }
        return b
    }

    @Test func metadataRecordRoundTripsWithPrometheusTypeNumbers() throws {
        let all = MetricType.allCases.map { MetricMetadata(family: "f_\($0.rawValue)", type: $0, help: "h \($0)", unit: "u") }
        #expect(MetricType.allCases.map(\.rawValue) == Array(0...7))
        #expect(try RecordCodec.decode(RecordCodec.encode(.metadata(all))) == .metadata(all))
        // Layout: family, type byte, field count, then (name, value) pairs.
        let bytes = RecordCodec.encode(.metadata([MetricMetadata(family: "up", type: .gauge, help: "x", unit: "")]))
        #expect(bytes == [6, 2, 0x75, 0x70, 2, 2, 4, 0x75, 0x6e, 0x69, 0x74, 0, 4, 0x68, 0x65, 0x6c, 0x70, 1, 0x78])
    }

    @Test func unknownFieldsAndTypesAreSkippedWhenDecoding() throws {
        // family "a", type 9 (unknown to us), 3 fields: "help"="h", "future"="x", "unit"="s".
        let bytes: [UInt8] = [6, 1, 0x61, 9, 3, 4, 0x68, 0x65, 0x6c, 0x70, 1, 0x68, 6, 0x66, 0x75, 0x74, 0x75, 0x72, 0x65, 1, 0x78, 4, 0x75, 0x6e, 0x69, 0x74, 1, 0x73]
        #expect(try RecordCodec.decode(bytes) == .metadata([MetricMetadata(family: "a", type: .unknown, help: "h", unit: "s")]))
        #expect(throws: RecordDecodingError.self) { try RecordCodec.decode([6, 1, 0x61, 2, 9]) }
    }

    @Test func metadataIsWrittenOnlyWhenNewOrChanged() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        _ = try await wal.commit(batch(1, metadata: [cpu, load]))
        _ = try await wal.commit(batch(2, metadata: [cpu, load]))
        var changed = load
        changed.help = "1m load average (changed)."
        _ = try await wal.commit(batch(3, metadata: [cpu, changed]))
        _ = try await wal.commit(batch(4, metadata: []))
        #expect(wal.metadataCount == 2)
        let records = try readAll(dir.path).map(\.record)
        #expect(records.filter { if case .metadata = $0 { true } else { false } } == [.metadata([cpu, load]), .metadata([changed])])
        // A commit writes series, metadata, samples.
        if case .series = records[0], case .metadata = records[1], case .samples = records[2] {} else {
            Issue.record("unexpected order \(records.prefix(3))")
        }
        try await wal.close()
    }

    @Test func everySegmentHeadRepeatsTheMetadataTable() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 600, logger: log.logger)
        _ = try await wal.commit(batch(0, metadata: [cpu, load]))
        for t in 1..<60 { _ = try await wal.commit(batch(Int64(t), metadata: t % 10 == 0 ? [cpu, load] : [])) }
        let segments = try wal.segments()
        #expect(segments.count >= 4)
        for n in segments.dropFirst() {
            let records = try readAll(dir.path, from: WALPosition(segment: n, offset: 0))
            // Head: series, then the metadata table sorted by family.
            #expect(records.count >= 2)
            #expect(records.dropFirst().first?.record == .metadata([cpu, load]), "segment \(n)")
        }
        try await wal.close()
        // A reopened log has the table back, and heads the new segment with it.
        let again = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(again.metadataCount == 2)
        let head = try readAll(dir.path, from: WALPosition(segment: again.head.segment, offset: 0))
        #expect(allMetadata(head) == [cpu, load])
        try await again.close()
    }

    @Test func metadataNotAnnouncedAgainIsForgotten() async throws {
        let dir = TempDir()
        // Retention zero: an entry goes once it was not announced in the last two segments.
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 400, metadataRetention: .zero, logger: log.logger)
        _ = try await wal.commit(batch(0, metadata: [cpu, load]))
        var t: Int64 = 1
        func commitUntilNewSegment(_ metadata: [MetricMetadata]) async throws {
            let start = wal.head.segment
            while wal.head.segment == start {
                _ = try await wal.commit(batch(t, metadata: metadata))
                t += 1
            }
        }
        try await commitUntilNewSegment([load])  // segment 1 starts: both announced in segment 0
        #expect(wal.metadataCount == 2)
        try await commitUntilNewSegment([load])  // segment 2: cpu last announced in segment 0, kept
        #expect(wal.metadataCount == 2)
        try await commitUntilNewSegment([load])  // segment 3: cpu not announced in segments 1 and 2
        #expect(wal.metadataCount == 1)
        let head = try readAll(dir.path, from: WALPosition(segment: wal.head.segment, offset: 0))
        #expect(allMetadata(head) == [load])
        // Announced again, it is written again (it is new to the log).
        _ = try await wal.commit(batch(t, metadata: [cpu]))
        #expect(wal.metadataCount == 2)
        #expect(allMetadata(try readAll(dir.path, from: WALPosition(segment: wal.head.segment, offset: 0))) == [load, cpu])
        try await wal.close()
    }

    @Test func recentlyAnnouncedMetadataIsKeptAcrossManySegments() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 400, logger: log.logger)
        _ = try await wal.commit(batch(0, metadata: [cpu, load]))
        for t in 1..<100 { _ = try await wal.commit(batch(Int64(t), metadata: [])) }
        #expect(wal.head.segment > 5)
        #expect(wal.metadataCount == 2, "within the 15 minutes' retention")
        try await wal.close()
    }
}
