import Model
import Foundation
import Logging
import Testing
@testable import WAL

@Suite struct ExemplarCodecTests {
    @Test func exactBytes() throws {
        // Layout of Prometheus tsdb/record Encoder.Exemplars: type 4, base ref (BE64), base
        // time (BE64), then per exemplar: ref delta (varint), time delta (varint), value bits
        // (BE64), labels (uvarint count, then uvarint-length name and value).
        let record = WALRecord.exemplars([
            ExemplarRecord(ref: 5, timestamp: 1000, value: 1, labels: Labels([Label("trace_id", "ab")])),
            ExemplarRecord(ref: 4, timestamp: 999, value: Double(bitPattern: 0x7FF0_0000_0000_0002), labels: .empty),
        ])
        let bytes = RecordCodec.encode(record)
        let expected: [UInt8] =
            [4]
            + [0, 0, 0, 0, 0, 0, 0, 5]  // base ref
            + [0, 0, 0, 0, 0, 0, 0x03, 0xE8]  // base time 1000
            + [0, 0]  // first: deltas 0, 0
            + [0x3F, 0xF0, 0, 0, 0, 0, 0, 0]  // 1.0
            + [1, 8] + Array("trace_id".utf8) + [2] + Array("ab".utf8)
            + [1, 1]  // second: ref delta -1, time delta -1 (zig-zag)
            + [0x7F, 0xF0, 0, 0, 0, 0, 0, 0x02]  // stale-marker NaN bits
            + [0]  // no labels
        #expect(bytes == expected)
        #expect(try RecordCodec.decode(bytes) == record)
    }

    @Test func emptyRecordIsTypeByteAlone() throws {
        let bytes = RecordCodec.encode(.exemplars([]))
        #expect(bytes == [4])
        #expect(try RecordCodec.decode(bytes) == .exemplars([]))
    }

