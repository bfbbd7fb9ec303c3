import CProtobufC

// Encoding and decoding through libprotobuf-c.
//
// Encoding builds the C message tree in a few flat allocations owned by a `CMessageArena`:
// one buffer for every string (NUL-terminated, back to back), one array per message type, and
// one array of pointers per message type that the parents' `repeated` fields slice into.
// Everything is freed together when the arena goes away, so no path leaks, whatever the
// request's size.
//
// Limitation: protobuf-c `string` fields are NUL-terminated C strings, so a Swift string with
// an embedded NUL is truncated at it on the wire.

extension WriteRequest {
    /// Serializes the request in the protobuf wire format, with libprotobuf-c
    /// (`prometheus__write_request__pack`).
    public func serialized() -> [UInt8] {
        let arena = CMessageArena(for: self)
        return withExtendedLifetime(arena) {
            let root = arena.root
            let size = prometheus__write_request__get_packed_size(root)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = size == 0 ? 0 : prometheus__write_request__pack(root, buffer.baseAddress!)
                precondition(initialized == size, "protobuf-c packed \(initialized) bytes, expected \(size)")
            }
        }
    }

    /// Parses a serialized request with libprotobuf-c (`prometheus__write_request__unpack`).
    ///
    /// Unknown fields are skipped, as protobuf requires; strings are decoded as UTF-8, with
    /// invalid sequences replaced by U+FFFD.
    ///
    /// - Throws: ``ProtoDecodingError`` when the input is not a valid `WriteRequest`.
    public init(serializedBytes bytes: [UInt8]) throws(ProtoDecodingError) {
        let parsed: WriteRequest? = bytes.withUnsafeBufferPointer { buffer in
            var empty: UInt8 = 0
            return withUnsafePointer(to: &empty) { emptyPointer in
                guard let message = prometheus__write_request__unpack(nil, buffer.count, buffer.baseAddress ?? emptyPointer) else {
                    return nil
                }
                defer { prometheus__write_request__free_unpacked(message, nil) }
                return WriteRequest(copying: message.pointee)
            }
        }
        guard let parsed else { throw ProtoDecodingError(byteCount: bytes.count) }
        self = parsed
    }

    private init(copying message: Prometheus__WriteRequest) {
        self.init(
            timeseries: repeatedField(message.timeseries, message.n_timeseries) { series in
                ProtoTimeSeries(
                    labels: repeatedField(series.labels, series.n_labels, ProtoLabel.init(copying:)),
                    samples: repeatedField(series.samples, series.n_samples) {
                        ProtoSample(value: $0.value, timestamp: $0.timestamp)
                    },
                    exemplars: repeatedField(series.exemplars, series.n_exemplars) {
                        ProtoExemplar(
                            labels: repeatedField($0.labels, $0.n_labels, ProtoLabel.init(copying:)),
                            value: $0.value, timestamp: $0.timestamp)
                    })
            },
            metadata: repeatedField(message.metadata, message.n_metadata) {
                ProtoMetricMetadata(
                    type: UInt8(exactly: $0.type.rawValue).flatMap(ProtoMetricMetadata.MetricType.init(rawValue:)) ?? .unknown,
                    metricFamilyName: swiftString($0.metric_family_name),
                    help: swiftString($0.help),
                    unit: swiftString($0.unit))
            })
    }
}

extension ProtoLabel {
    /// The wire bytes of `labels` as the repeated field `labels = 1` of a 1.0 `TimeSeries`, packed
    /// with libprotobuf-c (`prometheus__time_series__pack` of a series holding only the labels):
    /// for each label, in the given order, the tag of field 1, the label message's length and
    /// the `Label` message.
    ///
    /// `Exemplar.labels` is field 1 of the same type, so the bytes serve there too. A sender
    /// that encodes a series' labels once can build every later `TimeSeries` by copying them,
    /// followed by its samples. Empty names or values are omitted inside each `Label`, as proto3
    /// does for empty strings; a string with an embedded NUL is truncated at it.
    public static func encodedFields(_ labels: [ProtoLabel]) -> [UInt8] {
        guard !labels.isEmpty else { return [] }
        let arena = CMessageArena(for: WriteRequest(timeseries: [ProtoTimeSeries(labels: labels, samples: [])]))
        return withExtendedLifetime(arena) {
            let series = arena.root.pointee.timeseries[0]!
            let size = prometheus__time_series__get_packed_size(series)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = prometheus__time_series__pack(series, buffer.baseAddress!)
                precondition(initialized == size, "protobuf-c packed \(initialized) bytes, expected \(size)")
            }
        }
    }

    fileprivate init(copying label: Prometheus__Label) {
        self.init(name: swiftString(label.name), value: swiftString(label.value))
    }
}

