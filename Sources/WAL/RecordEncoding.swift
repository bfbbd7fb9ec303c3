import Model
/// Record payload types (first byte of every record payload), numbered as in Prometheus
/// `tsdb/record`. `series`, `samples`, `exemplars` and `metadata` are written and decoded here
/// (metadata in this module's own per-family layout, see docs/wal-format.md); readers skip the
/// others.
public enum WALRecordType: UInt8, Sendable {
    case series = 1
    case samples = 2
    case tombstones = 3
    case exemplars = 4
    case mmapMarkers = 5
    case metadata = 6
    case histogramSamples = 7
    case floatHistogramSamples = 8
}

/// Errors from decoding a record payload whose checksum was fine but whose content is not.
public struct RecordDecodingError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public var description: String { "invalid WAL record: \(reason)" }
}

/// Appends Prometheus-style primitive encodings to a byte array.
struct ByteEncoder {
    var bytes: [UInt8]

    init() { bytes = [] }

    /// Takes over `storage`'s buffer (emptied, capacity kept) without copying; give it back
    /// with `finish(into:)`.
    init(taking storage: inout [UInt8]) {
        bytes = []
        swap(&bytes, &storage)
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func finish(into storage: inout [UInt8]) {
        swap(&bytes, &storage)
    }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inline(__always) mutating func be64(_ v: UInt64) {
        var x = v.bigEndian
        withUnsafeBytes(of: &x) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func uvarint(_ v: UInt64) {
        var x = v
        while x >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: x) | 0x80)
            x >>= 7
        }
        bytes.append(UInt8(x))
    }

    /// Zig-zag signed varint, as Go's `binary.PutVarint`.
    @inline(__always) mutating func varint(_ v: Int64) {
        let ux = UInt64(bitPattern: v) << 1
        uvarint(v < 0 ? ~ux : ux)
    }

    @inline(__always) mutating func uvarintString(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            uvarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
}

/// Reads Prometheus-style primitive encodings from a byte buffer.
struct ByteDecoder {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - index }

    mutating func byte() throws(RecordDecodingError) -> UInt8 {
        guard index < bytes.count else { throw RecordDecodingError(reason: "unexpected end of record") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func be64() throws(RecordDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw RecordDecodingError(reason: "unexpected end of record") }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[index + i]) }
        index += 8
        return v
    }

    mutating func uvarint() throws(RecordDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < bytes.count else { throw RecordDecodingError(reason: "truncated varint") }
            let b = bytes[index]
            index += 1
            if shift == 63 && b > 1 { throw RecordDecodingError(reason: "varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw RecordDecodingError(reason: "varint overflows 64 bits") }
        }
    }

    mutating func varint() throws(RecordDecodingError) -> Int64 {
        let ux = try uvarint()
        let x = Int64(bitPattern: ux >> 1)
        return ux & 1 != 0 ? ~x : x
    }

    /// Moves past a length-prefixed string.
    mutating func skipUVarintString() throws(RecordDecodingError) {
        let n = try uvarint()
        guard n <= UInt64(remaining) else { throw RecordDecodingError(reason: "string longer than record") }
        index += Int(n)
    }

    mutating func uvarintString() throws(RecordDecodingError) -> String {
        let n = try uvarint()
        guard n <= UInt64(remaining) else { throw RecordDecodingError(reason: "string longer than record") }
        let count = Int(n)
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<index + count]), as: UTF8.self)
        index += count
        return s
    }
}

/// Encoding and decoding of record payloads (Prometheus `tsdb/record` layout).
public enum RecordCodec {
    /// Appends a series record for `series` to `out` (cleared first).
    public static func encodeSeries(_ series: [SeriesRecord], into out: inout [UInt8]) {
        var e = ByteEncoder(taking: &out)
        e.byte(WALRecordType.series.rawValue)
        for s in series { appendSeries(ref: s.ref, labels: s.labels, to: &e) }
        e.finish(into: &out)
    }

    static func appendSeries(ref: SeriesRef, labels: Labels, to e: inout ByteEncoder) {
        e.be64(ref)
        appendLabels(labels, to: &e)
    }

    /// Appends a samples record for `samples` to `out` (cleared first). An empty list encodes
    /// as the type byte alone.
    public static func encodeSamples(_ samples: [SampleRecord], into out: inout [UInt8]) {
        var e = ByteEncoder(taking: &out)
        e.byte(WALRecordType.samples.rawValue)
        if let first = samples.first {
            e.be64(first.ref)
            e.be64(UInt64(bitPattern: first.timestamp))
            for s in samples {
                appendSample(s.ref, s.timestamp, s.value, baseRef: first.ref, baseTime: first.timestamp, to: &e)
            }
        }
        e.finish(into: &out)
    }

