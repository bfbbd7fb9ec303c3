import PrometheusProto
import Snappy
import Model

/// Builds remote-write request bodies, snappy-compressed, one call per request. One per shard:
/// it keeps its scratch buffers (grouping table, symbol table, the uncompressed body) between
/// requests, so that once they have reached their working size a request allocates only its
/// compressed result.
///
/// Samples are grouped by series ref; each series is looked up once per request in a
/// ``SeriesSource`` (one call for the whole request), and its labels are written straight from
/// their bytes (``Labels``' layout), merged with the source's ``SeriesSource/mergedLabels`` in
/// name order (the series' own label wins a clash): as 1.0 `Label` messages, or as 2.0 symbol
/// refs interned on bytes. The layout is the schema's in `proto/` (a length-delimited field is
/// its tag, the varint length and the bytes); the tests compare it with libprotobuf-c's output
/// and decode every shape with the generated code.
///
/// Samples and exemplars whose series the source does not know are left out (``unknown``
/// counts them).
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
    /// Per group: its series' labels and family (unknown when the source does not know it).
    private var resolved = ResolvedSeries()
    /// The family metadata `resolved`'s entries refer to.
    private var families: [MetricMetadata] = []
    /// The uncompressed request; only its first `bodyCount` bytes are the current request.
    private var body: [UInt8] = []
    private var bodyCount = 0
    /// 2.0, per group: the size of its `TimeSeries` message (0 for a series left out).
    private var seriesSizes: [Int] = []
    /// 2.0: label refs of every group, then of every exemplar, back to back.
    private var refs: [UInt32] = []
    /// 2.0: where each group's refs start in `refs` (one more entry than groups).
    private var seriesRefStarts: [Int] = []
    /// 2.0: where each exemplar's refs start in `refs` (one more entry than exemplars).
    private var exemplarRefStarts: [Int] = []
    /// 2.0: per group, its metadata's type and help and unit refs; nil when it has none.
    private var metadataRefs: [(type: UInt8, help: UInt32, unit: UInt32)?] = []
    /// 2.0: per family, its metadata's refs in the request stamped `familyStamp` (each family's
    /// help and unit are interned once per request, not once per series).
    private var familyRefs: [(stamp: UInt32, type: UInt8, help: UInt32, unit: UInt32)] = []
    private var familyStamp: UInt32 = 0

    /// Samples and exemplars of the last request that were left out because the source did not
    /// know their series.
    package private(set) var unknown = (samples: 0, exemplars: 0)

    /// Creates an encoder with empty scratch buffers.
    package init() {}

    // MARK: Remote Write 1.0

    /// The body of a Remote Write 1.0 request, a `prometheus.WriteRequest`, snappy-compressed.
    ///
    /// One `TimeSeries` per distinct series, in order of first appearance among `samples` and
    /// then `exemplars`; each series' samples and exemplars in the order given (so timestamp
    /// order if they come in that order). A series with exemplars but no samples here gets a
    /// `TimeSeries` with exemplars only, as Prometheus sends them.
    package mutating func encodeV1(samples: [QueuedSample], exemplars: [QueuedExemplar], series: some SeriesSource) -> [UInt8] {
        buildV1(samples: samples, exemplars: exemplars, series: series)
        return compressedBody()
    }

    /// The body of a Remote Write 1.0 metadata-only request (`WriteRequest.metadata`, field 3),
    /// snappy-compressed, one `MetricMetadata` per entry in the order given. Packed entirely by
    /// libprotobuf-c: such requests are rare (Prometheus sends them once a minute).
    package mutating func encodeV1Metadata(_ metadata: [MetricMetadata]) -> [UInt8] {
        let request = WriteRequest(metadata: metadata.map {
            ProtoMetricMetadata(
                type: $0.type,
                metricFamilyName: $0.family, help: $0.help, unit: $0.unit)
        })
        return Snappy.compress(request.serialized())
    }

    /// Lays out the uncompressed 1.0 request in `body[0..<bodyCount]`, in one pass over each
    /// series' labels: a series' `TimeSeries` is written ``seriesHeaderRoom`` bytes after its
    /// start, and moved back to follow its tag and length once its length is known (a move
    /// of a few hundred bytes costs less than walking the labels a second time to size them).
    mutating func buildV1(samples: [QueuedSample], exemplars: [QueuedExemplar], series: some SeriesSource) {
        let extra = resolve(samples: samples, exemplars: exemplars, series: series)
        let groups = grouping.count
        let entries = resolved.entries
        var count = 0
        var group = 0
        extra.bytes.withUnsafeBytes { extra in
        resolved.bytes.withUnsafeBytes { labelBytes in
            while group < groups {
                var needed = 0
                // As many series as fit in the body as it is; then grow it for the next one.
                body.withUnsafeMutableBufferPointer { buffer in
                    while group < groups {
                        let entry = entries[group]
                        guard entry.isKnown else {
                            group += 1
                            continue
                        }
                        let labels = UnsafeRawBufferPointer(rebasing: labelBytes[entry.start..<entry.end])
                        // At most what it can take: labels (Wire.labelFieldsBound), samples, exemplars.
                        var bound = Self.seriesHeaderRoom + Wire.labelFieldsBound(labels.count + extra.count)
                            + grouping.sampleCount(of: group) * Wire.maxSampleFieldSize
                        if !exemplars.isEmpty {
                            for index in grouping.exemplars(of: group) {
                                let length = Self.exemplarV1Length(exemplars[index])
                                bound += 1 + Wire.varintSize(length) + length
                            }
                        }
                        if count + bound > buffer.count {
                            needed = count + bound
                            return
                        }
                        let start = buffer.baseAddress! + count
                        let content = start + Self.seriesHeaderRoom
                        var out = Wire.Writer(content)
                        out.labelFields(labels, merging: extra)
                        for index in grouping.samples(of: group) {
                            out.sample(tag: Wire.timeSeriesSamples, value: samples[index].value, timestamp: samples[index].timestamp)
                        }
                        if !exemplars.isEmpty {
                            for index in grouping.exemplars(of: group) {
                                let exemplar = exemplars[index]
                                out.tag(Wire.timeSeriesExemplarsV1)
                                out.varint(Self.exemplarV1Length(exemplar))
                                exemplar.labels.bytes.withUnsafeBytes { out.labelFields($0, merging: UnsafeRawBufferPointer(start: nil, count: 0)) }
                                out.exemplarValueAndTimestamp(value: exemplar.value, timestamp: exemplar.timestamp)
                            }
                        }
                        let size = out.written(since: content)
                        precondition(Self.seriesHeaderRoom + size <= bound, "1.0 series larger than its bound")
                        var header = Wire.Writer(start)
                        header.tag(Wire.writeRequestTimeseries)
                        header.varint(size)
                        let headerSize = header.written(since: start)
                        // Overlapping ranges: copyMemory is a memmove.
                        UnsafeMutableRawPointer(start + headerSize).copyMemory(from: content, byteCount: size)
                        count += headerSize + size
                        group += 1
                    }
                }
                if needed > 0 { reserveBody(needed) }
            }
        }
        }
        bodyCount = count
    }

    /// Room left before each 1.0 `TimeSeries` for its tag and length: a tag byte and a varint
    /// of up to 5 bytes (lengths below 2^35).
    private static let seriesHeaderRoom = 6

    /// The length of a 1.0 `Exemplar` message.
    private static func exemplarV1Length(_ exemplar: QueuedExemplar) -> Int {
        let labels = exemplar.labels.bytes.withUnsafeBytes { Wire.labelFieldsSize($0, merging: UnsafeRawBufferPointer(start: nil, count: 0)) }
        return Wire.exemplarV1Size(exemplar, labels: labels)
    }

    // MARK: Remote Write 2.0

    /// The body of a Remote Write 2.0 request, an `io.prometheus.write.v2.Request`,
    /// snappy-compressed.
    ///
    /// The symbol table starts with "" and holds every other string once: label names and
    /// values of the series and exemplars, help texts and units. Series are grouped as in
    /// ``encodeV1(samples:exemplars:series:)``; each `TimeSeries` has its `labels_refs` (name,
    /// value, … in the labels' sorted order), its samples and exemplars (with their own
    /// `labels_refs`), and, when its family's metadata is known, a `Metadata` with the type,
    /// `help_ref` and `unit_ref` (0, the empty string, for an empty help or unit).
    package mutating func encodeV2(samples: [QueuedSample], exemplars: [QueuedExemplar], series: some SeriesSource) -> [UInt8] {
        buildV2(samples: samples, exemplars: exemplars, series: series)
        return compressedBody()
    }

    /// Lays out the uncompressed 2.0 request in `body[0..<bodyCount]`.
    mutating func buildV2(samples: [QueuedSample], exemplars: [QueuedExemplar], series: some SeriesSource) {
        let extra = resolve(samples: samples, exemplars: exemplars, series: series)
        let groups = grouping.count
        symbols.reset()
        familyStamp &+= 1
        if familyStamp == 0 {
            for index in familyRefs.indices { familyRefs[index].stamp = 0 }
            familyStamp = 1
        }
        if familyRefs.count < families.count {
            familyRefs.append(contentsOf: repeatElement((stamp: 0, type: 0, help: 0, unit: 0), count: families.count - familyRefs.count))
        }

        // Pass 1: symbols and refs.
        refs.removeAll(keepingCapacity: true)
        seriesRefStarts.removeAll(keepingCapacity: true)
        metadataRefs.removeAll(keepingCapacity: true)
        let entries = resolved.entries
        extra.bytes.withUnsafeBytes { extra in
        resolved.bytes.withUnsafeBytes { labelBytes in
            for group in 0..<groups {
                seriesRefStarts.append(refs.count)
                let entry = entries[group]
                guard entry.isKnown else {
                    metadataRefs.append(nil)
                    continue
                }
                MergedLabels.forEach(UnsafeRawBufferPointer(rebasing: labelBytes[entry.start..<entry.end]), extra) { name, value in
                    refs.append(symbols.intern(name))
                    refs.append(symbols.intern(value))
                }
                metadataRefs.append(entry.family >= 0 ? metadataRefs(family: Int(entry.family)) : nil)
            }
        }
        }
        seriesRefStarts.append(refs.count)
        exemplarRefStarts.removeAll(keepingCapacity: true)
        for exemplar in exemplars {
            exemplarRefStarts.append(refs.count)
            exemplar.labels.forEach { name, value in
                refs.append(symbols.intern(name))
                refs.append(symbols.intern(value))
            }
        }
        exemplarRefStarts.append(refs.count)

        // Pass 2: sizes.
        seriesSizes.removeAll(keepingCapacity: true)
        var total = symbols.encoded.count
        for group in 0..<groups {
            guard entries[group].isKnown else {
                seriesSizes.append(0)
                continue
            }
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
            for group in 0..<groups where entries[group].isKnown {
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

    /// The type and the help and unit refs of `family`, interned at its first series in the
    /// request.
    private mutating func metadataRefs(family: Int) -> (type: UInt8, help: UInt32, unit: UInt32) {
        if familyRefs[family].stamp != familyStamp {
            let metadata = families[family]
            familyRefs[family] = (familyStamp, metadata.type.rawValue, symbols.intern(metadata.help), symbols.intern(metadata.unit))
        }
        let refs = familyRefs[family]
        return (refs.type, refs.help, refs.unit)
    }

    // MARK: Series

    /// Groups the request's samples and exemplars by series, looks every series up in `series`
    /// (one call), counts what is left out; returns the labels to merge into every series.
    private mutating func resolve(samples: [QueuedSample], exemplars: [QueuedExemplar], series: some SeriesSource) -> Labels {
        grouping.group(samples: samples, exemplars: exemplars)
        resolved.removeAll()
        families = series.resolve(grouping.refs, into: &resolved)
        precondition(resolved.entries.count == grouping.count, "a series source must answer every ref")
        unknown = (0, 0)
        for group in 0..<grouping.count where !resolved.entries[group].isKnown {
            unknown.samples += grouping.samples(of: group).count
            unknown.exemplars += grouping.exemplars(of: group).count
        }
        return series.mergedLabels
    }

    // MARK: Buffers

    /// The current request before compression (for tests).
    var uncompressedBody: [UInt8] { Array(body[0..<bodyCount]) }

    /// Grows `body` to at least `count` bytes, keeping what it holds; it never shrinks, so
    /// steady state is free.
    private mutating func reserveBody(_ count: Int) {
        if body.count < count {
            body.append(contentsOf: repeatElement(0, count: max(count, body.count * 2) - body.count))
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
