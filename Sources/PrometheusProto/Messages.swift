import Model

/// One label pair of a series (`__name__` carries the metric name).
public struct ProtoLabel: Sendable, Equatable, Hashable {
    /// The label name.
    public var name: String
    /// The label value.
    public var value: String

    /// Creates a label pair.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One float sample.
public struct ProtoSample: Sendable, Equatable {
    /// The value. NaN payloads (such as the Prometheus stale marker
    /// `0x7ff0000000000002`) are carried bit-exactly through encoding and decoding.
    public var value: Double
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64

    /// Creates a sample.
    public init(value: Double, timestamp: Int64) {
        self.value = value
        self.timestamp = timestamp
    }

    /// Compares values by bit pattern, so that two NaN samples with the same payload are equal.
    public static func == (lhs: ProtoSample, rhs: ProtoSample) -> Bool {
        lhs.value.bitPattern == rhs.value.bitPattern && lhs.timestamp == rhs.timestamp
    }
}

/// An exemplar attached to a series (Prometheus sends these as `TimeSeries` field 3).
public struct ProtoExemplar: Sendable, Equatable {
    /// The exemplar's own labels (for example `trace_id`).
    public var labels: [ProtoLabel]
    /// The observed value.
    public var value: Double
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64

    /// Creates an exemplar.
    public init(labels: [ProtoLabel], value: Double, timestamp: Int64) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }

    /// Compares values by bit pattern, like ``ProtoSample``.
    public static func == (lhs: ProtoExemplar, rhs: ProtoExemplar) -> Bool {
        lhs.labels == rhs.labels && lhs.value.bitPattern == rhs.value.bitPattern && lhs.timestamp == rhs.timestamp
    }
}

/// One series with its samples. Native histograms (field 4) are not modelled.
public struct ProtoTimeSeries: Sendable, Equatable {
    /// The series' labels; the spec requires them sorted by name with unique names.
    /// This type does not sort or check them.
    public var labels: [ProtoLabel]
    /// Samples, oldest first.
    public var samples: [ProtoSample]
    /// Exemplars, usually empty.
    public var exemplars: [ProtoExemplar]

    /// Creates a series.
    public init(labels: [ProtoLabel], samples: [ProtoSample], exemplars: [ProtoExemplar] = []) {
        self.labels = labels
        self.samples = samples
        self.exemplars = exemplars
    }
}

/// Metadata for one metric family (`WriteRequest` field 3, as Prometheus sends it).
public struct ProtoMetricMetadata: Sendable, Equatable {
    /// The metric family type: the model's, whose numbering is the protocol's.
    public typealias MetricType = Model.MetricType

    /// The metric family type; values this module does not know decode as `.unknown`.
    public var type: MetricType
    /// The family name, e.g. `http_requests_total`'s family `http_requests`.
    public var metricFamilyName: String
    /// The HELP text.
    public var help: String
    /// The UNIT, often empty.
    public var unit: String

    /// Creates a metadata entry.
    public init(type: MetricType, metricFamilyName: String, help: String = "", unit: String = "") {
        self.type = type
        self.metricFamilyName = metricFamilyName
        self.help = help
        self.unit = unit
    }
}

/// A Prometheus remote-write 1.0 request body (before Snappy compression).
///
/// A plain value; encoding and decoding go through libprotobuf-c, whose structures never
/// leave this module.
public struct WriteRequest: Sendable, Equatable {
    /// The series in this request.
    public var timeseries: [ProtoTimeSeries]
    /// Metric metadata; usually sent in requests of its own.
    public var metadata: [ProtoMetricMetadata]

    /// Creates a request.
    public init(timeseries: [ProtoTimeSeries] = [], metadata: [ProtoMetricMetadata] = []) {
        self.timeseries = timeseries
        self.metadata = metadata
    }
}

/// Input that libprotobuf-c could not parse as a remote-write request.
public struct ProtoDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The size of the rejected input.
    public var byteCount: Int
    /// The message the input was parsed as: `prometheus.WriteRequest` or
    /// `io.prometheus.write.v2.Request`.
    public var message: String

    /// Creates an error.
    public init(byteCount: Int, message: String = "prometheus.WriteRequest") {
        self.byteCount = byteCount
        self.message = message
    }

    /// A human-readable explanation.
    public var description: String {
        "malformed remote-write \(message) (\(byteCount) bytes)"
    }
}
