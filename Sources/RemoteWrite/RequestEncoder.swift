#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PrometheusProto
import Snappy
import Model
import WAL

/// Builds remote-write request bodies, snappy-compressed, one call per request. One per shard:
/// it keeps its scratch buffers (grouping table, symbol table, the uncompressed body) between
/// requests, so that once they have reached their working size a request allocates only its
/// compressed result.
///
/// Per request the work is mostly copying: each series' labels were encoded once, with
/// libprotobuf-c, when its ``OutgoingSeries`` was made; a request is those bytes plus its
/// samples, laid out as the schema in `proto/` says (a length-delimited field is its tag, the
/// varint length and the bytes). The tests decode every shape this writes with the
/// libprotobuf-c generated code.
///
/// The sender sets the headers: `Content-Encoding: snappy`, and for 1.0
/// `Content-Type: application/x-protobuf` with `X-Prometheus-Remote-Write-Version: 0.1.0`; for 2.0
/// `Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request` with
/// `X-Prometheus-Remote-Write-Version: 2.0.0`.
///
/// Values go on the wire bit for bit (-0.0, and NaN payloads such as the staleness marker
/// `0x7ff0000000000002`); only +0.0 and zero timestamps are left out, as proto3 does.
package struct RequestEncoder {
    private var grouping = SeriesGrouping()
    private var symbols = SymbolTable()
    /// The uncompressed request; only its first `bodyCount` bytes are the current request.
    private var body: [UInt8] = []
    private var bodyCount = 0
    /// Per group: the size of its `TimeSeries` message.
    private var seriesSizes: [Int] = []
    /// 1.0: each exemplar's labels as `Label` fields. 2.0: unused.
    private var exemplarLabels: [[UInt8]] = []
    /// 2.0: label refs of every group, then of every exemplar, back to back.
    private var refs: [UInt32] = []
    /// 2.0: where each group's refs start in `refs` (one more entry than groups).
    private var seriesRefStarts: [Int] = []
    /// 2.0: where each exemplar's refs start in `refs` (one more entry than exemplars).
    private var exemplarRefStarts: [Int] = []
    /// 2.0: per group, its metadata's type and help and unit refs; nil when it has none.
    private var metadataRefs: [(type: UInt8, help: UInt32, unit: UInt32)?] = []

    /// Creates an encoder with empty scratch buffers.
    package init() {}

    // MARK: Remote Write 1.0

    /// The body of a Remote Write 1.0 request, a `prometheus.WriteRequest`, snappy-compressed.
    ///
    /// One `TimeSeries` per distinct series, in order of first appearance among `samples` and
    /// then `exemplars`; each series' samples and exemplars in the order given (so timestamp
    /// order if they come in that order). A series with exemplars but no samples here gets a
    /// `TimeSeries` with exemplars only, as Prometheus sends them.
    package mutating func encodeV1(samples: [OutgoingSample], exemplars: [OutgoingExemplar]) -> [UInt8] {
        buildV1(samples: samples, exemplars: exemplars)
        return compressedBody()
    }

    /// The body of a Remote Write 1.0 metadata-only request (`WriteRequest.metadata`, field 3),
    /// snappy-compressed, one `MetricMetadata` per entry in the order given. Packed entirely by
    /// libprotobuf-c: such requests are rare (Prometheus sends them once a minute).
    package mutating func encodeV1Metadata(_ metadata: [MetricMetadata]) -> [UInt8] {
        let request = WriteRequest(metadata: metadata.map {
            ProtoMetricMetadata(
                type: ProtoMetricMetadata.MetricType(rawValue: Int32($0.type.rawValue)) ?? .unknown,
                metricFamilyName: $0.family, help: $0.help, unit: $0.unit)
        })
        return Snappy.compress(request.serialized())
    }

    /// Lays out the uncompressed 1.0 request in `body[0..<bodyCount]`.
    mutating func buildV1(samples: [OutgoingSample], exemplars: [OutgoingExemplar]) {
        grouping.group(samples: samples, exemplars: exemplars)
        let groups = grouping.count
        exemplarLabels.removeAll(keepingCapacity: true)
        for exemplar in exemplars {
            exemplarLabels.append(ProtoLabel.encodedFields(exemplar.labels.pairs.map { ProtoLabel(name: $0.name, value: $0.value) }))
        }

        // Pass 1: sizes.
        seriesSizes.removeAll(keepingCapacity: true)
        var total = 0
        for group in 0..<groups {
            var size = grouping.series(group).encodedLabels.count
            for index in grouping.samples(of: group) {
                size += 2 + Wire.sampleFieldsSize(value: samples[index].value, timestamp: samples[index].timestamp)
            }
            for index in grouping.exemplars(of: group) {
                let length = Wire.exemplarV1Size(exemplars[index], labels: exemplarLabels[index].count)
                size += 1 + Wire.varintSize(length) + length
            }
            seriesSizes.append(size)
            total += 1 + Wire.varintSize(size) + size
        }

        // Pass 2: bytes.
        reserveBody(total)
        body.withUnsafeMutableBufferPointer { buffer in
            var out = Wire.Writer(buffer.baseAddress!)
            for group in 0..<groups {
                out.tag(Wire.writeRequestTimeseries)
                out.varint(seriesSizes[group])
                out.bytes(grouping.series(group).encodedLabels)
                for index in grouping.samples(of: group) {
                    out.sample(tag: Wire.timeSeriesSamples, value: samples[index].value, timestamp: samples[index].timestamp)
                }
                for index in grouping.exemplars(of: group) {
                    let exemplar = exemplars[index]
                    let labels = exemplarLabels[index]
                    out.tag(Wire.timeSeriesExemplarsV1)
                    out.varint(Wire.exemplarV1Size(exemplar, labels: labels.count))
                    out.bytes(labels)
                    out.exemplarValueAndTimestamp(value: exemplar.value, timestamp: exemplar.timestamp)
                }
            }
            precondition(out.written(since: buffer.baseAddress!) == total, "1.0 request size mismatch")
        }
        bodyCount = total
    }

    // MARK: Remote Write 2.0

    /// The body of a Remote Write 2.0 request, an `io.prometheus.write.v2.Request`,
    /// snappy-compressed.
    ///
    /// The symbol table starts with "" and holds every other string once: label names and
    /// values of the series and exemplars, help texts and units. Series are grouped as in
    /// ``encodeV1(samples:exemplars:)``; each `TimeSeries` has its `labels_refs` (name, value,
    /// … in the labels' sorted order), its samples and exemplars (with their own
    /// `labels_refs`), and, when ``OutgoingSeries/metadata`` is set, a `Metadata` with the type,
    /// `help_ref` and `unit_ref` (0, the empty string, for an empty help or unit).
    package mutating func encodeV2(samples: [OutgoingSample], exemplars: [OutgoingExemplar]) -> [UInt8] {
        buildV2(samples: samples, exemplars: exemplars)
        return compressedBody()
    }

    /// Lays out the uncompressed 2.0 request in `body[0..<bodyCount]`.
    mutating func buildV2(samples: [OutgoingSample], exemplars: [OutgoingExemplar]) {
        grouping.group(samples: samples, exemplars: exemplars)
        let groups = grouping.count
        symbols.reset()

        // Pass 1: symbols and refs.
        refs.removeAll(keepingCapacity: true)
        seriesRefStarts.removeAll(keepingCapacity: true)
        metadataRefs.removeAll(keepingCapacity: true)
        for group in 0..<groups {
            seriesRefStarts.append(refs.count)
            let series = grouping.series(group)
            series.encodedLabels.withUnsafeBytes { encoded in
                Wire.forEachLabel(in: encoded) { name, value in
                    refs.append(symbols.intern(name))
                    refs.append(symbols.intern(value))
                }
            }
            if let metadata = series.metadata {
                metadataRefs.append((metadata.type.rawValue, symbols.intern(metadata.help), symbols.intern(metadata.unit)))
            } else {
                metadataRefs.append(nil)
            }
        }
        seriesRefStarts.append(refs.count)
        exemplarRefStarts.removeAll(keepingCapacity: true)
        for exemplar in exemplars {
            exemplarRefStarts.append(refs.count)
            for label in exemplar.labels.pairs {
                refs.append(symbols.intern(label.name))
                refs.append(symbols.intern(label.value))
            }
        }
        exemplarRefStarts.append(refs.count)

        // Pass 2: sizes.
        seriesSizes.removeAll(keepingCapacity: true)
        var total = symbols.encoded.count
        for group in 0..<groups {
            var size = Wire.packedFieldSize(refs[seriesRefStarts[group]..<seriesRefStarts[group + 1]])
            for index in grouping.samples(of: group) {
                size += 2 + Wire.sampleFieldsSize(value: samples[index].value, timestamp: samples[index].timestamp)
            }
            for index in grouping.exemplars(of: group) {
                let length = Wire.exemplarV2Size(exemplars[index], refs: refs[exemplarRefStarts[index]..<exemplarRefStarts[index + 1]])
                size += 1 + Wire.varintSize(length) + length
            }
            if let metadata = metadataRefs[group] {
                size += 2 + Wire.metadataV2Size(type: metadata.type, help: metadata.help, unit: metadata.unit)
            }
            seriesSizes.append(size)
            total += 1 + Wire.varintSize(size) + size
        }

        // Pass 3: bytes. Symbols (field 4) first, then the series (field 5).
        reserveBody(total)
        body.withUnsafeMutableBufferPointer { buffer in
            var out = Wire.Writer(buffer.baseAddress!)
            out.bytes(symbols.encoded)
            for group in 0..<groups {
                out.tag(Wire.requestTimeseriesV2)
                out.varint(seriesSizes[group])
                out.packed(tag: Wire.timeSeriesLabelsRefs, refs[seriesRefStarts[group]..<seriesRefStarts[group + 1]])
                for index in grouping.samples(of: group) {
                    out.sample(tag: Wire.timeSeriesSamples, value: samples[index].value, timestamp: samples[index].timestamp)
                }
                for index in grouping.exemplars(of: group) {
                    let exemplar = exemplars[index]
                    let exemplarRefs = refs[exemplarRefStarts[index]..<exemplarRefStarts[index + 1]]
                    out.tag(Wire.timeSeriesExemplarsV2)
                    out.varint(Wire.exemplarV2Size(exemplar, refs: exemplarRefs))
                    out.packed(tag: Wire.exemplarLabelsRefs, exemplarRefs)
                    out.exemplarValueAndTimestamp(value: exemplar.value, timestamp: exemplar.timestamp)
                }
                if let metadata = metadataRefs[group] {
                    out.metadataV2(type: metadata.type, help: metadata.help, unit: metadata.unit)
                }
            }
            precondition(out.written(since: buffer.baseAddress!) == total, "2.0 request size mismatch")
        }
        bodyCount = total
    }

    // MARK: Buffers

    /// The current request before compression (for tests).
    var uncompressedBody: [UInt8] { Array(body[0..<bodyCount]) }

    /// Grows `body` to at least `count` bytes; it never shrinks, so steady state is free.
    private mutating func reserveBody(_ count: Int) {
        if body.count < count {
            body = [UInt8](repeating: 0, count: max(count, body.count * 2))
        }
    }

    private func compressedBody() -> [UInt8] {
        var compressed: [UInt8] = []
        body.withUnsafeBytes { bytes in
            Snappy.compress(UnsafeRawBufferPointer(rebasing: bytes[0..<bodyCount]), into: &compressed)
        }
        return compressed
    }
}