/// Maps a protobuf-c repeated message field (`n` pointers to messages) to a Swift array.
private func repeatedField<Message, Element>(
    _ items: UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?, _ count: Int,
    _ transform: (Message) -> Element
) -> [Element] {
    guard let items, count > 0 else { return [] }
    var result: [Element] = []
    result.reserveCapacity(count)
    for index in 0..<count {
        if let item = items[index] { result.append(transform(item.pointee)) }
    }
    return result
}

private func swiftString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

/// Owns the C message tree for one `WriteRequest` while it is being packed.
private final class CMessageArena {
    private let strings: UnsafeMutableBufferPointer<CChar>
    private let labels: UnsafeMutableBufferPointer<Prometheus__Label>
    private let labelPointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Prometheus__Label>?>
    private let samples: UnsafeMutableBufferPointer<Prometheus__Sample>
    private let samplePointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Prometheus__Sample>?>
    private let exemplars: UnsafeMutableBufferPointer<Prometheus__Exemplar>
    private let exemplarPointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Prometheus__Exemplar>?>
    private let series: UnsafeMutableBufferPointer<Prometheus__TimeSeries>
    private let seriesPointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Prometheus__TimeSeries>?>
    private let metadata: UnsafeMutableBufferPointer<Prometheus__MetricMetadata>
    private let metadataPointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Prometheus__MetricMetadata>?>
    /// The root message; valid while the arena lives.
    let root: UnsafeMutablePointer<Prometheus__WriteRequest>

    // Fill cursors, used only during init.
    private var nextString = 0
    private var nextLabel = 0
    private var nextSample = 0
    private var nextExemplar = 0

