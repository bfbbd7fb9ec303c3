#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Model

/// Field tags and sizes of the messages in `proto/remote.proto` (1.0) and
/// `proto/remote_v2.proto` (2.0), for laying requests out by hand. A tag byte is
/// `field number << 3 | wire type` (0 varint, 1 fixed 64-bit, 2 length-delimited).
enum Wire {
    /// 1.0 `WriteRequest.timeseries` (1, LEN).
    static let writeRequestTimeseries: UInt8 = 1 << 3 | 2
    /// 2.0 `Request.symbols` (4, LEN).
    static let requestSymbols: UInt8 = 4 << 3 | 2
    /// 2.0 `Request.timeseries` (5, LEN).
    static let requestTimeseriesV2: UInt8 = 5 << 3 | 2
    /// 2.0 `TimeSeries.labels_refs` (1, LEN: packed uint32).
    static let timeSeriesLabelsRefs: UInt8 = 1 << 3 | 2
    /// `TimeSeries.samples` (2, LEN), in 1.0 and 2.0.
    static let timeSeriesSamples: UInt8 = 2 << 3 | 2
    /// 1.0 `TimeSeries.exemplars` (3, LEN).
    static let timeSeriesExemplarsV1: UInt8 = 3 << 3 | 2
    /// 2.0 `TimeSeries.exemplars` (4, LEN).
    static let timeSeriesExemplarsV2: UInt8 = 4 << 3 | 2
    /// 2.0 `TimeSeries.metadata` (5, LEN).
    static let timeSeriesMetadata: UInt8 = 5 << 3 | 2
    /// `Sample.value` (1, I64) and `Sample.timestamp` (2, VARINT), in 1.0 and 2.0.
    static let sampleValue: UInt8 = 1 << 3 | 1
    static let sampleTimestamp: UInt8 = 2 << 3 | 0
    /// 2.0 `Exemplar.labels_refs` (1, LEN).
    static let exemplarLabelsRefs: UInt8 = 1 << 3 | 2
    /// `Exemplar.value` (2, I64) and `Exemplar.timestamp` (3, VARINT), in 1.0 and 2.0.
    static let exemplarValue: UInt8 = 2 << 3 | 1
    static let exemplarTimestamp: UInt8 = 3 << 3 | 0
    /// 2.0 `Metadata.type` (1, VARINT), `help_ref` (3, VARINT), `unit_ref` (4, VARINT).
    static let metadataType: UInt8 = 1 << 3 | 0
    static let metadataHelpRef: UInt8 = 3 << 3 | 0
    static let metadataUnitRef: UInt8 = 4 << 3 | 0
    /// 1.0 `TimeSeries.labels` and `Exemplar.labels` (1, LEN).
    static let labels: UInt8 = 1 << 3 | 2
    /// 1.0 `Label.name` (1, LEN) and `Label.value` (2, LEN).
    static let labelName: UInt8 = 1 << 3 | 2
    static let labelValue: UInt8 = 2 << 3 | 2

    @inline(__always) static func varintSize(_ value: UInt64) -> Int {
        (64 - (value | 1).leadingZeroBitCount + 6) / 7
    }

    @inline(__always) static func varintSize(_ value: Int) -> Int { varintSize(UInt64(value)) }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// The fields of a `Sample` (value, timestamp), without its tag and length; at most 20 bytes.
    @inline(__always) static func sampleFieldsSize(value: Double, timestamp: Int64) -> Int {
        (value.bitPattern == 0 ? 0 : 9) + (timestamp == 0 ? 0 : 1 + varintSize(UInt64(bitPattern: timestamp)))
    }

    static func exemplarV1Size(_ exemplar: QueuedExemplar, labels: Int) -> Int {
        labels + sampleFieldsSize(value: exemplar.value, timestamp: exemplar.timestamp)
    }

    static func exemplarV2Size(_ exemplar: QueuedExemplar, refs: ArraySlice<UInt32>) -> Int {
        packedFieldSize(refs) + sampleFieldsSize(value: exemplar.value, timestamp: exemplar.timestamp)
    }

