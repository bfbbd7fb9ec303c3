/// One sample line of a text exposition, as returned by ``TextParser/next()``.
///
/// The sample refers to the parser's body by byte offsets; nothing is copied. Call
/// ``TextParser/labels(of:)`` on the same parser to get its label set.
public struct ExposedSample: Sendable, Hashable {
    /// Byte range in the body of the series text as written: the metric name plus its `{...}`
    /// label block, if any. It runs from the first byte of the metric name (leading blanks of the
    /// line excluded) to the last byte before the blanks that precede the value (the closing `}`
    /// when there is a label block). Two lines with the same series bytes have the same labels,
    /// so this is usable as a scrape-cache key.
    public var series: Range<Int>
    /// The sample value.
    public var value: Double
    /// Explicit timestamp in milliseconds since the epoch, if the line had one.
    public var timestamp: Int64?

    public init(series: Range<Int>, value: Double, timestamp: Int64?) {
        self.series = series
        self.value = value
        self.timestamp = timestamp
    }
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

/// A metric family's type as declared by a `# TYPE` line.
public enum MetricType: String, Sendable, Hashable, CaseIterable {
    case counter
    case gauge
    case histogram
    case summary
    case untyped
}
