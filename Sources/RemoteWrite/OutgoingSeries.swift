import PrometheusProto
import Model
import WAL

/// One series as an endpoint sends it, made once per series and shared by every request that
/// carries it: its final labels and its metric metadata, with the labels already encoded.
///
/// Immutable, so any shard may encode it concurrently. The encoded labels cost about as much
/// memory as the label strings themselves; in exchange a request copies them instead of
/// converting every label to libprotobuf-c structures and C strings again.
package final class OutgoingSeries: Sendable {
    /// The family's HELP/TYPE/UNIT, if known; Remote Write 2.0 sends it with every series.
    package let metadata: MetricMetadata?
    /// The labels as the repeated field `labels = 1` of a 1.0 `prometheus.TimeSeries` (tag,
    /// length and `Label` message per label), packed once with libprotobuf-c. Remote Write 2.0
    /// reads its label names and values from these bytes too (``RequestEncoder``). The only copy
    /// of the labels the series keeps: one series costs its encoded bytes and little more.
    let encodedLabels: [UInt8]

    /// Encodes `labels` once; `labels` must be what the endpoint sends (after external labels
    /// and write relabeling), sorted by name with unique names (``WAL/Labels`` guarantees both).
    package init(labels: Labels, metadata: MetricMetadata?) {
        self.metadata = metadata
        self.encodedLabels = ProtoLabel.encodedFields(labels.pairs.map { ProtoLabel(name: $0.name, value: $0.value) })
    }

    /// Keeps `encoded` (from another series) with new metadata.
    init(encodedLabels encoded: [UInt8], metadata: MetricMetadata?) {
        self.metadata = metadata
        self.encodedLabels = encoded
    }

    /// The labels as sent, decoded from ``encodedLabels`` (not for the hot path).
    package var labels: Labels {
        var pairs: [Label] = []
        encodedLabels.withUnsafeBytes { encoded in
            Wire.forEachLabel(in: encoded) { name, value in
                pairs.append(Label(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            }
        }
        return Labels(pairs)
    }

    /// The value of `__name__`, decoded from ``encodedLabels``.
    var metricName: String {
        var result = ""
        encodedLabels.withUnsafeBytes { encoded in
            Wire.forEachLabel(in: encoded) { name, value in
                if result.isEmpty, name.elementsEqual("__name__".utf8) { result = String(decoding: value, as: UTF8.self) }
            }
        }
        return result
    }
}

/// One float sample of a series, ready to encode.
package struct OutgoingSample: Sendable {
    /// The series the sample belongs to.
    package var series: OutgoingSeries
    /// Milliseconds since the Unix epoch.
    package var timestamp: Int64
    /// The value, sent bit for bit (-0.0 and NaN payloads such as the staleness marker included).
    package var value: Double

    /// Creates a sample.
    package init(series: OutgoingSeries, timestamp: Int64, value: Double) {
        self.series = series
        self.timestamp = timestamp
        self.value = value
    }
}

/// One exemplar of a series, ready to encode.
package struct OutgoingExemplar: Sendable {
    /// The series the exemplar belongs to.
    package var series: OutgoingSeries
    /// Milliseconds since the Unix epoch.
    package var timestamp: Int64
    /// The observed value, sent bit for bit.
    package var value: Double
    /// The exemplar's own labels, e.g. `trace_id`.
    package var labels: Labels

    /// Creates an exemplar.
    package init(series: OutgoingSeries, timestamp: Int64, value: Double, labels: Labels) {
        self.series = series
        self.timestamp = timestamp
        self.value = value
        self.labels = labels
    }
}