// MARK: - Grouping samples by series

/// Assigns the samples and exemplars of one request to groups, one per distinct series, in
/// order of first appearance, and lists each group's samples and exemplars in their order.
/// Series are told apart by identity (one ``OutgoingSeries`` object per series and endpoint),
/// through an open-addressing table that is reused between requests and reset by bumping a
/// generation stamp instead of clearing it.
private struct SeriesGrouping {
    private var slotKeys: [UInt] = []
    private var slotGroups: [Int32] = []
    private var slotStamps: [UInt32] = []
    private var stamp: UInt32 = 0
    private var shift = 64

    /// Per group: its series (kept alive by the caller's arrays during the request).
    private var groupSeries: [Unmanaged<OutgoingSeries>] = []
    /// Per group: where its sample indexes start in `sampleOrder` (one more entry than groups).
    private var sampleStarts: [Int] = []
    private var exemplarStarts: [Int] = []
    private var sampleOrder: [Int] = []
    private var exemplarOrder: [Int] = []
    /// Per sample or exemplar: its group.
    private var sampleGroups: [Int32] = []
    private var exemplarGroups: [Int32] = []

    var count: Int { groupSeries.count }

    func series(_ group: Int) -> OutgoingSeries { groupSeries[group].takeUnretainedValue() }
    func samples(of group: Int) -> ArraySlice<Int> { sampleOrder[sampleStarts[group]..<sampleStarts[group + 1]] }
    func exemplars(of group: Int) -> ArraySlice<Int> { exemplarOrder[exemplarStarts[group]..<exemplarStarts[group + 1]] }

