/// A Prometheus Remote Write 2.0 request body (`io.prometheus.write.v2.Request`), before Snappy
/// compression.
///
/// Every string lives once in ``symbols``; series, exemplars and metadata refer to them by index.
/// The specification requires `symbols[0]` to be the empty string, so that a ref of 0 means
/// "empty". A plain value: encoding and decoding go through libprotobuf-c, whose structures
/// never leave this module. Sent with
/// `Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request`.
public struct WriteRequestV2: Sendable, Equatable {
    /// The symbol table: label names and values, help texts and units, each once.
    public var symbols: [String]
    /// The series in this request.
    public var timeseries: [ProtoTimeSeriesV2]

    /// Creates a request.
    public init(symbols: [String] = [""], timeseries: [ProtoTimeSeriesV2] = []) {
        self.symbols = symbols
        self.timeseries = timeseries
    }

    /// The label pairs `refs` stands for (name, value, name, value, …), or nil when `refs` has an
    /// odd length or an index outside ``symbols``.
    public func labels(_ refs: [UInt32]) -> [ProtoLabel]? {
        guard refs.count.isMultiple(of: 2) else { return nil }
        var labels: [ProtoLabel] = []
        labels.reserveCapacity(refs.count / 2)
        for index in stride(from: 0, to: refs.count, by: 2) {
            guard let name = symbol(refs[index]), let value = symbol(refs[index + 1]) else { return nil }
            labels.append(ProtoLabel(name: name, value: value))
        }
        return labels
    }

    /// The symbol at `ref`, or nil when it is out of range.
    public func symbol(_ ref: UInt32) -> String? {
        Int(ref) < symbols.count ? symbols[Int(ref)] : nil
    }
}

/// One series of a ``WriteRequestV2``. Native histograms (field 3) are not modelled.
public struct ProtoTimeSeriesV2: Sendable, Equatable {
    /// Label name and value refs into the request's symbols, alternating; the labels they stand
    /// for are sorted by name with unique names (this type does not check).
    public var labelsRefs: [UInt32]
    /// Samples, oldest first. (`Sample.start_timestamp` is not modelled: it is neither written
    /// nor read.)
    public var samples: [ProtoSample]
    /// Exemplars, usually empty.
    public var exemplars: [ProtoExemplarV2]
    /// The series' metric metadata; nil when the message has none.
    public var metadata: ProtoMetadataV2?

    /// Creates a series.
    public init(labelsRefs: [UInt32], samples: [ProtoSample], exemplars: [ProtoExemplarV2] = [], metadata: ProtoMetadataV2? = nil) {
        self.labelsRefs = labelsRefs
        self.samples = samples
        self.exemplars = exemplars
        self.metadata = metadata
    }
}

/// An exemplar of a ``ProtoTimeSeriesV2``.
public struct ProtoExemplarV2: Sendable, Equatable {
    /// The exemplar's label refs (for example to `trace_id` and its value), alternating name and
    /// value; may be empty.
    public var labelsRefs: [UInt32]
    /// The observed value, carried bit for bit.
    public var value: Double
    /// Milliseconds since the Unix epoch; 0 means unknown.
    public var timestamp: Int64

    /// Creates an exemplar.
    public init(labelsRefs: [UInt32], value: Double, timestamp: Int64) {
        self.labelsRefs = labelsRefs
        self.value = value
        self.timestamp = timestamp
    }

    /// Compares values by bit pattern, like ``ProtoSample``.
    public static func == (lhs: ProtoExemplarV2, rhs: ProtoExemplarV2) -> Bool {
        lhs.labelsRefs == rhs.labelsRefs && lhs.value.bitPattern == rhs.value.bitPattern && lhs.timestamp == rhs.timestamp
    }
}

/// The metadata of a ``ProtoTimeSeriesV2`` (`io.prometheus.write.v2.Metadata`).
public struct ProtoMetadataV2: Sendable, Equatable {
    /// The metric type; the numbering is that of 1.0's `MetricMetadata.MetricType`
    /// (0 is `METRIC_TYPE_UNSPECIFIED` in 2.0). Unknown numbers decode as `.unknown`.
    public var type: ProtoMetricMetadata.MetricType
    /// Ref of the HELP text in the request's symbols; 0 (the empty string) when there is none.
    public var helpRef: UInt32
    /// Ref of the UNIT in the request's symbols; 0 when there is none.
    public var unitRef: UInt32

    /// Creates a metadata entry.
    public init(type: ProtoMetricMetadata.MetricType, helpRef: UInt32 = 0, unitRef: UInt32 = 0) {
        self.type = type
        self.helpRef = helpRef
        self.unitRef = unitRef
    }
}
