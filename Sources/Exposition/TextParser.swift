import Model

/// Parses the Prometheus text exposition format 0.0.4, or OpenMetrics 1.0 text, from a byte buffer.
///
/// ```swift
/// var parser = TextParser(body, format: .from(contentType: response.contentType))
/// while let sample = try parser.next() {
///     let labels = try parser.labels(of: sample)   // only when the series is new
/// }
/// ```
///
/// `next()` walks the bytes once, validates each line completely (label names and values,
/// escapes, UTF-8, duplicate label names, value, timestamp) and returns the sample with the
/// byte range of its series text; it creates no Strings and, in the common case, allocates
/// nothing. ``labels(of:)`` builds the label set for a sample when the caller needs it.
///
/// The grammar, per line (lines end with `\n`; the last one may lack it):
/// - blank lines (spaces and tabs only) are skipped;
/// - `#` starts a comment; `# HELP name text` and `# TYPE name type` are checked (metric name,
///   UTF-8 help text, one of `counter`, `gauge`, `histogram`, `summary`, `untyped`);
/// - a sample is `name [{labels}] value [timestamp]`, tokens separated by runs of spaces or tabs;
///   metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`; label
///   values are double-quoted with the escapes `\\`, `\"` and `\n` only; blanks may surround `=`
///   and `,`; a trailing comma and an empty block `{}` are allowed; values are Go floats
///   (`NaN`, `+Inf`, `-Inf`, exponents); the timestamp is an integer in milliseconds.
///
/// A carriage return is not a separator: `\r` in a sample line is an error (it is accepted only
/// inside label values and comment text). NUL bytes are accepted only inside label values.
///
/// After an error the exposition is invalid as a whole, as in Prometheus: `next()` keeps
/// throwing the same error.
///
/// With `format: .openMetrics` the OpenMetrics rules apply instead, as Prometheus 2's
/// OpenMetrics parser enforces them (see `OpenMetricsParsing.swift`): single spaces as
/// separators, no blank lines or free comments, any `\x` escape in label values, timestamps in
/// seconds, exemplars, `# UNIT`, and a final `# EOF` after which nothing may follow.
public struct TextParser: Sendable {
    /// The exposition being parsed.
    public let body: [UInt8]
    /// The format rules `next()` applies.
    public let format: ExpositionFormat
    /// Index of the first byte not yet consumed, always at the start of a line.
    var position = 0
    /// 1-based number of the line starting at `position`.
    var line = 1
    /// The error thrown by `next()`, rethrown by every later call.
    private var failure: ExpositionError?
    /// Start and end offsets of the label names of the line being parsed (reused storage).
    var labelNames: [Int] = []
    /// The metric name of the last `# TYPE` line, and its type.
    var typedName: Range<Int>?
    var typedAs: MetricType?
    /// OpenMetrics: whether `# EOF` has been read.
    var reachedEOF = false
    /// HELP/TYPE/UNIT lines read so far, by family, as byte ranges (see ``metadata``).
    var metadataEntries: [MetadataEntry] = []

    /// A parser for `body` in the Prometheus text format 0.0.4.
    public init(_ body: [UInt8]) {
        self.init(body, format: .prometheusText)
    }

    /// A parser for `body` in `format`.
    public init(_ body: [UInt8], format: ExpositionFormat) {
        self.body = body
        self.format = format
        labelNames.reserveCapacity(32)
    }

