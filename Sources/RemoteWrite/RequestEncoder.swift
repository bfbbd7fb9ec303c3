import PrometheusProto
import Relabel
import Snappy
import WAL

/// Turns a batch of WAL samples into the body of a Remote Write 1.0 request: a
/// `prometheus.WriteRequest`, snappy block-compressed.
struct RequestEncoder {
    /// Each series' labels as sent: external labels added (the series' own label wins on a clash),
    /// sorted by name.
    private(set) var seriesLabels: [SeriesRef: [ProtoLabel]] = [:]
    /// Series `write_relabel_configs` dropped: their samples are not sent.
    private(set) var droppedSeries: Set<SeriesRef> = []
    let externalLabels: Labels
    let writeRelabelConfigs: [RelabelConfig]

    init(externalLabels: Labels, writeRelabelConfigs: [RelabelConfig] = []) {
        self.externalLabels = externalLabels
        self.writeRelabelConfigs = writeRelabelConfigs
    }

    /// Remembers a series' labels as sent: external labels added, then write relabeling.
    mutating func addSeries(_ record: SeriesRecord) {
        let withExternal = record.labels.addingMissing(from: externalLabels)
        guard let labels = Relabeler.process(withExternal, with: writeRelabelConfigs) else {
            seriesLabels[record.ref] = nil
            droppedSeries.insert(record.ref)
            return
        }
        droppedSeries.remove(record.ref)
        seriesLabels[record.ref] = labels.pairs.map { ProtoLabel(name: $0.name, value: $0.value) }
    }

    func knows(_ ref: SeriesRef) -> Bool { seriesLabels[ref] != nil }
    func isDropped(_ ref: SeriesRef) -> Bool { droppedSeries.contains(ref) }

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
