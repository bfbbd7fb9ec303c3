import Model

/// One entry of a series record: a ref and the label set it stands for.
public struct SeriesRecord: Sendable, Equatable {
    public var ref: SeriesRef
    public var labels: Labels

    public init(ref: SeriesRef, labels: Labels) {
        self.ref = ref
        self.labels = labels
    }
}

/// One float sample of a series.
public struct SampleRecord: Sendable, Equatable {
    public var ref: SeriesRef
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var value: Double

    public init(ref: SeriesRef, timestamp: Int64, value: Double) {
        self.ref = ref
        self.timestamp = timestamp
        self.value = value
    }

    /// Equal when ref and timestamp are equal and the values have the same bit pattern, so
    /// NaNs (e.g. the Prometheus stale marker) compare equal to themselves.
    public static func == (lhs: SampleRecord, rhs: SampleRecord) -> Bool {
        lhs.ref == rhs.ref && lhs.timestamp == rhs.timestamp
            && lhs.value.bitPattern == rhs.value.bitPattern
    }
}

/// One exemplar of a series: a value observed at a time, with its own (small) label set,
/// typically a trace id.
public struct ExemplarRecord: Sendable, Equatable {
    public var ref: SeriesRef
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var value: Double
    /// The exemplar's own labels (e.g. `trace_id`), not the series'.
    public var labels: Labels

    public init(ref: SeriesRef, timestamp: Int64, value: Double, labels: Labels) {
        self.ref = ref
        self.timestamp = timestamp
        self.value = value
        self.labels = labels
    }

    /// Equal when ref, timestamp and labels are equal and the values have the same bit pattern
    /// (as for ``SampleRecord``).
    public static func == (lhs: ExemplarRecord, rhs: ExemplarRecord) -> Bool {
        lhs.ref == rhs.ref && lhs.timestamp == rhs.timestamp
            && lhs.value.bitPattern == rhs.value.bitPattern && lhs.labels == rhs.labels
    }
}

/// A decoded WAL record. Records of types this module does not know are skipped by readers.
public enum WALRecord: Sendable, Equatable {
    case series([SeriesRecord])
    case samples([SampleRecord])
    case exemplars([ExemplarRecord])
    /// Metric family metadata: new or changed entries after a commit's series record, and the
    /// whole current table in each segment's head (after the series). A later entry for a family
    /// replaces an earlier one.
    case metadata([MetricMetadata])
}

/// How the writer stores record payloads.
public enum WALCompression: Sendable, Hashable {
    /// Payloads as they are.
    case none
    /// Each record's payload snappy-compressed (block format) when that makes it smaller, flagged
    /// with bit `0x08` in its fragments' type byte, as Prometheus's `wlog` does.
    case snappy
}

/// A place in the log: the byte offset where a record starts in a segment.
///
/// Every position returned by ``WALReader/next()`` or ``WriteAheadLog/head`` is a valid place
/// to start a new reader. Positions order by segment, then offset.
public struct WALPosition: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var segment: Int
    public var offset: Int

    public init(segment: Int, offset: Int) {
        self.segment = segment
        self.offset = offset
    }

    public static func < (lhs: WALPosition, rhs: WALPosition) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }

    public var description: String { "\(WALSegment.name(segment))@\(offset)" }
}

/// One scrape's worth of data to append atomically with ``WriteAheadLog/commit(_:)``.
///
/// Samples and exemplars each keep the order in which they were appended.
public struct AppendBatch: Sendable {
    struct Entry: Sendable {
        /// The series' ref, or for a new series its index in `newSeries`.
        var refOrIndex: UInt64
        var isNew: Bool
        var timestamp: Int64
        var value: Double
    }

    struct ExemplarEntry: Sendable {
        /// The series' ref, or for a new series its index in `newSeries`.
        var refOrIndex: UInt64
        var isNew: Bool
        var timestamp: Int64
        var value: Double
        var labels: Labels
    }