    @Test func roundTripKeepsBitPatternsAndLabels() throws {
        let exemplars = [
            ExemplarRecord(ref: 100, timestamp: 1_700_000_000_000, value: 0.25,
                           labels: Labels([Label("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), Label("span_id", "00f067aa0ba902b7")])),
            ExemplarRecord(ref: 3, timestamp: 1_699_999_999_000, value: .nan, labels: .empty),  // negative deltas
            ExemplarRecord(ref: 250, timestamp: 1_700_000_015_000, value: -0.0, labels: Labels([Label("ü", "\"\n\\")])),
            ExemplarRecord(ref: 0, timestamp: .max, value: Double(bitPattern: 0xFFF8_0000_0000_0001), labels: .empty),
            ExemplarRecord(ref: .max, timestamp: .min, value: -.infinity,
                           labels: Labels([Label("long", String(repeating: "x", count: 300))])),
        ]
        let decoded = try RecordCodec.decode(RecordCodec.encode(.exemplars(exemplars)))
        guard case .exemplars(let got)? = decoded else {
            Issue.record("not an exemplars record")
            return
        }
        #expect(got == exemplars)
        for (g, x) in zip(got, exemplars) { #expect(g.value.bitPattern == x.value.bitPattern) }
    }

    @Test func equalityIsByBitPattern() {
        let a = ExemplarRecord(ref: 1, timestamp: 2, value: .nan, labels: .empty)
        #expect(a == a)
        #expect(a != ExemplarRecord(ref: 1, timestamp: 2, value: Double(bitPattern: Double.nan.bitPattern | 1), labels: .empty))
        #expect(ExemplarRecord(ref: 1, timestamp: 2, value: 0.0, labels: .empty)
            != ExemplarRecord(ref: 1, timestamp: 2, value: -0.0, labels: .empty))
        #expect(a != ExemplarRecord(ref: 1, timestamp: 2, value: .nan, labels: Labels([Label("a", "b")])))
    }

    @Test func malformedThrows() throws {
        let good = RecordCodec.encode(.exemplars([
            ExemplarRecord(ref: 1, timestamp: 1, value: 1, labels: Labels([Label("a", "b")])),
        ]))
        // Every proper prefix longer than the type byte is malformed, except the base alone
        // (type, ref, time: 17 bytes), which like Prometheus's decoder reads as no exemplars.
        for n in 2..<good.count where n != 17 {
            #expect(throws: RecordDecodingError.self) { try RecordCodec.decode(Array(good[..<n])) }
        }
        #expect(try RecordCodec.decode(Array(good[..<17])) == .exemplars([]))
        // A label count larger than the rest of the record can hold.
        var huge = Array(good[..<27])
        huge += [0x7F, 1, 0x61]
        #expect(throws: RecordDecodingError.self) { try RecordCodec.decode(huge) }
    }

    @Test func batchBookkeeping() {
        var batch = AppendBatch()
        #expect(batch.isEmpty && batch.exemplarCount == 0)
        batch.appendExemplar(ref: 7, timestamp: 1, value: 1, labels: .empty)
        #expect(!batch.isEmpty)
        #expect(batch.sampleCount == 0)
        #expect(batch.exemplarCount == 1)
        let i = batch.append(labels: labels("x"), timestamp: 1, value: 1)
        batch.appendExemplar(newSeries: i, timestamp: 1, value: 2, labels: .empty)
        #expect(batch.exemplarCount == 2)
        batch.removeAll()
        #expect(batch.isEmpty && batch.exemplarCount == 0 && batch.sampleCount == 0 && batch.newSeriesCount == 0)
    }

    @Test func exemplarForUnknownNewSeriesIndexTraps() async {
        await #expect(processExitsWith: .failure) {
            var batch = AppendBatch()
            batch.append(labels: Labels([Label("__name__", "x")]), timestamp: 1, value: 1)
            batch.appendExemplar(newSeries: 1, timestamp: 1, value: 1, labels: .empty)
        }
    }
}

@Suite struct ExemplarWALTests {
    let log = LogCapture()
    let trace = { (id: String) in Labels([Label("trace_id", id)]) }

    @Test func commitResolvesKnownAndNewSeries() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        let a = labels("a"), b = labels("b"), c = labels("c")

        var first = AppendBatch()
        first.append(labels: a, timestamp: 10, value: 1)
        let refsA = try await wal.commit(first)
        #expect(refsA == [1])

        var batch = AppendBatch()
        batch.append(ref: 1, timestamp: 20, value: 2)
        let ib = batch.append(labels: b, timestamp: 20, value: 3)
        let ia = batch.append(labels: a, timestamp: 20, value: 4)  // known label set, appended as new
        let ic = batch.append(labels: c, timestamp: 20, value: 5)
        batch.appendExemplar(newSeries: ic, timestamp: 21, value: 5.5, labels: trace("c1"))
        batch.appendExemplar(ref: 1, timestamp: 19, value: 2.5, labels: trace("a1"))
        batch.appendExemplar(newSeries: ib, timestamp: 20, value: 3.5, labels: .empty)
        batch.appendExemplar(newSeries: ia, timestamp: 20, value: .nan, labels: trace("a2"))
        let refs = try await wal.commit(batch)
        #expect(refs == [2, 1, 3])

        let records = try readAll(dir.path)
        #expect(records.map(\.record) == [
            .series([SeriesRecord(ref: 1, labels: a)]),
            .samples([SampleRecord(ref: 1, timestamp: 10, value: 1)]),
            // The first commit had no exemplars: no exemplars record.
            .series([SeriesRecord(ref: 2, labels: b), SeriesRecord(ref: 3, labels: c)]),
            .samples([
                SampleRecord(ref: 1, timestamp: 20, value: 2),
                SampleRecord(ref: 2, timestamp: 20, value: 3),
                SampleRecord(ref: 1, timestamp: 20, value: 4),
                SampleRecord(ref: 3, timestamp: 20, value: 5),
            ]),
            .exemplars([
                ExemplarRecord(ref: 3, timestamp: 21, value: 5.5, labels: trace("c1")),
                ExemplarRecord(ref: 1, timestamp: 19, value: 2.5, labels: trace("a1")),
                ExemplarRecord(ref: 2, timestamp: 20, value: 3.5, labels: .empty),
                ExemplarRecord(ref: 1, timestamp: 20, value: .nan, labels: trace("a2")),
            ]),
        ])
        #expect(records.last?.next == wal.head)
        try await wal.close()
        #expect(log.warnings.isEmpty)
    }

