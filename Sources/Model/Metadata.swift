/// A series' reference number in the WAL: assigned once per label set, never reused.
public typealias SeriesRef = UInt64

/// A metric family's type, numbered as Prometheus's `record.MetricType` and the remote-write
/// protocol's `MetricMetadata.MetricType` (1.0) and `Metadata.MetricType` (2.0), so the raw
/// value is written and sent as it is. The text format's `untyped` is `unknown`, as in
/// Prometheus.
public enum MetricType: UInt8, Sendable, Hashable, CaseIterable {
    case unknown = 0
    case counter = 1
    case gauge = 2
    case histogram = 3
    case gaugeHistogram = 4
    case summary = 5
    case info = 6
    case stateset = 7
}

/// HELP, TYPE and UNIT of one metric family: as an exposition declares them, as the WAL's
/// metadata records keep them, and as remote write sends them.
public struct MetricMetadata: Sendable, Hashable {
    /// The family name as written on the HELP/TYPE/UNIT lines (`http_requests` for
    /// `http_requests_total` in OpenMetrics).
    public var family: String
    public var type: MetricType
    /// The HELP text, unescaped; empty when there is none.
    public var help: String
    /// The UNIT (OpenMetrics); empty when there is none.
    public var unit: String

    public init(family: String, type: MetricType, help: String = "", unit: String = "") {
        self.family = family
        self.type = type
        self.help = help
        self.unit = unit
    }
}
