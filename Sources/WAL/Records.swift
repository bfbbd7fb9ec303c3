/// A series' number in the WAL. Stable for a label set for as long as the log directory exists.
public typealias SeriesRef = UInt64

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

    /// Removes every sample, new series and exemplar, keeping the storage for reuse.
    public mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        newSeries.removeAll(keepingCapacity: true)
        exemplars.removeAll(keepingCapacity: true)
    }

    /// True when the batch holds neither samples nor exemplars (committing it writes nothing).
    public var isEmpty: Bool { entries.isEmpty && exemplars.isEmpty }
    public var sampleCount: Int { entries.count }
    public var exemplarCount: Int { exemplars.count }
    /// Number of samples appended with labels instead of a ref.
    public var newSeriesCount: Int { newSeries.count }
}
