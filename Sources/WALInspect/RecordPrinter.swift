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
/// 00000000@0 series ref=1 {__name__="up", job="node"}
/// 00000000@52+0 sample ref=1 {__name__="up", job="node"} 2024-01-02T03:04:05.000Z 1
/// 00000000@52+1 sample ref=2 {__name__="x", job="node"} 2024-01-02T03:04:05.000Z stale
/// 00000000@90+0 exemplar ref=1 {__name__="up", job="node"} 2024-01-02T03:04:05.000Z 0.5 {trace_id="ab"}
/// 00000000@130 metadata node_cpu_seconds type=counter unit="seconds" help="Seconds the CPUs spent in each mode."
/// ```
///
/// JSON lines carry `kind`, `segment`, `offset`, `index` (samples and exemplars), `ref`, `labels`
/// (an object; null for a ref no series record named), `timestamp` (ms), `time` (RFC 3339),
/// `value` (a string, as Prometheus's HTTP API writes values) and `stale`.
public struct RecordPrinter: Sendable {
    public let format: OutputFormat

    public init(format: OutputFormat) {
        self.format = format
    }

    static func position(_ p: WALPosition) -> String {
        "\(SegmentFile.name(p.segment))@\(p.offset)"
    }

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

    public func sample(_ sample: SampleRecord, index: Int, labels: Labels?, at p: WALPosition) -> String {
        point(kind: "sample", ref: sample.ref, timestamp: sample.timestamp, value: sample.value,
              index: index, labels: labels, exemplarLabels: nil, at: p)
    }

    public func exemplar(_ exemplar: ExemplarRecord, index: Int, labels: Labels?, at p: WALPosition) -> String {
        point(kind: "exemplar", ref: exemplar.ref, timestamp: exemplar.timestamp, value: exemplar.value,
              index: index, labels: labels, exemplarLabels: exemplar.labels, at: p)
    }

    public func metadata(_ metadata: MetadataRecord, at p: WALPosition) -> String {
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
    static func typeName(_ type: WALMetricType) -> String {
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

    private func point(
        kind: String, ref: SeriesRef, timestamp: Int64, value: Double, index: Int, labels: Labels?,
        exemplarLabels: Labels?, at p: WALPosition
    ) -> String {
        let stale = PrometheusFormat.isStaleMarker(value)
        switch format {
        case .text:
            let series = labels.map(PrometheusFormat.labels) ?? "(unknown series)"
            var line = "\(Self.position(p))+\(index) \(kind) ref=\(ref) \(series) "
                + "\(PrometheusFormat.time(milliseconds: timestamp)) \(stale ? "stale" : PrometheusFormat.value(value))"
            if let exemplarLabels { line += " " + PrometheusFormat.labels(exemplarLabels) }
            return line
        case .json:
            var o = JSONObject()
            o.add("kind", kind)
            o.add("segment", p.segment)
            o.add("offset", p.offset)
            o.add("index", index)
            o.add("ref", ref)
            if let labels { o.add("labels", labels) } else { o.addNull("labels") }
            o.add("timestamp", timestamp)
            o.add("time", PrometheusFormat.time(milliseconds: timestamp))
            o.add("value", PrometheusFormat.value(value))
            o.add("stale", stale)
            if let exemplarLabels { o.add("exemplar_labels", exemplarLabels) }
            return o.finished
        }
    }
}
