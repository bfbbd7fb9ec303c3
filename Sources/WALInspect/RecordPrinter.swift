import Model
import WAL

/// How `agent wal dump` prints: one human-readable line, or one JSON object, per entry.
public enum OutputFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// Renders the entries of WAL records as lines.
///
/// Text lines start with the record's position, `SEGMENT@OFFSET`; sample and exemplar lines add
/// `+INDEX`, the entry's index in its record (for samples, `SEGMENT@OFFSET+INDEX` is the cursor
/// just before that sample, as remote write stores it):
///
/// ```
/// 00000000@0 series ref=1 {__name__="up", instance="a:9100", job="node"}
/// 00000000@141 metadata node_cpu_seconds type=counter unit="seconds" help="Seconds the CPUs spent in each mode."
/// 00000000@218+0 sample ref=1 {__name__="up", instance="a:9100", job="node"} 2024-01-02T03:04:05.000Z 1
/// 00000000@282+0 exemplar ref=2 {__name__="node_cpu_seconds_total", cpu="0", instance="a:9100", job="node", mode="idle"} 2024-01-02T03:04:04.750Z 12345 {trace_id="4bf92f3577b34da6"}
/// 00000000@698+3 sample ref=4 {__name__="node_load1", instance="a:9100", job="node"} 2024-01-02T03:04:20.000Z stale
/// ```
///
/// JSON lines carry `kind`, `segment`, `offset`, `index` (samples and exemplars), `ref`, `labels`
/// (an object; null for a ref no series record named), `timestamp` (ms), `time` (RFC 3339),
/// `value` (a string, as Prometheus's HTTP API writes values) and `stale`.
public struct RecordPrinter: Sendable {
    /// Text lines or JSON objects.
    public let format: OutputFormat
    /// The last position and timestamp rendered: consecutive entries of a record share both.
    private var lastPosition: (position: WALPosition, text: String)?
    private var lastTime: (milliseconds: Int64, text: String)?

    /// A printer for `format`.
    public init(format: OutputFormat) {
        self.format = format
    }

    private mutating func positionText(_ p: WALPosition) -> String {
        if let last = lastPosition, last.position == p { return last.text }
        let text = Self.position(p)
        lastPosition = (p, text)
        return text
    }

    private mutating func timeText(_ ms: Int64) -> String {
        if let last = lastTime, last.milliseconds == ms { return last.text }
        let text = PrometheusFormat.time(milliseconds: ms)
        lastTime = (ms, text)
        return text
    }

    static func position(_ p: WALPosition) -> String {
        "\(SegmentFile.name(p.segment))@\(p.offset)"
    }

    /// A series record entry's line.
    public func series(_ series: SeriesRecord, at p: WALPosition) -> String {
        switch format {
        case .text:
            return "\(Self.position(p)) series ref=\(series.ref) \(PrometheusFormat.labels(series.labels))"
        case .json:
            var o = JSONObject()
            o.add("kind", "series")
            o.add("segment", p.segment)
            o.add("offset", p.offset)
            o.add("ref", series.ref)
            o.add("labels", series.labels)
            return o.finished
        }
    }

    /// A sample's line; `labels` are its series' (nil when no series record named the ref).
    public mutating func sample(_ sample: SampleRecord, index: Int, labels: Labels?, at p: WALPosition) -> String {
        self.sample(sample, index: index, renderedLabels: labels.map(render), at: p)
    }

    /// A sample's line, with the series' labels already rendered by ``render(_:)`` (nil when no
    /// series record named the ref), so that a series' labels are rendered once, not per sample.
    public mutating func sample(_ sample: SampleRecord, index: Int, renderedLabels: String?, at p: WALPosition) -> String {
        point(kind: "sample", ref: sample.ref, timestamp: sample.timestamp, value: sample.value,
              index: index, series: renderedLabels, exemplarLabels: nil, at: p)
    }

    /// An exemplar's line; `labels` are its series' (nil when no series record named the ref).
    public mutating func exemplar(_ exemplar: ExemplarRecord, index: Int, labels: Labels?, at p: WALPosition) -> String {
        self.exemplar(exemplar, index: index, renderedLabels: labels.map(render), at: p)
    }

    /// An exemplar's line, with the series' labels already rendered by ``render(_:)``.
    public mutating func exemplar(_ exemplar: ExemplarRecord, index: Int, renderedLabels: String?, at p: WALPosition) -> String {
        point(kind: "exemplar", ref: exemplar.ref, timestamp: exemplar.timestamp, value: exemplar.value,
              index: index, series: renderedLabels, exemplarLabels: exemplar.labels, at: p)
    }

    /// A label set as this format writes it: `{a="1", b="2"}`, or a JSON object.
    public func render(_ labels: Labels) -> String {
        switch format {
        case .text:
            return PrometheusFormat.labels(labels)
        case .json:
            var object = JSONObject()
            for label in labels.pairs { object.add(label.name, label.value) }
            return object.finished
        }
    }

    /// A metadata record entry's line.
    public func metadata(_ metadata: MetricMetadata, at p: WALPosition) -> String {
        switch format {
        case .text:
            var line = "\(Self.position(p)) metadata \(metadata.family) type=\(Self.typeName(metadata.type))"
            if !metadata.unit.isEmpty { line += " unit=\"\(PrometheusFormat.escape(metadata.unit))\"" }
            if !metadata.help.isEmpty { line += " help=\"\(PrometheusFormat.escape(metadata.help))\"" }
            return line
        case .json:
            var o = JSONObject()
            o.add("kind", "metadata")
            o.add("segment", p.segment)
            o.add("offset", p.offset)
            o.add("family", metadata.family)
            o.add("type", Self.typeName(metadata.type))
            o.add("unit", metadata.unit)
            o.add("help", metadata.help)
            return o.finished
        }
    }

    /// Prometheus's names for metric types (as in its metadata API).
    static func typeName(_ type: MetricType) -> String {
        switch type {
        case .unknown: "unknown"
        case .counter: "counter"
        case .gauge: "gauge"
        case .histogram: "histogram"
        case .gaugeHistogram: "gaugehistogram"
        case .summary: "summary"
        case .info: "info"
        case .stateset: "stateset"
        }
    }

    private mutating func point(
        kind: String, ref: SeriesRef, timestamp: Int64, value: Double, index: Int, series: String?,
        exemplarLabels: Labels?, at p: WALPosition
    ) -> String {
        let stale = PrometheusFormat.isStaleMarker(value)
        switch format {
        case .text:
            var line = positionText(p)
            line += "+\(index) \(kind) ref=\(ref) \(series ?? "(unknown series)") \(timeText(timestamp)) "
            line += stale ? "stale" : PrometheusFormat.value(value)
            if let exemplarLabels { line += " " + PrometheusFormat.labels(exemplarLabels) }
            return line
        case .json:
            // Written directly (the hot path of a JSON dump): every piece but the labels is plain
            // ASCII without quotes or backslashes, and the labels come rendered by `render`.
            var line = "{\"kind\":\"\(kind)\",\"segment\":\(p.segment),\"offset\":\(p.offset),\"index\":\(index),\"ref\":\(ref)"
            line += ",\"labels\":\(series ?? "null"),\"timestamp\":\(timestamp),\"time\":\"\(timeText(timestamp))\""
            line += ",\"value\":\"\(PrometheusFormat.value(value))\",\"stale\":\(stale)"
            if let exemplarLabels { line += ",\"exemplar_labels\":" + render(exemplarLabels) }
            return line + "}"
        }
    }
}