    /// A packed `repeated uint32` field with its tag and length; 0 when empty (omitted).
    static func packedFieldSize(_ values: ArraySlice<UInt32>) -> Int {
        guard !values.isEmpty else { return 0 }
        let length = packedLength(values)
        return 1 + varintSize(length) + length
    }

    @inline(__always) static func packedLength(_ values: ArraySlice<UInt32>) -> Int {
        var length = 0
        for value in values { length += varintSize(UInt64(value)) }
        return length
    }

    /// The fields of a 2.0 `Metadata`, without its tag and length (at most 12 bytes).
    static func metadataV2Size(type: UInt8, help: UInt32, unit: UInt32) -> Int {
        (type == 0 ? 0 : 2) + (help == 0 ? 0 : 1 + varintSize(UInt64(help))) + (unit == 0 ? 0 : 1 + varintSize(UInt64(unit)))
    }

    /// The fields of a 1.0 `Label` message (name, value), without its tag and length; an empty
    /// string is left out, as proto3 does.
    @inline(__always) static func labelLength(name: Int, value: Int) -> Int {
        (name == 0 ? 0 : 1 + varintSize(name) + name) + (value == 0 ? 0 : 1 + varintSize(value) + value)
    }

    /// At most the size of the 1.0 `labels` fields of labels whose encodings (``Labels``'
    /// layout, both merged) take `encodedBytes`: a label of `e` encoded bytes (`e` ≥ 2, its two
    /// lengths) becomes a field of `e + 3 + varintSize(e + 2)` ≤ 4·`e` bytes.
    @inline(__always) static func labelFieldsBound(_ encodedBytes: Int) -> Int { 4 * encodedBytes }

    /// The most a 1.0 or 2.0 `Sample` field takes: tag and length, value (tag and 8 bytes),
    /// timestamp (tag and a varint of up to 10 bytes).
    static let maxSampleFieldSize = 2 + 9 + 11

    /// The repeated `labels` fields (tag 1, one `Label` message each) that a 1.0 `TimeSeries` or
    /// `Exemplar` starts with, for `labels` merged with `merging` (``MergedLabels``).
    static func labelFieldsSize(_ labels: UnsafeRawBufferPointer, merging extra: UnsafeRawBufferPointer) -> Int {
        var size = 0
        MergedLabels.forEach(labels, extra) { name, value in
            let length = labelLength(name: name.count, value: value.count)
            size += 1 + varintSize(length) + length
        }
        return size
    }

    /// Writes into a buffer sized beforehand (no bounds checks: the sizes pass is exact and
    /// the total is checked after writing).
    struct Writer {
        private var cursor: UnsafeMutablePointer<UInt8>

        init(_ start: UnsafeMutablePointer<UInt8>) { cursor = start }

        func written(since start: UnsafeMutablePointer<UInt8>) -> Int { cursor - start }

        @inline(__always) mutating func tag(_ tag: UInt8) {
            cursor.pointee = tag
            cursor += 1
        }

