import Model
import Testing
@testable import WAL

@Suite struct RecordCodecTests {
    @Test func varints() {
        func uv(_ v: UInt64) -> [UInt8] { var e = ByteEncoder(); e.uvarint(v); return e.bytes }
        func sv(_ v: Int64) -> [UInt8] { var e = ByteEncoder(); e.varint(v); return e.bytes }
        #expect(uv(0) == [0])
        #expect(uv(127) == [0x7F])
        #expect(uv(128) == [0x80, 0x01])
        #expect(uv(300) == [0xAC, 0x02])
        #expect(uv(.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(sv(0) == [0])
        #expect(sv(-1) == [1])
        #expect(sv(1) == [2])
        #expect(sv(-64) == [0x7F])
        #expect(sv(64) == [0x80, 0x01])

        for v: Int64 in [0, 1, -1, 63, -64, 1 << 40, -(1 << 40), .max, .min] {
            let bytes = sv(v)
            let decoded = bytes.withUnsafeBytes { p -> Int64? in
                var d = ByteDecoder(p)
                return try? d.varint()
            }
            #expect(decoded == v)
        }
        for v: UInt64 in [0, 1, 127, 128, 1 << 35, .max] {
            let decoded = uv(v).withUnsafeBytes { p -> UInt64? in
                var d = ByteDecoder(p)
                return try? d.uvarint()
            }
            #expect(decoded == v)
        }
    }

    @Test func seriesExactBytes() throws {
        let record = WALRecord.series([SeriesRecord(ref: 1, labels: Labels([Label("a", "b")]))])
        let bytes = RecordCodec.encode(record)
        #expect(bytes == [1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0x61, 1, 0x62])
        #expect(try RecordCodec.decode(bytes) == record)
    }

    @Test func seriesRoundTrip() throws {
        let record = WALRecord.series([
            SeriesRecord(ref: 1, labels: labels("up", ("job", "node"), ("instance", "localhost:9100"))),
            SeriesRecord(ref: 0xFFFF_FFFF_FFFF, labels: labels("ünïcödé_metric", ("path", "/a/\"b\"\n"))),
            SeriesRecord(ref: 7, labels: .empty),
            SeriesRecord(ref: 8, labels: labels("long", ("v", String(repeating: "x", count: 1000)))),
        ])
        #expect(try RecordCodec.decode(RecordCodec.encode(record)) == record)
    }

    @Test func samplesRoundTripKeepsBitPatterns() throws {
        let staleMarker = Double(bitPattern: 0x7FF0_0000_0000_0002)
        let samples = [
            SampleRecord(ref: 100, timestamp: 1_700_000_000_000, value: 1.5),
            SampleRecord(ref: 3, timestamp: 1_699_999_999_000, value: staleMarker),  // negative deltas
            SampleRecord(ref: 250, timestamp: 1_700_000_015_000, value: -0.0),
            SampleRecord(ref: 100, timestamp: -5, value: .infinity),
            SampleRecord(ref: 0, timestamp: .max, value: Double(bitPattern: 0xFFF8_0000_0000_0001)),
            SampleRecord(ref: .max, timestamp: .min, value: .nan),
        ]
        let decoded = try RecordCodec.decode(RecordCodec.encode(.samples(samples)))
        guard case .samples(let got)? = decoded else {
            Issue.record("not a samples record")
            return
        }
        #expect(got.count == samples.count)
        for (g, s) in zip(got, samples) {
            #expect(g.ref == s.ref)
            #expect(g.timestamp == s.timestamp)
            #expect(g.value.bitPattern == s.value.bitPattern)
        }
        #expect(got[1].value.bitPattern == 0x7FF0_0000_0000_0002)
    }

    @Test func emptySamplesRecord() throws {
        let bytes = RecordCodec.encode(.samples([]))
        #expect(bytes == [2])
        #expect(try RecordCodec.decode(bytes) == .samples([]))
    }

    @Test func samplesLayout() {
        // Base ref and time, then deltas (zig-zag) and the value bits.
        let bytes = RecordCodec.encode(.samples([
            SampleRecord(ref: 5, timestamp: 1000, value: 1),
            SampleRecord(ref: 4, timestamp: 1001, value: 2),
        ]))
        #expect(bytes[0] == 2)
        #expect(Array(bytes[1..<9]) == [0, 0, 0, 0, 0, 0, 0, 5])
        #expect(Array(bytes[9..<17]) == [0, 0, 0, 0, 0, 0, 0x03, 0xE8])
        #expect(Array(bytes[17..<19]) == [0, 0])
        #expect(Array(bytes[19..<27]) == [0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[27..<29]) == [1, 2])  // ref delta -1, time delta +1
        #expect(bytes.count == 37)
    }

    @Test func unknownTypesAreSkippedAndMalformedThrows() throws {
        #expect(try RecordCodec.decode([7, 1, 2, 3]) == nil)  // histogram samples: not decoded here
        #expect(try RecordCodec.decode([255]) == nil)
        #expect(throws: RecordDecodingError.self) { try RecordCodec.decode([1, 0, 0, 0]) }
        #expect(throws: RecordDecodingError.self) { try RecordCodec.decode([2, 0, 0, 0, 0, 0, 0, 0, 1]) }
        #expect(throws: RecordDecodingError.self) { try RecordCodec.decode([1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 5, 0x61]) }
        #expect(throws: RecordDecodingError.self) { try RecordCodec.decode([]) }
    }

    @Test func encodedSizeMatchesFragmenting() {
        #expect(WALSegment.encodedSize(payloadLength: 10, at: 0) == 17)
        // 3 bytes left in the page: padded, then a full fragment.
        #expect(WALSegment.encodedSize(payloadLength: 10, at: 32768 - 3) == 3 + 17)
        // Exactly a header's worth left: an empty first fragment there, then the rest.
        #expect(WALSegment.encodedSize(payloadLength: 10, at: 32768 - 7) == 7 + 17)
        #expect(WALSegment.encodedSize(payloadLength: 40000, at: 0) == 40000 + 14)
    }
}