    /// The next sample, nil at the end. Comment lines, HELP, TYPE and UNIT lines, blank lines
    /// and `# EOF` are consumed. O(length of the lines consumed); allocates nothing in the common
    /// case (metadata lines append a few offsets to an array).
    public mutating func next() throws(ExpositionError) -> ExposedSample? {
        if let failure { throw failure }
        let body = self.body
        do {
            return try body.withUnsafeBufferPointer { (p) throws(ExpositionError) -> ExposedSample? in
                switch format {
                case .prometheusText: try self.advance(p)
                case .openMetrics: try self.advanceOpenMetrics(p)
                }
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// The sample's labels: `__name__` plus the label block, values unescaped, empty values
    /// dropped, sorted by name. Throws for duplicate label names, or when `sample.series` is not
    /// the range of a series in this parser's body.
    public func labels(of sample: ExposedSample) throws(ExpositionError) -> Labels {
        try body.withUnsafeBufferPointer { (p) throws(ExpositionError) -> Labels in
            try buildLabels(p, sample.series)
        }
    }

    /// The sample's exemplar (OpenMetrics), nil when it has none. `next()` has already checked
    /// its syntax; this builds its labels (values unescaped) and converts its timestamp to
    /// milliseconds. Throws when the exemplar's label names and values together exceed
    /// ``Exemplar/maxLabelSetLength`` code points — Prometheus drops such an exemplar and keeps
    /// the sample, so the caller should do the same — or when `sample.exemplar` is not the
    /// range of an exemplar in this body.
    public func exemplar(of sample: ExposedSample) throws(ExpositionError) -> Exemplar? {
        guard let range = sample.exemplar else { return nil }
        return try body.withUnsafeBufferPointer { (p) throws(ExpositionError) -> Exemplar? in
            try buildExemplar(p, range)
        }
    }

    /// HELP, TYPE and UNIT per metric family for the lines `next()` has read so far (so, after
    /// the whole body, all of them), in order of first appearance; a later line for the same
    /// family overrides an earlier one, as in Prometheus' scrape cache. Built on each access.
    public var metadata: [MetricMetadata] {
        body.withUnsafeBufferPointer { p in buildMetadata(p) }
    }

    /// The metric type declared by the last `# TYPE` line read so far, if that line names this
    /// sample's metric family: the metric name itself or, for histograms, the name with
    /// `_bucket`, `_sum` or `_count`, and for summaries with `_sum` or `_count`. Meant for the
    /// sample just returned by `next()`; nil when there is no such declaration.
    public func type(of sample: ExposedSample) -> MetricType? {
        guard let typedName, let typedAs, typedName.upperBound <= sample.series.lowerBound,
              sample.series.upperBound <= body.count else { return nil }
        return body.withUnsafeBufferPointer { p -> MetricType? in
            let start = sample.series.lowerBound
            var end = start
            while end < sample.series.upperBound && isMetricNameByte(p[end]) { end += 1 }
            let n = typedName.count
            guard end - start >= n, sameBytes(p, start, start + n, typedName.lowerBound, typedName.upperBound) else {
                return nil
            }
            let suffixStart = start + n
            if format == .openMetrics {
                return openMetricsSuffixMatches(p, suffixStart, end, typedAs) ? typedAs : nil
            }
            if suffixStart == end { return typedAs }
            switch typedAs {
            case .histogram:
                if equals(p, suffixStart, end, "_bucket") || equals(p, suffixStart, end, "_sum")
                    || equals(p, suffixStart, end, "_count") { return typedAs }
            case .summary:
                if equals(p, suffixStart, end, "_sum") || equals(p, suffixStart, end, "_count") { return typedAs }
            default:
                break
            }
            return nil
        }
    }

    // MARK: - Lines

    private mutating func advance(_ p: Bytes) throws(ExpositionError) -> ExposedSample? {
        let end = p.count
        var i = position
        while i < end {
            i = skipBlanks(p, i, end)
            guard i < end else { break }
            let c = p[i]
            if c == ASCII.newline {
                i += 1
                line += 1
                continue
            }
            if c == ASCII.hash {
                i = try comment(p, i, end)
                continue
            }
            return try sample(p, i, end)
        }
        position = end
        return nil
    }

    func fail(_ message: String) -> ExpositionError {
        ExpositionError(line: line, message: message)
    }

    /// Consumes the line holding a comment that starts at `i` (the `#`); returns the start of
    /// the next line.
    private mutating func comment(_ p: Bytes, _ hash: Int, _ end: Int) throws(ExpositionError) -> Int {
        var i = hash + 1
        let afterHash = i
        i = skipBlanks(p, i, end)
        if i > afterHash {
            let keywordEnd = tokenEnd(p, i, end)
            let isHelp = equals(p, i, keywordEnd, "HELP")
            let isType = !isHelp && equals(p, i, keywordEnd, "TYPE")
            if (isHelp || isType) && keywordEnd < end && isBlank(p[keywordEnd]) {
                return try metadata(p, skipBlanks(p, keywordEnd, end), end, isHelp: isHelp)
            }
        }
        // A plain comment: anything but NUL up to the end of the line.
        while i < end {
            let c = p[i]
            if c == ASCII.newline {
                line += 1
                return i + 1
            }
            if c == ASCII.nul { throw fail("unexpected NUL byte in comment") }
            i += 1
        }
        return end
    }

    /// Consumes the rest of a `# HELP` or `# TYPE` line from the metric name at `i`.
    private mutating func metadata(_ p: Bytes, _ i: Int, _ end: Int, isHelp: Bool) throws(ExpositionError) -> Int {
        let keyword = isHelp ? "HELP" : "TYPE"
        var i = i
        let nameStart = i
        guard i < end && isMetricNameStart(p[i]) else {
            throw fail("expected metric name after \(keyword), got \(describe(p, i, end))")
        }
        i += 1
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        let nameEnd = i
        if i < end && !isBlank(p[i]) && p[i] != ASCII.newline {
            throw fail("invalid metric name in \(keyword) line: \(quoted(p, nameStart, tokenEnd(p, nameStart, end)))")
        }
        i = skipBlanks(p, i, end)
        let textStart = i
        while i < end && p[i] != ASCII.newline {
            if p[i] == ASCII.nul { throw fail("unexpected NUL byte in \(keyword) line") }
            i += 1
        }
        let textEnd = i
        if isHelp {
            if !isValidUTF8(p, textStart, textEnd) { throw fail("invalid UTF-8 in HELP text") }
        } else {
            var wordEnd = textEnd
            while wordEnd > textStart && isBlank(p[wordEnd - 1]) { wordEnd -= 1 }
            let type: MetricType
            if equals(p, textStart, wordEnd, "counter") {
                type = .counter
            } else if equals(p, textStart, wordEnd, "gauge") {
                type = .gauge
            } else if equals(p, textStart, wordEnd, "histogram") {
                type = .histogram
            } else if equals(p, textStart, wordEnd, "summary") {
                type = .summary
            } else if equals(p, textStart, wordEnd, "untyped") {
                type = .unknown
            } else if textStart == wordEnd {
                throw fail("expected metric type after TYPE \(String(decoding: UnsafeBufferPointer(rebasing: p[nameStart..<nameEnd]), as: UTF8.self))")
            } else {
                throw fail("invalid metric type \(quoted(p, textStart, wordEnd))")
            }
            typedName = nameStart..<nameEnd
            typedAs = type
        }
        noteMetadata(p, nameStart..<nameEnd, type: isHelp ? nil : typedAs, help: isHelp ? textStart..<textEnd : nil)
        if i < end {
            line += 1
            return i + 1
        }
        return end
    }

    /// Parses the sample line whose metric name starts at `start`, leaves `position` at the
    /// start of the next line.
    private mutating func sample(_ p: Bytes, _ start: Int, _ end: Int) throws(ExpositionError) -> ExposedSample {
        var i = start
        guard isMetricNameStart(p[i]) else {
            if p[i] == ASCII.carriageReturn { throw fail("unexpected carriage return") }
            throw fail("expected metric name, got \(describe(p, i, end))")
        }
        i += 1
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        var seriesEnd = i
        var j = skipBlanks(p, i, end)
        if j < end && p[j] == ASCII.braceOpen {
            seriesEnd = try labelBlock(p, j, end)
            j = skipBlanks(p, seriesEnd, end)
        } else if j == i {
            // The name must be followed by a blank or a label block.
            if j >= end || p[j] == ASCII.newline {
                throw fail("expected value after metric name, got \(describe(p, j, end))")
            }
            if p[j] == ASCII.carriageReturn { throw fail("unexpected carriage return") }
            throw fail("unexpected \(describe(p, j, end)) in metric name")
        }

        // Value.
        let valueStart = j
        j = tokenEnd(p, j, end)
        if j == valueStart {
            throw fail("expected value, got \(describe(p, j, end))")
        }
        guard let value = parseFloatValue(p, valueStart, j) else {
            throw fail("invalid value \(quoted(p, valueStart, j))")
        }

        // Optional timestamp.
        var timestamp: Int64? = nil
        j = skipBlanks(p, j, end)
        if j < end && p[j] != ASCII.newline {
            let timestampStart = j
            j = tokenEnd(p, j, end)
            guard let t = parseInt64(p, timestampStart, j) else {
                throw fail("invalid timestamp \(quoted(p, timestampStart, j))")
            }
            timestamp = t
            j = skipBlanks(p, j, end)
            if j < end && p[j] != ASCII.newline {
                throw fail("unexpected \(quoted(p, j, tokenEnd(p, j, end))) after timestamp")
            }
        }
        if j < end {
            j += 1  // the newline
            line += 1
        }
        position = j
        return ExposedSample(series: start..<seriesEnd, value: value, timestamp: timestamp)
    }

    /// Validates the label block whose `{` is at `open`; returns the index after its `}`.
    private mutating func labelBlock(_ p: Bytes, _ open: Int, _ end: Int) throws(ExpositionError) -> Int {
        labelNames.removeAll(keepingCapacity: true)
        var i = skipBlanks(p, open + 1, end)
        if i < end && p[i] == ASCII.braceClose { return i + 1 }
        while true {
            guard i < end && isLabelNameStart(p[i]) else {
                throw fail("expected label name, got \(describe(p, i, end))")
            }
            let nameStart = i
            i += 1
            while i < end && isLabelNameByte(p[i]) { i += 1 }
            try noteLabelName(p, nameStart, i)
            i = skipBlanks(p, i, end)
            guard i < end && p[i] == ASCII.equal else {
                throw fail("expected \"=\" after label name, got \(describe(p, i, end))")
            }
            i = skipBlanks(p, i + 1, end)
            guard i < end && p[i] == ASCII.quote else {
                if i < end && p[i] == ASCII.singleQuote {
                    throw fail("label values must be double-quoted, got \"'\"")
                }
                throw fail("expected label value, got \(describe(p, i, end))")
            }
            i = try labelValueEnd(p, i + 1, end, line: line, anyEscape: true).end
            i = skipBlanks(p, i, end)
            guard i < end else { throw fail("expected \",\" or \"}\" after label value, got end of input") }
            if p[i] == ASCII.braceClose { break }
            guard p[i] == ASCII.comma else {
                throw fail("expected \",\" or \"}\" after label value, got \(describe(p, i, end))")
            }
            i = skipBlanks(p, i + 1, end)
            if i < end && p[i] == ASCII.braceClose { break }  // trailing comma
        }
        if labelNames.count > 2 * Self.pairwiseLimit {
            try checkDuplicatesSorted(p)
        }
        return i + 1
    }

    /// Up to this many label names on a line, duplicates are found by pairwise comparison as
    /// the names are read; beyond it, by sorting once at the end of the block.
    static let pairwiseLimit = 32

    mutating func noteLabelName(_ p: Bytes, _ start: Int, _ end: Int) throws(ExpositionError) {
        if equals(p, start, end, "__name__") {
            throw fail("duplicate label name \"__name__\"")
        }
        let count = labelNames.count
        if count < 2 * Self.pairwiseLimit {
            var k = 0
            while k < count {
                if sameBytes(p, labelNames[k], labelNames[k + 1], start, end) {
                    throw fail("duplicate label name \(quoted(p, start, end))")
                }
                k += 2
            }
        }
        labelNames.append(start)
        labelNames.append(end)
    }

    func checkDuplicatesSorted(_ p: Bytes) throws(ExpositionError) {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(labelNames.count / 2)
        var k = 0
        while k < labelNames.count {
            ranges.append(labelNames[k]..<labelNames[k + 1])
            k += 2
        }
        ranges.sort { a, b in
            UnsafeBufferPointer(rebasing: p[a]).lexicographicallyPrecedes(UnsafeBufferPointer(rebasing: p[b]))
        }
        for n in 1..<ranges.count {
            let a = ranges[n - 1], b = ranges[n]
            if sameBytes(p, a.lowerBound, a.upperBound, b.lowerBound, b.upperBound) {
                throw fail("duplicate label name \(quoted(p, b.lowerBound, b.upperBound))")
            }
        }
    }
}

/// Scans a label value from `start` (just after the opening quote) to its closing quote,
/// checking escapes (only `\\`, `\"`, `\n`; with `anyEscape`, as in OpenMetrics, a backslash may
/// precede any byte but a newline) and UTF-8. With `allowNUL` false a NUL byte is an error.
/// Returns the index after the closing quote and whether the value holds escapes.
func labelValueEnd(
    _ p: Bytes, _ start: Int, _ end: Int, line: Int, anyEscape: Bool = false, allowNUL: Bool = true
) throws(ExpositionError) -> (end: Int, escaped: Bool) {
    var i = start
    var nonASCII = false
    var escaped = false
    while i < end {
        let c = p[i]
        if c == ASCII.quote {
            if nonASCII && !isValidUTF8(p, start, i) {
                throw ExpositionError(line: line, message: "invalid UTF-8 in label value")
            }
            return (i + 1, escaped)
        }
        if c == ASCII.backslash {
            guard i + 1 < end else { break }
            let e = p[i + 1]
            guard e == ASCII.backslash || e == ASCII.quote || e == ASCII.n || (anyEscape && e != ASCII.newline) else {
                if e == ASCII.newline { break }
                throw ExpositionError(line: line, message: "invalid escape sequence \(quoted(p, i, i + 2)) in label value")
            }
            escaped = true
            i += 2
            continue
        }
        if c == ASCII.newline { break }
        if c >= 0x80 { nonASCII = true }
        if c == ASCII.nul && !allowNUL {
            throw ExpositionError(line: line, message: "unexpected NUL byte in exemplar label value")
        }
        i += 1
    }
    throw ExpositionError(line: line, message: "unterminated label value")
}

// MARK: - Labels

extension TextParser {
    /// Builds the label set of the series text `series`, checking it again (it may come from
    /// anywhere).
    fileprivate func buildLabels(_ p: Bytes, _ series: Range<Int>) throws(ExpositionError) -> Labels {
        let end = series.upperBound
        guard series.lowerBound >= 0, end <= p.count, !series.isEmpty else {
            throw ExpositionError(line: 0, message: "series range \(series) is outside the body")
        }
        do {
            return try buildLabelsUnlocated(p, series)
        } catch {
            // The line number costs a scan from the start of the body: only for errors.
            throw ExpositionError(line: lineNumber(p, at: series.lowerBound), message: error.message)
        }
    }

    private func buildLabelsUnlocated(_ p: Bytes, _ series: Range<Int>) throws(ExpositionError) -> Labels {
        let end = series.upperBound
        var i = series.lowerBound
        let line = 0  // set by the caller
        func fail(_ message: String) -> ExpositionError { ExpositionError(line: line, message: message) }

        guard isMetricNameStart(p[i]) else { throw fail("expected metric name, got \(describe(p, i, end))") }
        i += 1
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        var pairs: [Label] = []
        pairs.append(Label("__name__", string(p, series.lowerBound, i)))
        i = skipBlanks(p, i, end)
        if i < end {
            guard p[i] == ASCII.braceOpen else { throw fail("unexpected \(describe(p, i, end)) in series") }
            i = skipBlanks(p, i + 1, end)
            while i < end && p[i] != ASCII.braceClose {
                guard isLabelNameStart(p[i]) else { throw fail("expected label name, got \(describe(p, i, end))") }
                let nameStart = i
                i += 1
                while i < end && isLabelNameByte(p[i]) { i += 1 }
                let name = string(p, nameStart, i)
                i = skipBlanks(p, i, end)
                guard i < end && p[i] == ASCII.equal else {
                    throw fail("expected \"=\" after label name, got \(describe(p, i, end))")
                }
                i = skipBlanks(p, i + 1, end)
                guard i < end && p[i] == ASCII.quote else {
                    throw fail("expected label value, got \(describe(p, i, end))")
                }
                let valueStart = i + 1
                let (valueEnd, escaped) = try labelValueEnd(p, valueStart, end, line: line, anyEscape: true)
                i = valueEnd
                let value = escaped
                    ? unescape(p, valueStart, valueEnd - 1, quotes: true, keepUnknown: true)
                    : string(p, valueStart, valueEnd - 1)
                pairs.append(Label(name, value))
                i = skipBlanks(p, i, end)
                if i < end && p[i] == ASCII.comma {
                    i = skipBlanks(p, i + 1, end)
                } else if i >= end || p[i] != ASCII.braceClose {
                    throw fail("expected \",\" or \"}\" after label value, got \(describe(p, i, end))")
                }
            }
            guard i == end - 1 else { throw fail("series range does not end at the end of its label block") }
        }
        if pairs.count > 1 {
            var names = pairs.map(\.name)
            names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for n in 1..<names.count where names[n] == names[n - 1] {
                throw fail("duplicate label name \"\(names[n])\"")
            }
        }
        return Labels(pairs)
    }

    func lineNumber(_ p: Bytes, at offset: Int) -> Int {
        var line = 1
        for k in 0..<offset where p[k] == ASCII.newline { line += 1 }
        return line
    }
}

@inline(__always)
func string(_ p: Bytes, _ start: Int, _ end: Int) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
}

/// `p[start..<end]` (a label value between its quotes, or HELP text) unescaped: `\\` and `\n`,
/// and `\"` when `quotes`. Another backslash is dropped (the text format's label values, whose
/// escapes were validated) or, with `keepUnknown`, kept with the byte after it, as Go's
/// `strings.Replacer` in Prometheus does (OpenMetrics label values, HELP texts).
func unescape(_ p: Bytes, _ start: Int, _ end: Int, quotes: Bool = true, keepUnknown: Bool = false) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(end - start)
    var i = start
    while i < end {
        let c = p[i]
        if c == ASCII.backslash && i + 1 < end {
            let e = p[i + 1]
            if e == ASCII.n {
                bytes.append(ASCII.newline)
            } else if e == ASCII.backslash || (quotes && e == ASCII.quote) || !keepUnknown {
                bytes.append(e)
            } else {
                bytes.append(c)  // unknown escape: keep the backslash, look at `e` afresh
                i += 1
                continue
            }
            i += 2
        } else {
            bytes.append(c)
            i += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Convenience for tests and tools: every sample of `body` with its labels.
public func parseTextFormat(_ body: [UInt8]) throws(ExpositionError) -> [(labels: Labels, value: Double, timestamp: Int64?)] {
    var parser = TextParser(body)
    var result: [(labels: Labels, value: Double, timestamp: Int64?)] = []
    while let sample = try parser.next() {
        result.append((try parser.labels(of: sample), sample.value, sample.timestamp))
    }
    return result
}