    @Test func commitIsOneWrite() async throws {
        // The three records of a commit appear together: a reader never sees the samples record
        // without the exemplars record after it. (Checked via the bytes: the segment ends right
        // after the exemplars record, and positions line up.)
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        var batch = AppendBatch()
        let i = batch.append(labels: labels("m"), timestamp: 1, value: 1)
        batch.appendExemplar(newSeries: i, timestamp: 1, value: 1, labels: trace("t"))
        _ = try await wal.commit(batch)
        let records = try readAll(dir.path)
        #expect(records.count == 3)
        #expect(fileBytes(dir.segmentPath(0)).count == wal.head.offset)
        let series = RecordCodec.encode(records[0].record).count
        let samples = RecordCodec.encode(records[1].record).count
        let exemplars = RecordCodec.encode(records[2].record).count
        #expect(wal.head.offset == 3 * 7 + series + samples + exemplars)
        try await wal.close()
    }

    @Test func exemplarsOnlyBatch() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        var first = AppendBatch()
        first.append(labels: labels("m"), timestamp: 1, value: 1)
        _ = try await wal.commit(first)
        let before = wal.head
        var batch = AppendBatch()
        batch.appendExemplar(ref: 1, timestamp: 2, value: 7, labels: trace("x"))
        #expect(try await wal.commit(batch) == [])
        let after = try readAll(dir.path, from: before)
        #expect(after.map(\.record) == [.exemplars([ExemplarRecord(ref: 1, timestamp: 2, value: 7, labels: trace("x"))])])
        try await wal.close()
    }

    @Test func reopenAfterExemplarRecords() async throws {
        let dir = TempDir()
        let a = labels("a"), b = labels("b")
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            var batch = AppendBatch()
            let ia = batch.append(labels: a, timestamp: 1, value: 1)
            let ib = batch.append(labels: b, timestamp: 1, value: 1)
            batch.appendExemplar(newSeries: ia, timestamp: 1, value: 1, labels: trace("1"))
            batch.appendExemplar(newSeries: ib, timestamp: 1, value: 1, labels: trace("2"))
            #expect(try await wal.commit(batch) == [1, 2])
            try await wal.close()
        }
        do {
            // The newest segment holds only an exemplars-only commit after the head.
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            #expect(wal.seriesCount == 2)
            var batch = AppendBatch()
            batch.appendExemplar(ref: 2, timestamp: 2, value: 2, labels: trace("3"))
            _ = try await wal.commit(batch)
            try await wal.close()
        }
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(wal.seriesCount == 2)
        #expect(wal.head.segment == 2)
        var batch = AppendBatch()
        let ic = batch.append(labels: labels("c"), timestamp: 3, value: 3)
        let ia = batch.append(labels: a, timestamp: 3, value: 3)
        batch.appendExemplar(newSeries: ic, timestamp: 3, value: 3, labels: trace("4"))
        batch.appendExemplar(newSeries: ia, timestamp: 3, value: 3, labels: trace("5"))
        #expect(try await wal.commit(batch) == [3, 1])
        try await wal.close()

        let records = try readAll(dir.path)
        #expect(allExemplars(records).map(\.ref) == [1, 2, 2, 3, 1])
        #expect(allExemplars(records).map(\.labels) == ["1", "2", "3", "4", "5"].map(trace))
        #expect(log.warnings.isEmpty)
    }

    @Test func tornExemplarsRecordIsTruncated() async throws {
        let dir = TempDir()
        var samplesEnd = 0
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            var batch = AppendBatch()
            let i = batch.append(labels: labels("m"), timestamp: 1, value: 1)
            batch.appendExemplar(newSeries: i, timestamp: 1, value: 1, labels: trace("abc"))
            _ = try await wal.commit(batch)
            let records = try readAll(dir.path)
            samplesEnd = records[1].next.offset
            try await wal.close()
        }
        let bytes = fileBytes(dir.segmentPath(0))
        writeBytes(Array(bytes[..<(bytes.count - 2)]), to: dir.segmentPath(0))
        let capture = LogCapture()
        let wal = try WriteAheadLog(directory: dir.path, logger: capture.logger)
        #expect(capture.warnings.count == 1)
        #expect(fileBytes(dir.segmentPath(0)).count == samplesEnd)
        #expect(wal.seriesCount == 1)
        let records = try readAll(dir.path)
        #expect(allSamples(records).count == 1)
        #expect(allExemplars(records).isEmpty)
        try await wal.close()
    }

    @Test func exemplarsRecordSpanningPages() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, compression: .none, logger: log.logger)
        var batch = AppendBatch()
        var expected: [ExemplarRecord] = []
        for k in 0..<40 {
            let i = batch.append(labels: labels("m", ("k", "\(k)")), timestamp: 5, value: 1)
            let l = Labels([Label("trace_id", String(repeating: "\(k % 10)", count: 2000)), Label("k", "\(k)")])
            batch.appendExemplar(newSeries: i, timestamp: 5 - Int64(k), value: Double(k), labels: l)
            expected.append(ExemplarRecord(ref: SeriesRef(k + 1), timestamp: 5 - Int64(k), value: Double(k), labels: l))
        }
        _ = try await wal.commit(batch)
        let samplesEnd = try readAll(dir.path)[1].next.offset
        #expect(samplesEnd < WALSegment.pageSize)
        #expect(wal.head.offset > 2 * WALSegment.pageSize + samplesEnd)
        let records = try readAll(dir.path)
        #expect(records.count == 3)
        #expect(allExemplars(records) == expected)
        // On disk: the exemplars record starts with a "first" fragment after the samples
        // record, then a "middle" fragment fills page 2.
        let bytes = fileBytes(dir.segmentPath(0))
        #expect(bytes[samplesEnd] == 2)
        #expect(bytes[WALSegment.pageSize] == 3)
        try await wal.close()
        // Reopening reads through it.
        let capture = LogCapture()
        try await WriteAheadLog(directory: dir.path, logger: capture.logger).close()
        #expect(capture.warnings.isEmpty)
    }

    @Test func rolloverCountsExemplars() async throws {
        // Commits whose exemplars record would overflow the segment start a new one, and every
        // segment stays self-contained for exemplar refs too.
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 4096, logger: log.logger)
        var expected: [ExemplarRecord] = []
        var known: [Labels: SeriesRef] = [:]
        for round in 0..<100 {
            var batch = AppendBatch()
            var pending: [(Labels, Int)] = []
            for k in 0..<3 {
                let l = labels("m", ("k", "\(k + round / 20 * 3)"))
                if let r = known[l] {
                    batch.append(ref: r, timestamp: Int64(round), value: 0)
                    batch.appendExemplar(ref: r, timestamp: Int64(round), value: Double(k),
                                         labels: trace(String(repeating: "e", count: 100)))
                } else {
                    let i = batch.append(labels: l, timestamp: Int64(round), value: 0)
                    batch.appendExemplar(newSeries: i, timestamp: Int64(round), value: Double(k),
                                         labels: trace(String(repeating: "e", count: 100)))
                    pending.append((l, i))
                }
            }
            let refs = try await wal.commit(batch)
            for (l, i) in pending { known[l] = refs[i] }
            for k in 0..<3 {
                let l = labels("m", ("k", "\(k + round / 20 * 3)"))
                expected.append(ExemplarRecord(ref: known[l]!, timestamp: Int64(round), value: Double(k),
                                               labels: trace(String(repeating: "e", count: 100))))
            }
        }
        let segments = try wal.segments()
        #expect(segments.count > 3)
        for n in segments {
            let size = fileBytes(dir.segmentPath(n)).count
            #expect(size <= 4096, "segment \(n) is \(size) bytes")
        }
        #expect(allExemplars(try readAll(dir.path)) == expected)
        for start in segments {
            var seen = Set<SeriesRef>()
            for r in try readAll(dir.path, from: WALPosition(segment: start, offset: 0)) {
                switch r.record {
                case .series(let s): seen.formUnion(s.map(\.ref))
                case .samples(let s): #expect(s.allSatisfy { seen.contains($0.ref) })
                case .exemplars(let x): #expect(x.allSatisfy { seen.contains($0.ref) })
                case .metadata: break
                }
            }
        }
        try await wal.close()
    }
}