    @inline(__always)
    static func appendSample(
        _ ref: SeriesRef, _ t: Int64, _ v: Double, baseRef: SeriesRef, baseTime: Int64, to e: inout ByteEncoder
    ) {
        e.varint(Int64(bitPattern: ref &- baseRef))
        e.varint(t &- baseTime)
        e.be64(v.bitPattern)
    }

    /// Appends an exemplars record for `exemplars` to `out` (cleared first), as Prometheus's
    /// `Encoder.Exemplars`. An empty list encodes as the type byte alone.
    public static func encodeExemplars(_ exemplars: [ExemplarRecord], into out: inout [UInt8]) {
        var e = ByteEncoder(taking: &out)
        e.byte(WALRecordType.exemplars.rawValue)
        if let first = exemplars.first {
            e.be64(first.ref)
            e.be64(UInt64(bitPattern: first.timestamp))
            for x in exemplars {
                appendExemplar(x.ref, x.timestamp, x.value, x.labels, baseRef: first.ref, baseTime: first.timestamp, to: &e)
            }
        }
        e.finish(into: &out)
    }

    /// One exemplar of an exemplars record: like a sample, followed by its labels encoded as in a
    /// series record (count, then name and value of each).
    @inline(__always)
    static func appendExemplar(
        _ ref: SeriesRef, _ t: Int64, _ v: Double, _ labels: Labels, baseRef: SeriesRef, baseTime: Int64,
        to e: inout ByteEncoder
    ) {
        appendSample(ref, t, v, baseRef: baseRef, baseTime: baseTime, to: &e)
        appendLabels(labels, to: &e)
    }

    /// A label set as series and exemplar records hold it: the count, then each name and value
    /// length-prefixed, which is ``Labels``' own encoding after the count: copied as it is.
    @inline(__always)
    static func appendLabels(_ labels: Labels, to e: inout ByteEncoder) {
        e.uvarint(UInt64(labels.count))
        e.bytes.append(contentsOf: labels.bytes)
    }

    /// Appends a metadata record for `metadata` to `out` (cleared first). An empty list encodes
    /// as the type byte alone.
    public static func encodeMetadata(_ metadata: [MetricMetadata], into out: inout [UInt8]) {
        var e = ByteEncoder(taking: &out)
        e.byte(WALRecordType.metadata.rawValue)
        for m in metadata { appendMetadata(m, to: &e) }
        e.finish(into: &out)
    }

    /// One entry of a metadata record: family, type byte, then its fields as (name, value)
    /// string pairs after their count, as Prometheus's metadata record does after its ref.
    static func appendMetadata(_ m: MetricMetadata, to e: inout ByteEncoder) {
        e.uvarintString(m.family)
        e.byte(m.type.rawValue)
        e.uvarint(2)
        e.uvarintString("unit")
        e.uvarintString(m.unit)
        e.uvarintString("help")
        e.uvarintString(m.help)
    }

    public static func encode(_ record: WALRecord) -> [UInt8] {
        var out: [UInt8] = []
        switch record {
        case .series(let s): encodeSeries(s, into: &out)
        case .samples(let s): encodeSamples(s, into: &out)
        case .exemplars(let x): encodeExemplars(x, into: &out)
        case .metadata(let m): encodeMetadata(m, into: &out)
        }
        return out
    }

    /// Decodes a label set encoded as in series and exemplar records. The bytes become the
    /// ``Labels``' storage as they are when they are sorted with non-empty values (what every
    /// writer, this one and Prometheus, writes); otherwise they are sorted and cleaned up.
    static func decodeLabels(_ d: inout ByteDecoder) throws(RecordDecodingError) -> Labels {
        let (raw, n) = try labelBytes(&d)
        if isValidLabels(raw, count: n) { return Labels(trustedBytes: Array(raw), count: n) }
        return cleanedLabels(raw)
    }

    /// The bytes of the label set at the decoder (after its count) and the count; moves past it.
    @inline(__always)
    static func labelBytes(_ d: inout ByteDecoder) throws(RecordDecodingError) -> (UnsafeRawBufferPointer, Int) {
        let n = try d.uvarint()
        // Each label needs at least 2 bytes, which bounds `n`.
        guard n <= UInt64(d.remaining / 2) else { throw RecordDecodingError(reason: "label count too large") }
        let start = d.index
        for _ in 0..<n {
            try d.skipUVarintString()
            try d.skipUVarintString()
        }
        return (UnsafeRawBufferPointer(rebasing: d.bytes[start..<d.index]), Int(n))
    }

    /// Whether `bytes` are `count` labels as ``Labels`` keeps them: names strictly ascending,
    /// names and values non-empty.
    static func isValidLabels(_ bytes: UnsafeRawBufferPointer, count: Int) -> Bool {
        var reader = LabelsReader(bytes)
        var previous: UnsafeRawBufferPointer?
        var seen = 0
        while !reader.isAtEnd {
            guard let (name, value) = reader.next(), !name.isEmpty, !value.isEmpty else { return false }
            if let previous, !Labels.precedes(previous, name) { return false }
            previous = name
            seen += 1
        }
        return seen == count
    }

