import AgentConfig
import Relabel
import Model
import WAL

/// One endpoint's view of the WAL's series table: each ref's labels as sent (external labels
/// added, the series' own label winning a clash, then `write_relabel_configs`), encoded once in an
/// ``OutgoingSeries``; and the metric families' metadata.
///
/// Forgets series the WAL forgot: every segment starts with the whole series table, so the
/// series a segment's head does not list are dropped once the head has been read
/// (``beginSegment()``, ``endHead()``).
struct SeriesCache {
    enum Lookup {
        case series(OutgoingSeries)
        /// `write_relabel_configs` dropped it.
        case dropped
        /// No series record was read for the ref.
        case unknown
    }

    let externalLabels: Labels
    let writeRelabelConfigs: [RelabelConfig]
    /// Whether series carry their family's metadata (Remote Write 2.0 sends it per series).
    let attachMetadata: Bool

    private(set) var series: [SeriesRef: OutgoingSeries] = [:]
    private(set) var dropped: Set<SeriesRef> = []
    private(set) var metadata: [String: MetricMetadata] = [:]
    /// Refs listed by the head of the segment being read, while its head is being read.
    private var listedInHead: Set<SeriesRef>?

    init(externalLabels: Labels, writeRelabelConfigs: [RelabelConfig], attachMetadata: Bool) {
        self.externalLabels = externalLabels
        self.writeRelabelConfigs = writeRelabelConfigs
        self.attachMetadata = attachMetadata
    }

    var count: Int { series.count }

    func lookup(_ ref: SeriesRef) -> Lookup {
        if let s = series[ref] { return .series(s) }
        return dropped.contains(ref) ? .dropped : .unknown
    }

    mutating func add(_ record: SeriesRecord) {
        listedInHead?.insert(record.ref)
        // A ref always stands for the same label set (the WAL never reuses one), so the copies of
        // a series in later segments' heads need no work.
        if series[record.ref] != nil || dropped.contains(record.ref) { return }
        let withExternal = record.labels.addingMissing(from: externalLabels)
        guard let labels = Relabeler.process(withExternal, with: writeRelabelConfigs), labels.count > 0 else {
            series[record.ref] = nil
            dropped.insert(record.ref)
            return
        }
        dropped.remove(record.ref)
        let meta = attachMetadata ? metadata[Self.family(of: labels.metricName, in: metadata)] : nil
        series[record.ref] = OutgoingSeries(labels: labels, metadata: meta)
    }

    /// Takes new or changed family metadata; with ``attachMetadata``, series of those families are
    /// re-made to carry it.
    mutating func setMetadata(_ entries: [MetricMetadata]) {
        var changed: Set<String> = []
        for entry in entries where metadata[entry.family] != entry {
            metadata[entry.family] = entry
            changed.insert(entry.family)
        }
        guard attachMetadata, !changed.isEmpty else { return }
        for (ref, s) in series {
            let family = Self.family(of: s.metricName, in: metadata)
            guard changed.contains(family) else { continue }
            series[ref] = OutgoingSeries(encodedLabels: s.encodedLabels, metadata: metadata[family])
        }
    }

    /// The reader moved to a new segment: its head (series records first) lists every series.
    mutating func beginSegment() {
        listedInHead = []
    }

    /// The first record after the head: forget series the head did not list.
    mutating func endHead() {
        guard let listed = listedInHead else { return }
        listedInHead = nil
        if listed.count == series.count + dropped.count { return }
        series = series.filter { listed.contains($0.key) }
        dropped = dropped.filter { listed.contains($0) }
    }

    /// The family a metric belongs to: its own name when metadata is known for it, else the name
    /// without a suffix that histograms, summaries and counters add.
    static func family(of metricName: String, in metadata: [String: MetricMetadata]) -> String {
        if metadata[metricName] != nil { return metricName }
        for suffix in ["_total", "_bucket", "_count", "_sum", "_created", "_info", "_gcount", "_gsum"]
        where metricName.hasSuffix(suffix) {
            let base = String(metricName.dropLast(suffix.count))
            if metadata[base] != nil { return base }
        }
        return metricName
    }
}