    var entries: [Entry] = []
    var newSeries: [Labels] = []
    var exemplars: [ExemplarEntry] = []
    var metadata: [MetricMetadata] = []
    var released: [SeriesRef] = []

    public init() {}

    /// A sample for a series whose ref the caller already has.
    public mutating func append(ref: SeriesRef, timestamp: Int64, value: Double) {
        entries.append(Entry(refOrIndex: ref, isNew: false, timestamp: timestamp, value: value))
    }

    /// A sample for a series the caller has no ref for yet; returns the index of this new series
    /// in the `[SeriesRef]` that ``WriteAheadLog/commit(_:)`` returns.
    @discardableResult
    public mutating func append(labels: Labels, timestamp: Int64, value: Double) -> Int {
        let index = newSeries.count
        newSeries.append(labels)
        entries.append(Entry(refOrIndex: UInt64(index), isNew: true, timestamp: timestamp, value: value))
        return index
    }

    /// An exemplar for a series whose ref the caller already has.
    public mutating func appendExemplar(ref: SeriesRef, timestamp: Int64, value: Double, labels: Labels) {
        exemplars.append(ExemplarEntry(refOrIndex: ref, isNew: false, timestamp: timestamp, value: value, labels: labels))
    }

    /// An exemplar for a series added to this batch with ``append(labels:timestamp:value:)``;
    /// `index` is what that call returned. ``WriteAheadLog/commit(_:)`` writes it with the ref
    /// the series gets in the same commit.
    ///
    /// - Precondition: `index` was returned by `append(labels:…)` on this batch (since the last
    ///   ``removeAll()``).
    public mutating func appendExemplar(newSeries index: Int, timestamp: Int64, value: Double, labels: Labels) {
        precondition(index >= 0 && index < newSeries.count, "appendExemplar(newSeries: \(index)): no such new series in this batch")
        exemplars.append(ExemplarEntry(
            refOrIndex: UInt64(index), isNew: true, timestamp: timestamp, value: value, labels: labels))
    }

    /// HELP/TYPE/UNIT of a metric family. The log writes it only when it is new or differs from
    /// what the log last stored for that family; announcing an unchanged entry again just keeps it
    /// alive (entries not announced for a while are forgotten, see
    /// ``WriteAheadLog/init(directory:segmentSize:compression:metadataRetention:logger:)``).
    public mutating func appendMetadata(_ metadata: MetricMetadata) {
        self.metadata.append(metadata)
    }

    /// Says that the caller will not append `ref` again (the series vanished and got its
    /// staleness marker, or its target is gone). The log drops the series from its table, and so
    /// from the heads of later segments, when it starts its next segment, unless the series is
    /// appended again before that (by labels, keeping its ref, or by ref). Takes effect when the
    /// batch is committed; samples of `ref` in the same batch (e.g. its staleness marker) are
    /// written as usual and do not keep it, but a series appended by labels in the same batch
    /// that resolves to `ref` does.
    ///
    /// A ref shared by several appenders (two targets producing the same label set) must only be
    /// released by the last of them; the others keep it alive by appending it.
    public mutating func release(ref: SeriesRef) {
        released.append(ref)
    }

    /// Removes every sample, new series, exemplar, metadata entry and release, keeping the
    /// storage for reuse.
    public mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        newSeries.removeAll(keepingCapacity: true)
        exemplars.removeAll(keepingCapacity: true)
        metadata.removeAll(keepingCapacity: true)
        released.removeAll(keepingCapacity: true)
    }

    /// True when the batch holds nothing at all (committing it does nothing).
    public var isEmpty: Bool { entries.isEmpty && exemplars.isEmpty && metadata.isEmpty && released.isEmpty }
    public var sampleCount: Int { entries.count }
    public var exemplarCount: Int { exemplars.count }
    public var metadataCount: Int { metadata.count }
    /// Number of refs released with ``release(ref:)``.
    public var releaseCount: Int { released.count }
    /// Number of samples appended with labels instead of a ref.
    public var newSeriesCount: Int { newSeries.count }
}