    init(for request: WriteRequest) {
        // Pass 1: sizes.
        var stringBytes = 0
        var labelCount = 0, sampleCount = 0, exemplarCount = 0
        func count(_ label: ProtoLabel) {
            stringBytes += label.name.utf8.count + label.value.utf8.count + 2
        }
        for item in request.timeseries {
            labelCount += item.labels.count
            sampleCount += item.samples.count
            exemplarCount += item.exemplars.count
            item.labels.forEach(count)
            for exemplar in item.exemplars {
                labelCount += exemplar.labels.count
                exemplar.labels.forEach(count)
            }
        }
        for entry in request.metadata {
            stringBytes += entry.metricFamilyName.utf8.count + entry.help.utf8.count + entry.unit.utf8.count + 3
        }

        strings = .allocate(capacity: stringBytes)
        labels = .allocate(capacity: labelCount)
        labelPointers = .allocate(capacity: labelCount)
        samples = .allocate(capacity: sampleCount)
        samplePointers = .allocate(capacity: sampleCount)
        exemplars = .allocate(capacity: exemplarCount)
        exemplarPointers = .allocate(capacity: exemplarCount)
        series = .allocate(capacity: request.timeseries.count)
        seriesPointers = .allocate(capacity: request.timeseries.count)
        metadata = .allocate(capacity: request.metadata.count)
        metadataPointers = .allocate(capacity: request.metadata.count)
        root = .allocate(capacity: 1)

        // Pass 2: fill. All arrays hold trivial C structs, so initializing them by assignment
        // through `initialize` and never deinitializing is correct.
        root.initialize(to: Prometheus__WriteRequest())
        prometheus__write_request__init(root)
        root.pointee.n_timeseries = request.timeseries.count
        root.pointee.timeseries = seriesPointers.baseAddress
        root.pointee.n_metadata = request.metadata.count
        root.pointee.metadata = metadataPointers.baseAddress

        for (index, item) in request.timeseries.enumerated() {
            let message = series.baseAddress! + index
            message.initialize(to: Prometheus__TimeSeries())
            prometheus__time_series__init(message)
            (message.pointee.labels, message.pointee.n_labels) = appendLabels(item.labels)
            message.pointee.samples = samplePointers.baseAddress.map { $0 + nextSample }
            message.pointee.n_samples = item.samples.count
            for sample in item.samples {
                let target = samples.baseAddress! + nextSample
                target.initialize(to: Prometheus__Sample())
                prometheus__sample__init(target)
                // Written unless its bits are all zero: -0.0 is kept, +0.0 is omitted as proto3 does.
                target.pointee.value_presence_case =
                    sample.value.bitPattern == 0 ? PROMETHEUS__SAMPLE__VALUE_PRESENCE__NOT_SET : PROMETHEUS__SAMPLE__VALUE_PRESENCE_VALUE
                target.pointee.value = sample.value
                target.pointee.timestamp = sample.timestamp
                samplePointers[nextSample] = target
                nextSample += 1
            }
            message.pointee.exemplars = exemplarPointers.baseAddress.map { $0 + nextExemplar }
            message.pointee.n_exemplars = item.exemplars.count
            for exemplar in item.exemplars {
                let target = exemplars.baseAddress! + nextExemplar
                target.initialize(to: Prometheus__Exemplar())
                prometheus__exemplar__init(target)
                (target.pointee.labels, target.pointee.n_labels) = appendLabels(exemplar.labels)
                target.pointee.value_presence_case =
                    exemplar.value.bitPattern == 0 ? PROMETHEUS__EXEMPLAR__VALUE_PRESENCE__NOT_SET : PROMETHEUS__EXEMPLAR__VALUE_PRESENCE_VALUE
                target.pointee.value = exemplar.value
                target.pointee.timestamp = exemplar.timestamp
                exemplarPointers[nextExemplar] = target
                nextExemplar += 1
            }
            seriesPointers[index] = message
        }

        for (index, entry) in request.metadata.enumerated() {
            let message = metadata.baseAddress! + index
            message.initialize(to: Prometheus__MetricMetadata())
            prometheus__metric_metadata__init(message)
            message.pointee.type = Prometheus__MetricMetadata__MetricType(rawValue: numericCast(entry.type.rawValue))
            message.pointee.metric_family_name = appendString(entry.metricFamilyName)
            message.pointee.help = appendString(entry.help)
            message.pointee.unit = appendString(entry.unit)
            metadataPointers[index] = message
        }
        assert(nextString == stringBytes && nextLabel == labelCount && nextSample == sampleCount && nextExemplar == exemplarCount)
    }

    deinit {
        strings.deallocate()
        labels.deallocate()
        labelPointers.deallocate()
        samples.deallocate()
        samplePointers.deallocate()
        exemplars.deallocate()
        exemplarPointers.deallocate()
        series.deallocate()
        seriesPointers.deallocate()
        metadata.deallocate()
        metadataPointers.deallocate()
        root.deallocate()
    }

    /// Copies `string` and a terminating NUL into the string buffer.
    private func appendString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let start = strings.baseAddress! + nextString
        var string = string  // withUTF8 is mutating; native strings are not copied
        let length = string.withUTF8 { utf8 in
            if let source = utf8.baseAddress {
                UnsafeMutableRawPointer(start).copyMemory(from: source, byteCount: utf8.count)
            }
            return utf8.count
        }
        start[length] = 0
        nextString += length + 1
        return start
    }

    /// Lays out `items` as consecutive label messages and returns the slice of label
    /// pointers for the parent's repeated field.
    private func appendLabels(
        _ items: [ProtoLabel]
    ) -> (UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__Label>?>?, Int) {
        let slice = labelPointers.baseAddress.map { $0 + nextLabel }
        for label in items {
            let target = labels.baseAddress! + nextLabel
            target.initialize(to: Prometheus__Label())
            prometheus__label__init(target)
            target.pointee.name = appendString(label.name)
            target.pointee.value = appendString(label.value)
            labelPointers[nextLabel] = target
            nextLabel += 1
        }
        return (slice, items.count)
    }
}