    mutating func group(samples: [OutgoingSample], exemplars: [OutgoingExemplar]) {
        prepareTable(for: samples.count + exemplars.count)
        groupSeries.removeAll(keepingCapacity: true)
        sampleGroups.removeAll(keepingCapacity: true)
        exemplarGroups.removeAll(keepingCapacity: true)
        // Only each series' address is needed here: it is read as bits, which spares a retain
        // and release per item (atomic, on objects spread over the heap). The caller's arrays
        // keep every series alive for the whole request.
        let sampleSeries = MemoryLayout<OutgoingSample>.offset(of: \OutgoingSample.series)!
        samples.withUnsafeBytes { buffer in
            for index in 0..<samples.count {
                let address = buffer.load(fromByteOffset: index * MemoryLayout<OutgoingSample>.stride + sampleSeries, as: UInt.self)
                sampleGroups.append(group(of: address))
            }
        }
        let exemplarSeries = MemoryLayout<OutgoingExemplar>.offset(of: \OutgoingExemplar.series)!
        exemplars.withUnsafeBytes { buffer in
            for index in 0..<exemplars.count {
                let address = buffer.load(fromByteOffset: index * MemoryLayout<OutgoingExemplar>.stride + exemplarSeries, as: UInt.self)
                exemplarGroups.append(group(of: address))
            }
        }
        Self.countingSort(sampleGroups, groups: groupSeries.count, starts: &sampleStarts, order: &sampleOrder)
        Self.countingSort(exemplarGroups, groups: groupSeries.count, starts: &exemplarStarts, order: &exemplarOrder)
    }