    /// Labels from bytes that are not in order (sorted; a later duplicate wins; empty values
    /// dropped), as ``LabelsBuilder`` makes them.
    static func cleanedLabels(_ bytes: UnsafeRawBufferPointer) -> Labels {
        var builder = LabelsBuilder()
        var reader = LabelsReader(bytes)
        while let (name, value) = reader.next() { builder.append(name: name, value: value) }
        return builder.build()
    }

    /// Calls `body` with each series of a series record (`payload` with its type byte): its ref,
    /// label count and label bytes, exactly the labels ``decode(_:)`` would give (cleaned up when
    /// they are not in order), without making a ``Labels`` of each: how the replay fills the
    /// series table. The bytes are valid during the call.
    static func forEachSeries(
        in payload: UnsafeRawBufferPointer, _ body: (_ ref: SeriesRef, _ labelCount: Int, _ bytes: UnsafeRawBufferPointer) -> Void
    ) throws(RecordDecodingError) {
        var d = ByteDecoder(payload)
        guard try d.byte() == WALRecordType.series.rawValue else { throw RecordDecodingError(reason: "not a series record") }
        while d.remaining > 0 {
            let ref = try d.be64()
            let (raw, n) = try labelBytes(&d)
            if isValidLabels(raw, count: n) {
                body(ref, n, raw)
            } else {
                let labels = cleanedLabels(raw)
                labels.bytes.withUnsafeBytes { body(ref, labels.count, $0) }
            }
        }
    }

    /// Decodes a record payload. Returns nil for a record type this module does not decode
    /// (such records are to be skipped). Throws when a known type is malformed.
    public static func decode(_ payload: UnsafeRawBufferPointer) throws(RecordDecodingError) -> WALRecord? {
        var d = ByteDecoder(payload)
        let type = try d.byte()
        switch type {
        case WALRecordType.series.rawValue:
            var series: [SeriesRecord] = []
            while d.remaining > 0 {
                let ref = try d.be64()
                series.append(SeriesRecord(ref: ref, labels: try decodeLabels(&d)))
            }
            return .series(series)
        case WALRecordType.samples.rawValue:
            var samples: [SampleRecord] = []
            guard d.remaining > 0 else { return .samples([]) }
            let baseRef = try d.be64()
            let baseTime = Int64(bitPattern: try d.be64())
            samples.reserveCapacity(d.remaining / 10)
            while d.remaining > 0 {
                let dref = try d.varint()
                let dtime = try d.varint()
                let bits = try d.be64()
                samples.append(SampleRecord(
                    ref: baseRef &+ UInt64(bitPattern: dref),
                    timestamp: baseTime &+ dtime,
                    value: Double(bitPattern: bits)))
            }
            return .samples(samples)
        case WALRecordType.exemplars.rawValue:
            var exemplars: [ExemplarRecord] = []
            guard d.remaining > 0 else { return .exemplars([]) }
            let baseRef = try d.be64()
            let baseTime = Int64(bitPattern: try d.be64())
            exemplars.reserveCapacity(d.remaining / 11)
            while d.remaining > 0 {
                let dref = try d.varint()
                let dtime = try d.varint()
                let bits = try d.be64()
                let labels = try decodeLabels(&d)
                exemplars.append(ExemplarRecord(
                    ref: baseRef &+ UInt64(bitPattern: dref),
                    timestamp: baseTime &+ dtime,
                    value: Double(bitPattern: bits),
                    labels: labels))
            }
            return .exemplars(exemplars)
        case WALRecordType.metadata.rawValue:
            var metadata: [MetricMetadata] = []
            while d.remaining > 0 {
                let family = try d.uvarintString()
                let typeByte = try d.byte()
                // A type number this module does not know (a newer writer's) reads as unknown.
                var m = MetricMetadata(family: family, type: MetricType(rawValue: typeByte) ?? .unknown)
                let fields = try d.uvarint()
                guard fields <= UInt64(d.remaining / 2) else { throw RecordDecodingError(reason: "metadata field count too large") }
                for _ in 0..<fields {
                    let name = try d.uvarintString()
                    let value = try d.uvarintString()
                    // Unknown fields are skipped, as Prometheus does.
                    switch name {
                    case "unit": m.unit = value
                    case "help": m.help = value
                    default: break
                    }
                }
                metadata.append(m)
            }
            return .metadata(metadata)
        default:
            return nil
        }
    }

    public static func decode(_ payload: [UInt8]) throws(RecordDecodingError) -> WALRecord? {
        let result = payload.withUnsafeBytes { p in
            Result { () throws(RecordDecodingError) -> WALRecord? in try decode(p) }
        }
        return try result.get()
    }
}
