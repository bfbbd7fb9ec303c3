import AgentConfig
import Relabel
import Model
import WAL

/// One endpoint's view of the WAL's series table: per ref, the labels the endpoint sends the
/// series with, kept once, and the metric families' metadata.
///
/// For an endpoint without `write_relabel_configs` the cache keeps the WAL's own ``Labels``
/// value (its byte buffer shared, not copied); the endpoint's external labels are merged in when
/// a request is encoded (``mergedLabels``; the series' own label wins a clash). With write
/// relabeling it keeps the relabeled set (external labels added first, as Prometheus does, so
/// relabeling sees them), which is then sent as it is. Per series that is the labels, the index
/// of its family's metadata (Remote Write 2.0 sends it with every series) and a mark: about 40
/// bytes besides the labels (``RefTable``).
///
/// Forgets series the WAL forgot: every segment starts with the whole series table, so the
/// series a segment's head does not list are retired once the head has been read
/// (``beginSegment(_:)``, ``endHead()``): from then on lookups say they are unknown, but their
/// labels stay until no sample of theirs can be queued any more (``dropRetired(oldestPending:)``),
/// since samples read before the head may still wait in a queue.
package struct SeriesCache: SeriesSource, Sendable {
    /// The watcher's verdict on a sample's series.
    enum Status {
        case live
        /// `write_relabel_configs` dropped it.
        case dropped
        /// No series record was read for the ref, or the WAL forgot it.
        case unknown
    }

    let externalLabels: Labels
    let writeRelabelConfigs: [RelabelConfig]
    /// Whether series carry their family's metadata (Remote Write 2.0 sends it per series).
    let attachMetadata: Bool
    /// What the encoder merges into every series: the external labels, unless write relabeling
    /// has applied them already.
    package let mergedLabels: Labels

    private struct Entry: Sendable {
        /// The labels kept (see the type's documentation); empty for a dropped series.
        var labels: Labels
        /// Index into `families`; -1 for none (always without ``attachMetadata``).
        var family: Int32
        /// The generation of the last segment head that listed the series (high 30 bits), and
        /// the ``dropped`` and ``retired`` flags.
        var mark: UInt32

        static let dropped: UInt32 = 1
        static let retired: UInt32 = 2
        var isDropped: Bool { mark & Self.dropped != 0 }
        var isRetired: Bool { mark & Self.retired != 0 }
        var generation: UInt32 { mark >> 2 }
    }

    private var table = RefTable<Entry>()
    /// Every family's metadata, by family name (for Remote Write 1.0 metadata requests).
    private(set) var metadata: [String: MetricMetadata] = [:]
    /// The same metadata by index, for the series' ``Entry/family``; entries are replaced in
    /// place when a family's metadata changes, and never removed.
    private var families: [MetricMetadata] = []
    private var familyIndex: [String: Int32] = [:]

    /// The generation of the segment head being read or read last (30 bits, wrapping).
    private var generation: UInt32 = 0
    /// The start of the segment whose head is being read; nil outside a head.
    private var headStart: Cursor?
    /// Entries marked with the current generation (listed by the head, or added since).
    private var listed = 0
    private var retiredCount = 0
    /// Series retired at a segment start, oldest first, with that start.
    private var retiring: [(before: Cursor, refs: [SeriesRef])] = []

    package init(externalLabels: Labels, writeRelabelConfigs: [RelabelConfig], attachMetadata: Bool) {
        self.externalLabels = externalLabels
        self.writeRelabelConfigs = writeRelabelConfigs
        self.attachMetadata = attachMetadata
        mergedLabels = writeRelabelConfigs.isEmpty ? externalLabels : .empty
    }

    /// Series known and not forgotten (dropped ones included).
    package var count: Int { table.count - retiredCount }

    /// Whether retired series wait for ``dropRetired(oldestPending:)``.
    var hasRetired: Bool { !retiring.isEmpty }

    // MARK: Lookups

    /// What the watcher does with a sample of `ref`.
    @inline(__always) func status(of ref: SeriesRef) -> Status {
        guard let index = table.index(of: ref) else { return .unknown }
        let mark = table.values[index].mark
        if mark & Entry.retired != 0 { return .unknown }
        return mark & Entry.dropped != 0 ? .dropped : .live
    }

    /// Each ref's labels and family, for the encoder; retired series are still found (their
    /// samples may be queued), dropped ones are not.
    package func resolve(_ refs: [SeriesRef], into series: inout ResolvedSeries) -> [MetricMetadata] {
        table.values.withUnsafeBufferPointer { values in
            for ref in refs {
                if let index = table.index(of: ref), !values[index].isDropped {
                    series.append(values[index].labels, family: values[index].family)
                } else {
                    series.unknown()
                }
            }
        }
        return families
    }

    /// The labels `ref` is sent with (its own merged with ``mergedLabels``); nil when it is
    /// unknown, forgotten or dropped. Allocates: for tests and debugging.
    func labelsAsSent(_ ref: SeriesRef) -> Labels? {
        guard status(of: ref) == .live, let index = table.index(of: ref) else { return nil }
        return table.values[index].labels.addingMissing(from: mergedLabels)
    }

    /// The metadata `ref` is sent with (Remote Write 2.0); nil when it has none.
    func metadata(of ref: SeriesRef) -> MetricMetadata? {
        guard let index = table.index(of: ref), table.values[index].family >= 0 else { return nil }
        return families[Int(table.values[index].family)]
    }

    // MARK: Series

    package mutating func add(_ records: [SeriesRecord]) {
        for record in records { add(record) }
    }

    mutating func add(_ record: SeriesRecord) {
        // A ref always stands for the same label set (the WAL never reuses one), so the copies of
        // a series in later segments' heads only mark it as listed.
        if let index = table.index(of: record.ref) {
            var mark = table.values[index].mark
            if mark & Entry.retired != 0 {
                // Listed again after it was forgotten (the WAL does not do that): live again.
                mark &= ~Entry.retired
                retiredCount -= 1
            }
            if mark >> 2 != generation {
                mark = generation << 2 | mark & 3
                listed += 1
            }
            table.values[index].mark = mark
            return
        }
        var entry = Entry(labels: .empty, family: -1, mark: generation << 2)
        if writeRelabelConfigs.isEmpty {
            // Merged with the external labels when encoding; dropped only if that is empty.
            if record.labels.count == 0 && externalLabels.count == 0 {
                entry.mark |= Entry.dropped
            } else {
                entry.labels = record.labels
            }
        } else {
            let withExternal = record.labels.addingMissing(from: externalLabels)
            if let labels = Relabeler.process(withExternal, with: writeRelabelConfigs), labels.count > 0 {
                entry.labels = labels
            } else {
                entry.mark |= Entry.dropped
            }
        }
        if attachMetadata, !entry.isDropped { entry.family = family(of: entry.labels) }
        table.insert(record.ref, entry)
        listed += 1
    }

    /// The reader moved to a new segment, which starts at `segment`'s first byte: its head
    /// (series records first) lists every series.
    mutating func beginSegment(_ segment: Int) {
        generation = (generation + 1) & (UInt32.max >> 2)
        headStart = Cursor(position: WALPosition(segment: segment, offset: 0))
        listed = 0
    }

    /// The first record after the head: retire the series the head did not list.
    mutating func endHead() {
        guard let start = headStart else { return }
        headStart = nil
        if listed == count { return }
        var refs: [SeriesRef] = []
        var dropped: [SeriesRef] = []
        for index in table.values.indices {
            let entry = table.values[index]
            guard entry.generation != generation, !entry.isRetired else { continue }
            if entry.isDropped {
                dropped.append(table.keys[index])  // never queued: nothing waits for it
            } else {
                table.values[index].mark |= Entry.retired
                retiredCount += 1
                refs.append(table.keys[index])
            }
        }
        for ref in dropped { table.remove(ref) }
        if !refs.isEmpty { retiring.append((start, refs)) }
    }

    /// Forgets the labels of series retired at a segment start that lies at or before
    /// `oldestPending`, the place of the oldest sample queued or in flight anywhere (nil when
    /// none is): no sample of theirs can be waiting any more.
    mutating func dropRetired(oldestPending: Cursor?) {
        var done = 0
        for (before, refs) in retiring {
            if let oldest = oldestPending, oldest < before { break }
            for ref in refs {
                if let index = table.index(of: ref), table.values[index].isRetired {
                    table.remove(ref)
                    retiredCount -= 1
                }
            }
            done += 1
        }
        guard done > 0 else { return }
        retiring.removeFirst(done)
        table.compact()
    }

    // MARK: Metadata

    /// Takes new or changed family metadata. A changed family's series see the change at once;
    /// with ``attachMetadata``, a new family makes every series look its family up again.
    package mutating func setMetadata(_ entries: [MetricMetadata]) {
        var added = false
        for entry in entries where metadata[entry.family] != entry {
            metadata[entry.family] = entry
            if let index = familyIndex[entry.family] {
                families[Int(index)] = entry
            } else {
                familyIndex[entry.family] = Int32(families.count)
                families.append(entry)
                added = true
            }
        }
        guard attachMetadata, added else { return }
        for index in table.values.indices where !table.values[index].isDropped {
            table.values[index].family = family(of: table.values[index].labels)
        }
    }

    /// The index of the family metadata a series with `labels` (as kept) is sent with; -1 for none.
    private func family(of labels: Labels) -> Int32 {
        var name = labels.metricName
        if name.isEmpty { name = mergedLabels.metricName }
        return familyIndex[Self.family(of: name, in: metadata)] ?? -1
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