    /// A table of at least twice `items` slots, all empty.
    private mutating func prepareTable(for items: Int) {
        var capacity = 64
        while capacity < items * 2 { capacity *= 2 }
        if slotKeys.count < capacity {
            slotKeys = [UInt](repeating: 0, count: capacity)
            slotGroups = [Int32](repeating: 0, count: capacity)
            slotStamps = [UInt32](repeating: 0, count: capacity)
            shift = 64 - capacity.trailingZeroBitCount
            stamp = 0
        }
        stamp &+= 1
        if stamp == 0 {
            for index in slotStamps.indices { slotStamps[index] = 0 }
            stamp = 1
        }
    }

    /// The group of the series at `address` (an ``OutgoingSeries`` reference's bits).
    private mutating func group(of address: UInt) -> Int32 {
        let mask = slotKeys.count - 1
        var slot = Int(truncatingIfNeeded: (UInt64(address) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
        while slotStamps[slot] == stamp {
            if slotKeys[slot] == address { return slotGroups[slot] }
            slot = (slot + 1) & mask
        }
        let group = Int32(groupSeries.count)
        slotStamps[slot] = stamp
        slotKeys[slot] = address
        slotGroups[slot] = group
        groupSeries.append(Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: address)!))
        return group
    }

    /// Stable: each group's items keep their relative order.
    private static func countingSort(_ itemGroups: [Int32], groups: Int, starts: inout [Int], order: inout [Int]) {
        starts.removeAll(keepingCapacity: true)
        starts.append(contentsOf: repeatElement(0, count: groups + 1))
        for group in itemGroups { starts[Int(group) + 1] += 1 }
        for group in 0..<groups { starts[group + 1] += starts[group] }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: repeatElement(0, count: itemGroups.count))
        // `starts[g]` doubles as group g's fill cursor, then is restored from the next group's.
        for (index, group) in itemGroups.enumerated() {
            order[starts[Int(group)]] = index
            starts[Int(group)] += 1
        }
        for group in stride(from: groups, to: 0, by: -1) { starts[group] = starts[group - 1] }
        starts[0] = 0
    }
}

// MARK: - The 2.0 symbol table

/// The symbol table of one 2.0 request: every string once, "" first, already laid out as the
/// `Request.symbols` fields (tag, length, bytes). Strings are found by a hash of their bytes
/// in an open-addressing table reused between requests (reset by a generation stamp).
private struct SymbolTable {
    /// `repeated string symbols = 4`, one field per symbol, in ref order.
    private(set) var encoded: [UInt8] = []
    /// Per symbol: where its bytes start in `encoded` (high 32 bits) and their length.
    private var spans: [UInt64] = []
    private var hashes: [UInt64] = []
    /// Per slot: the generation stamp (high 32 bits) and the symbol's index; a slot whose stamp
    /// is not the current one is empty.
    private var slots: [UInt64] = []
    private var stamp: UInt64 = 0
    /// Recently interned long strings by storage address (64 entries, direct-mapped); entries
    /// of earlier requests are stale by their stamp.
    private var byAddress = [(stamp: UInt64, address: UInt, count: Int, ref: UInt32)](repeating: (0, 0, 0, 0), count: 64)
    /// Recently interned strings of at most 8 bytes by their bytes as a word (256 entries).
    private var short = [(stamp: UInt64, word: UInt64, count: Int, ref: UInt32)](repeating: (0, 0, 0, 0), count: 256)

