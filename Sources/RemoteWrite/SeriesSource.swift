import Model

/// Where the encoder finds the series of a request's samples: looked up once per series per
/// request (not per sample), in one call, so that a source shared with the WAL watcher is
/// locked once per request.
package protocol SeriesSource {
    /// Labels every series is sent with unless it has a label of that name (the endpoint's
    /// external labels; empty when write relabeling has already applied them).
    var mergedLabels: Labels { get }

    /// Appends each ref of `refs`, in order, to `series` (``ResolvedSeries/unknown()`` for a ref
    /// the source does not know). Returns the family metadata that the families given to
    /// ``ResolvedSeries/append(_:family:)`` index.
    func resolve(_ refs: [SeriesRef], into series: inout ResolvedSeries) -> [MetricMetadata]
}

/// The series of one request as a ``SeriesSource`` hands them over: their label encodings
/// copied back to back into one buffer, so that encoding needs no reference to the source's
/// values (no reference counting per series, and the labels are read from one place).
package struct ResolvedSeries: Sendable {
    /// Where one series' labels are in ``bytes``, and its family.
    package struct Entry: Sendable {
        /// The range of its labels in ``bytes``; `start` is -1 for an unknown series.
        package var start: Int
        package var end: Int
        /// The index of its family's metadata; -1 for none.
        package var family: Int32

        package var isKnown: Bool { start >= 0 }
    }

    /// The series' label encodings (``Labels``' layout), back to back.
    package private(set) var bytes: [UInt8] = []
    /// One entry per ref asked for, in order.
    package private(set) var entries: [Entry] = []

    package init() {}

    /// Adds a known series: its labels as kept (copied) and its family index (-1 for none).
    package mutating func append(_ labels: Labels, family: Int32) {
        let start = bytes.count
        labels.bytes.withUnsafeBytes { bytes.append(contentsOf: $0) }
        entries.append(Entry(start: start, end: bytes.count, family: family))
    }

    /// Adds a series the source does not know.
    package mutating func unknown() {
        entries.append(Entry(start: -1, end: -1, family: -1))
    }

    /// Forgets every series, keeping the storage.
    package mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }
}
