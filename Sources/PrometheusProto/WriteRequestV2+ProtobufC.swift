import CProtobufC

// Encoding and decoding of `io.prometheus.write.v2.Request` through libprotobuf-c.
//
// This is the reference path (tests, tools, receivers in end-to-end tests); the agent's own hot
// path assembles requests from cached bytes (RemoteWrite's RequestEncoder) and is checked
// against this one.

extension WriteRequestV2 {
    /// Serializes the request in the protobuf wire format, with libprotobuf-c
    /// (`io__prometheus__write__v2__request__pack`).
    ///
    /// Values whose bits are all zero (+0.0) are omitted as proto3 does; every other value,
    /// -0.0 and NaN payloads included, is written bit for bit.
    public func serialized() -> [UInt8] {
        let memory = CAllocations()
        return withExtendedLifetime(memory) {
            var root = Io__Prometheus__Write__V2__Request()
            io__prometheus__write__v2__request__init(&root)
            root.n_symbols = symbols.count
            root.symbols = memory.array(of: UnsafeMutablePointer<CChar>?.self, symbols.map { memory.cString($0) })
            root.n_timeseries = timeseries.count
            root.timeseries = memory.array(of: UnsafeMutablePointer<Io__Prometheus__Write__V2__TimeSeries>?.self, timeseries.map { series in
                let message = memory.allocate(Io__Prometheus__Write__V2__TimeSeries.self)
                io__prometheus__write__v2__time_series__init(message)
                message.pointee.n_labels_refs = series.labelsRefs.count
                message.pointee.labels_refs = memory.array(of: UInt32.self, series.labelsRefs)
                message.pointee.n_samples = series.samples.count
                message.pointee.samples = memory.array(of: UnsafeMutablePointer<Io__Prometheus__Write__V2__Sample>?.self, series.samples.map { sample in
                    let target = memory.allocate(Io__Prometheus__Write__V2__Sample.self)
                    io__prometheus__write__v2__sample__init(target)
                    target.pointee.value_presence_case = sample.value.bitPattern == 0
                        ? IO__PROMETHEUS__WRITE__V2__SAMPLE__VALUE_PRESENCE__NOT_SET : IO__PROMETHEUS__WRITE__V2__SAMPLE__VALUE_PRESENCE_VALUE
                    target.pointee.value = sample.value
                    target.pointee.timestamp = sample.timestamp
                    return target
                })
                message.pointee.n_exemplars = series.exemplars.count
                message.pointee.exemplars = memory.array(of: UnsafeMutablePointer<Io__Prometheus__Write__V2__Exemplar>?.self, series.exemplars.map { exemplar in
                    let target = memory.allocate(Io__Prometheus__Write__V2__Exemplar.self)
                    io__prometheus__write__v2__exemplar__init(target)
                    target.pointee.n_labels_refs = exemplar.labelsRefs.count
                    target.pointee.labels_refs = memory.array(of: UInt32.self, exemplar.labelsRefs)
                    target.pointee.value_presence_case = exemplar.value.bitPattern == 0
                        ? IO__PROMETHEUS__WRITE__V2__EXEMPLAR__VALUE_PRESENCE__NOT_SET : IO__PROMETHEUS__WRITE__V2__EXEMPLAR__VALUE_PRESENCE_VALUE
                    target.pointee.value = exemplar.value
                    target.pointee.timestamp = exemplar.timestamp
                    return target
                })
                if let metadata = series.metadata {
                    let target = memory.allocate(Io__Prometheus__Write__V2__Metadata.self)
                    io__prometheus__write__v2__metadata__init(target)
                    target.pointee.type = Io__Prometheus__Write__V2__Metadata__MetricType(rawValue: numericCast(metadata.type.rawValue))
                    target.pointee.help_ref = metadata.helpRef
                    target.pointee.unit_ref = metadata.unitRef
                    message.pointee.metadata = target
                }
                return message
            })
            let size = io__prometheus__write__v2__request__get_packed_size(&root)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = size == 0 ? 0 : io__prometheus__write__v2__request__pack(&root, buffer.baseAddress!)
                precondition(initialized == size, "protobuf-c packed \(initialized) bytes, expected \(size)")
            }
        }
    }

    /// Parses a serialized request with libprotobuf-c (`io__prometheus__write__v2__request__unpack`).
    ///
    /// Unknown fields (native histograms among them) are skipped, as protobuf requires; strings
    /// are decoded as UTF-8, with invalid sequences replaced by U+FFFD. The symbol table is taken
    /// as it is: that `symbols[0]` is empty and that refs are in range is for the caller to check
    /// (``labels(_:)`` returns nil for refs out of range).
    ///
    /// - Throws: ``ProtoDecodingError`` when the input is not a valid `Request`.
    public init(serializedBytes bytes: [UInt8]) throws(ProtoDecodingError) {
        let parsed: WriteRequestV2? = bytes.withUnsafeBufferPointer { buffer in
            var empty: UInt8 = 0
            return withUnsafePointer(to: &empty) { emptyPointer in
                guard let message = io__prometheus__write__v2__request__unpack(nil, buffer.count, buffer.baseAddress ?? emptyPointer) else {
                    return nil
                }
                defer { io__prometheus__write__v2__request__free_unpacked(message, nil) }
                return WriteRequestV2(copying: message.pointee)
            }
        }
        guard let parsed else { throw ProtoDecodingError(byteCount: bytes.count, message: "io.prometheus.write.v2.Request") }
        self = parsed
    }

    private init(copying message: Io__Prometheus__Write__V2__Request) {
        var symbols: [String] = []
        symbols.reserveCapacity(message.n_symbols)
        for index in 0..<message.n_symbols {
            symbols.append(message.symbols[index].map { String(cString: $0) } ?? "")
        }
        self.init(
            symbols: symbols,
            timeseries: messages(message.timeseries, message.n_timeseries) { series in
                ProtoTimeSeriesV2(
                    labelsRefs: scalars(series.labels_refs, series.n_labels_refs),
                    samples: messages(series.samples, series.n_samples) {
                        ProtoSample(value: $0.value, timestamp: $0.timestamp)
                    },
                    exemplars: messages(series.exemplars, series.n_exemplars) {
                        ProtoExemplarV2(labelsRefs: scalars($0.labels_refs, $0.n_labels_refs), value: $0.value, timestamp: $0.timestamp)
                    },
                    metadata: series.metadata.map {
                        ProtoMetadataV2(
                            type: UInt8(exactly: $0.pointee.type.rawValue).flatMap(ProtoMetricMetadata.MetricType.init(rawValue:)) ?? .unknown,
                            helpRef: $0.pointee.help_ref,
                            unitRef: $0.pointee.unit_ref)
                    })
            })
    }
}

/// Maps a protobuf-c repeated message field (`count` pointers to messages) to a Swift array.
private func messages<Message, Element>(
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

/// Copies a protobuf-c repeated scalar field.
private func scalars<Element>(_ items: UnsafeMutablePointer<Element>?, _ count: Int) -> [Element] {
    guard let items, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: items, count: count))
}

/// Memory for one C message tree, freed all together when this object goes away.
private final class CAllocations {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// One zero-filled value of `type`, to be initialised by its protobuf-c `__init` function.
    func allocate<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.stride)
        blocks.append(raw)
        return raw.assumingMemoryBound(to: T.self)
    }

    /// A C array holding `elements` (nil when empty, as protobuf-c expects for n = 0).
    func array<T>(of type: T.Type, _ elements: [T]) -> UnsafeMutablePointer<T>? {
        guard !elements.isEmpty else { return nil }
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: elements.count)
        pointer.initialize(from: elements, count: elements.count)
        blocks.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A NUL-terminated copy of `string` (truncated at an embedded NUL on the wire).
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(string.utf8)
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        utf8.withUnsafeBufferPointer { source in
            if let base = source.baseAddress {
                UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: utf8.count)
            }
        }
        pointer[utf8.count] = 0
        blocks.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }
}