        @inline(__always) mutating func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                cursor.pointee = UInt8(truncatingIfNeeded: value) | 0x80
                cursor += 1
                value >>= 7
            }
            cursor.pointee = UInt8(value)
            cursor += 1
        }

        @inline(__always) mutating func varint(_ value: Int) { varint(UInt64(value)) }

        @inline(__always) mutating func fixed64(_ bits: UInt64) {
            UnsafeMutableRawPointer(cursor).storeBytes(of: bits.littleEndian, as: UInt64.self)
            cursor += 8
        }

        @inline(__always) mutating func bytes(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { self.bytes($0) }
        }

        @inline(__always) mutating func bytes(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            UnsafeMutableRawPointer(cursor).copyMemory(from: base, byteCount: bytes.count)
            cursor += bytes.count
        }

        /// Copies a short string (a label name or value) without a call for up to 16 bytes:
        /// two overlapping loads and stores of 8, 4 or 1 bytes cover any length up to twice that.
        @inline(__always) mutating func shortBytes(_ bytes: UnsafeRawBufferPointer) {
            let count = bytes.count
            let destination = UnsafeMutableRawPointer(cursor)
            if count >= 8 && count <= 16 {
                let source = bytes.baseAddress!
                let head = source.loadUnaligned(as: UInt64.self)
                let tail = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                destination.storeBytes(of: head, as: UInt64.self)
                destination.storeBytes(of: tail, toByteOffset: count - 8, as: UInt64.self)
            } else if count >= 4 && count < 8 {
                let source = bytes.baseAddress!
                let head = source.loadUnaligned(as: UInt32.self)
                let tail = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                destination.storeBytes(of: head, as: UInt32.self)
                destination.storeBytes(of: tail, toByteOffset: count - 4, as: UInt32.self)
            } else if count > 0 && count < 4 {
                let source = bytes.baseAddress!
                destination.storeBytes(of: source.load(as: UInt8.self), as: UInt8.self)
                destination.storeBytes(of: source.load(fromByteOffset: count / 2, as: UInt8.self), toByteOffset: count / 2, as: UInt8.self)
                destination.storeBytes(of: source.load(fromByteOffset: count - 1, as: UInt8.self), toByteOffset: count - 1, as: UInt8.self)
            } else if count > 16 {
                destination.copyMemory(from: bytes.baseAddress!, byteCount: count)
            }
            cursor += count
        }

        /// The repeated `labels` fields of a 1.0 `TimeSeries` or `Exemplar` (see
        /// ``Wire/labelFieldsSize(_:merging:)``), written from the label bytes.
        @inline(__always) mutating func labelFields(_ labels: UnsafeRawBufferPointer, merging extra: UnsafeRawBufferPointer) {
            MergedLabels.forEach(labels, extra) { name, value in
                tag(Wire.labels)
                varint(labelLength(name: name.count, value: value.count))
                if name.count > 0 {
                    tag(labelName)
                    varint(name.count)
                    shortBytes(name)
                }
                if value.count > 0 {
                    tag(labelValue)
                    varint(value.count)
                    shortBytes(value)
                }
            }
        }

        /// A `Sample` message with its tag and length.
        @inline(__always) mutating func sample(tag: UInt8, value: Double, timestamp: Int64) {
            self.tag(tag)
            cursor.pointee = UInt8(sampleFieldsSize(value: value, timestamp: timestamp))
            cursor += 1
            if value.bitPattern != 0 {
                self.tag(sampleValue)
                fixed64(value.bitPattern)
            }
            if timestamp != 0 {
                self.tag(sampleTimestamp)
                varint(UInt64(bitPattern: timestamp))
            }
        }

        @inline(__always) mutating func exemplarValueAndTimestamp(value: Double, timestamp: Int64) {
            if value.bitPattern != 0 {
                tag(exemplarValue)
                fixed64(value.bitPattern)
            }
            if timestamp != 0 {
                tag(exemplarTimestamp)
                varint(UInt64(bitPattern: timestamp))
            }
        }

        /// A packed `repeated uint32` field; nothing when `values` is empty.
        @inline(__always) mutating func packed(tag: UInt8, _ values: ArraySlice<UInt32>) {
            guard !values.isEmpty else { return }
            self.tag(tag)
            varint(packedLength(values))
            for value in values { varint(UInt64(value)) }
        }

        mutating func metadataV2(type: UInt8, help: UInt32, unit: UInt32) {
            tag(timeSeriesMetadata)
            cursor.pointee = UInt8(metadataV2Size(type: type, help: help, unit: unit))
            cursor += 1
            if type != 0 {
                tag(metadataType)
                varint(UInt64(type))
            }
            if help != 0 {
                tag(metadataHelpRef)
                varint(UInt64(help))
            }
            if unit != 0 {
                tag(metadataUnitRef)
                varint(UInt64(unit))
            }
        }
    }
}