    var count: Int { spans.count }

    mutating func reset() {
        encoded.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        if slots.isEmpty { slots = [UInt64](repeating: 0, count: 1024) }
        stamp += 1
        if stamp > UInt64(UInt32.max) {
            for index in slots.indices { slots[index] = 0 }
            for index in byAddress.indices { byAddress[index].stamp = 0 }
            for index in short.indices { short[index].stamp = 0 }
            stamp = 1
        }
        let empty = internInTable(UnsafeRawBufferPointer(start: nil, count: 0))
        assert(empty == 0)
    }

    /// The ref of `string`, added to the table if new.
    ///
    /// Strings longer than 15 bytes live in heap storage, so within one request (while every
    /// series, and so every string, is alive) the same storage address means the same string:
    /// such strings are remembered by address, which spares hashing and comparing a family's
    /// help text for every series of the family.
    mutating func intern(_ string: String) -> UInt32 {
        if string.isEmpty { return 0 }
        var string = string  // withUTF8 is mutating; native strings are not copied
        return string.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard bytes.count > 15, let base = bytes.baseAddress else { return intern(bytes) }
            let address = UInt(bitPattern: base)
            let entry = Int(truncatingIfNeeded: (UInt64(address) &* 0x9E37_79B9_7F4A_7C15) >> 58)
            if byAddress[entry].stamp == stamp, byAddress[entry].address == address, byAddress[entry].count == bytes.count {
                return byAddress[entry].ref
            }
            let ref = intern(bytes)
            byAddress[entry] = (stamp, address, bytes.count, ref)
            return ref
        }
    }

    /// The ref of `bytes`, added to the table if new.
    ///
    /// Strings of at most 8 bytes (most label names and many values: `job`, `instance`, `le`,
    /// `0.5`, `GET`) are first looked up by their bytes as one word in a small direct-mapped
    /// cache: the word and the length determine the string exactly, so a hit needs no hash,
    /// probe or comparison.
    @inline(__always) mutating func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let count = bytes.count
        if count == 0 { return 0 }  // "" is always symbol 0
        guard count <= 8, let base = bytes.baseAddress else { return internInTable(bytes) }
        let word = count == 8 ? base.loadUnaligned(as: UInt64.self) : Self.tail(base, count)
        let entry = Int(truncatingIfNeeded: ((word ^ UInt64(count) << 59) &* 0x9E37_79B9_7F4A_7C15) >> 56)
        if short[entry].stamp == stamp, short[entry].word == word, short[entry].count == count {
            return short[entry].ref
        }
        let ref = internInTable(bytes)
        short[entry] = (stamp, word, count, ref)
        return ref
    }

    /// The ref of `bytes` from the hash table, added if new.
    private mutating func internInTable(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let hash = Self.hash(bytes)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let length = bytes.count
        while slots[slot] >> 32 == stamp {
            let index = Int(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF)
            let span = spans[index]
            if hashes[index] == hash, Int(truncatingIfNeeded: span & 0xFFFF_FFFF) == length,
                length == 0 || encoded.withUnsafeBytes({ Self.same($0.baseAddress! + Int(span >> 32), bytes.baseAddress!, length) })
            {
                return UInt32(index)
            }
            slot = (slot + 1) & mask
        }
        let index = spans.count
        encoded.append(Wire.requestSymbols)
        Wire.appendVarint(UInt64(length), to: &encoded)
        spans.append(UInt64(encoded.count) << 32 | UInt64(length))
        hashes.append(hash)
        encoded.append(contentsOf: bytes)
        slots[slot] = stamp << 32 | UInt64(index)
        if spans.count * 2 > slots.count { grow() }
        return UInt32(index)
    }

    /// Whether the `count` bytes at `a` and `b` are equal (inline: symbols are short).
    @inline(__always) private static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if count >= 8 {
            var offset = 0
            while offset + 8 < count {
                if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
                offset += 8
            }
            // The last eight bytes, overlapping the previous word when needed.
            return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        return tail(a, count) == tail(b, count)
    }

    /// The `count` (< 8) bytes at `base` as a little-endian word, in at most three loads.
    @inline(__always) static func tail(_ base: UnsafeRawPointer, _ count: Int) -> UInt64 {
        if count >= 4 {
            // Two overlapping 4-byte loads cover 4 to 7 bytes.
            let low = UInt64(base.loadUnaligned(as: UInt32.self))
            let high = UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            return low | high << 32
        }
        var word: UInt64 = 0
        if count >= 2 { word = UInt64(base.loadUnaligned(as: UInt16.self)) | UInt64(base.load(fromByteOffset: count - 1, as: UInt8.self)) << 16 }
        else if count == 1 { word = UInt64(base.load(as: UInt8.self)) }
        return word
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for index in 0..<spans.count {
            var slot = Int(truncatingIfNeeded: hashes[index]) & mask
            while slots[slot] >> 32 == stamp { slot = (slot + 1) & mask }
            slots[slot] = stamp << 32 | UInt64(index)
        }
    }

    /// A fast 64-bit hash of `bytes`, eight bytes at a time. Not for untrusted keys' worst case:
    /// collisions only cost probes (and a byte comparison), and a request's strings are bounded.
    @inline(__always) static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let count = bytes.count
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)
        guard count > 0, let base = bytes.baseAddress else { return hash }
        if count >= 8 {
            var offset = 0
            while offset + 8 < count {
                hash = (hash ^ base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                hash ^= hash >> 29
                offset += 8
            }
            hash = (hash ^ base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) &* 0x94D0_49BB_1331_11EB
        } else {
            hash = (hash ^ tail(base, count)) &* 0x94D0_49BB_1331_11EB
        }
        hash ^= hash >> 32
        hash &*= 0xBF58_476D_1CE4_E5B9
        return hash ^ (hash >> 29)
    }
}

