import PrometheusProto
import Snappy
import WAL

/// Turns a batch of WAL samples into the body of a Remote Write 1.0 request: a
/// `prometheus.WriteRequest`, snappy block-compressed.
struct RequestEncoder {
    /// Each series' labels as sent: external labels added (the series' own label wins on a clash),
    /// sorted by name.
    private(set) var seriesLabels: [SeriesRef: [ProtoLabel]] = [:]
    let externalLabels: Labels

    init(externalLabels: Labels) {
        self.externalLabels = externalLabels
    }

    mutating func addSeries(_ record: SeriesRecord) {
        let labels = record.labels.addingMissing(from: externalLabels)
        seriesLabels[record.ref] = labels.pairs.map { ProtoLabel(name: $0.name, value: $0.value) }
    }

    func knows(_ ref: SeriesRef) -> Bool { seriesLabels[ref] != nil }

    /// The compressed request for `samples`, grouped per series in order of first appearance
    /// (so each series' samples stay in timestamp order).
    func encode(_ samples: [SampleRecord]) -> [UInt8] {
        var indexByRef: [SeriesRef: Int] = [:]
        var series: [ProtoTimeSeries] = []
        for sample in samples {
            guard let labels = seriesLabels[sample.ref] else { continue }
            let point = ProtoSample(value: sample.value, timestamp: sample.timestamp)
            if let index = indexByRef[sample.ref] {
                series[index].samples.append(point)
            } else {
                indexByRef[sample.ref] = series.count
                series.append(ProtoTimeSeries(labels: labels, samples: [point]))
            }
        }
        return Snappy.compress(WriteRequest(timeseries: series).serialized())
    }
}
