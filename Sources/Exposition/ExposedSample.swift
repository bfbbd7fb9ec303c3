import Model

/// One sample line of a text exposition, as returned by ``TextParser/next()``.
///
/// The sample refers to the parser's body by byte offsets; nothing is copied. Call
/// ``TextParser/labels(of:)`` on the same parser to get its label set, and
/// ``TextParser/exemplar(of:)`` to get its exemplar.
public struct ExposedSample: Sendable, Hashable {
    /// Byte range in the body of the series text as written: the metric name plus its `{...}`
    /// label block, if any, or a label block holding the quoted metric name
    /// (`{"my.metric",a="b"}`). It runs from the first byte of the line that is not a blank to
    /// the last byte before the blanks that precede the value (the closing `}` when there is a
    /// label block). Two lines with the same series bytes have the same labels,
    /// so this is usable as a scrape-cache key (within one format).
    public var series: Range<Int>
    /// The sample value.
    public var value: Double
    /// Explicit timestamp in milliseconds since the epoch, if the line had one. OpenMetrics
    /// timestamps (seconds, possibly fractional) are converted as Prometheus does:
    /// `int64(seconds * 1000)`, truncated toward zero.
    public var timestamp: Int64?
    /// OpenMetrics only: byte range of the sample's exemplar, from its `{` to the end of its value
    /// or timestamp (the `# ` before it excluded), already validated by `next()`; nil when the
    /// line has none. ``TextParser/exemplar(of:)`` materialises it.
    public var exemplar: Range<Int>?

    public init(series: Range<Int>, value: Double, timestamp: Int64?, exemplar: Range<Int>? = nil) {
        self.series = series
        self.value = value
        self.timestamp = timestamp
        self.exemplar = exemplar
    }
}

/// An OpenMetrics exemplar: `# {labels} value [timestamp]` after a sample.
public struct Exemplar: Sendable, Equatable {
    /// The exemplar's labels (no `__name__`); empty values dropped, as for series.
    public var labels: Labels
    public var value: Double
    /// Milliseconds since the epoch (the exposition gives seconds), if given.
    public var timestamp: Int64?

    public init(labels: Labels, value: Double, timestamp: Int64?) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }

    /// OpenMetrics: the label names and values of an exemplar together hold at most this many
    /// Unicode code points (Prometheus' `exemplar.ExemplarMaxLabelSetLength`).
    public static let maxLabelSetLength = 128
}

/// A syntax error in a text exposition.
///
/// As in Prometheus, one bad line makes the whole exposition invalid: once ``TextParser/next()``
/// has thrown, it throws the same error again on every later call.
public struct ExpositionError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The 1-based line number of the offending line.
    public var line: Int
    /// What is wrong, e.g. `expected label name, got "{"`.
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}