// MARK: - Wire format

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
    /// 2.0 `Exemplar.labels_refs` (1, LEN); 1.0's `Exemplar.labels` (1, LEN) comes from
    /// ``ProtoLabel/encodedFields(_:)``.
    static let exemplarLabelsRefs: UInt8 = 1 << 3 | 2
    /// `Exemplar.value` (2, I64) and `Exemplar.timestamp` (3, VARINT), in 1.0 and 2.0.
    static let exemplarValue: UInt8 = 2 << 3 | 1
    static let exemplarTimestamp: UInt8 = 3 << 3 | 0
    /// 2.0 `Metadata.type` (1, VARINT), `help_ref` (3, VARINT), `unit_ref` (4, VARINT).
    static let metadataType: UInt8 = 1 << 3 | 0
    static let metadataHelpRef: UInt8 = 3 << 3 | 0
    static let metadataUnitRef: UInt8 = 4 << 3 | 0
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

    static func exemplarV1Size(_ exemplar: OutgoingExemplar, labels: Int) -> Int {
        labels + sampleFieldsSize(value: exemplar.value, timestamp: exemplar.timestamp)
    }

    static func exemplarV2Size(_ exemplar: OutgoingExemplar, refs: ArraySlice<UInt32>) -> Int {
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

    /// Calls `body` with the name and value bytes of each `Label` in `encoded`, the output of
    /// ``ProtoLabel/encodedFields(_:)`` (a missing field, omitted for an empty string, is empty).
    static func forEachLabel(in encoded: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        guard let base = encoded.baseAddress else { return }
        var offset = 0
        let end = encoded.count
        while offset < end {
            offset += 1  // the tag of `labels = 1`
            let labelEnd = readVarint(base, &offset) + offset
            var name = UnsafeRawBufferPointer(start: nil, count: 0)
            var value = name
            while offset < labelEnd {
                let tag = base.load(fromByteOffset: offset, as: UInt8.self)
                offset += 1
                let length = readVarint(base, &offset)
                let field = UnsafeRawBufferPointer(start: base + offset, count: length)
                if tag == labelName { name = field } else if tag == labelValue { value = field }
                offset += length
            }
            body(name, value)
        }
    }

    @inline(__always) static func readVarint(_ base: UnsafeRawPointer, _ offset: inout Int) -> Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = base.load(fromByteOffset: offset, as: UInt8.self)
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return Int(result) }
            shift += 7
        }
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
            bytes.withUnsafeBufferPointer { source in
                guard let base = source.baseAddress else { return }
                cursor.update(from: base, count: source.count)
                cursor += source.count
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
