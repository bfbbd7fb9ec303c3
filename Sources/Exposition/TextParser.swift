import Model

/// Parses the Prometheus text exposition format 0.0.4, or OpenMetrics 1.0 text, from a byte buffer.
///
/// ```swift
/// var parser = TextParser(body, format: .openMetrics)
/// while let sample = try parser.next() {
///     let labels = try parser.labels(of: sample)   // only when the series is new
/// }
/// ```
///
/// `next()` walks the bytes once, validates each line completely (label names and values,
/// escapes, UTF-8, duplicate label names, value, timestamp) and returns the sample with the
/// byte range of its series text; it creates no Strings and, in the common case, allocates
/// nothing. ``labels(of:into:)`` writes the label set of a sample into a reusable
/// ``LabelsBuilder`` when the caller needs it (``labels(of:)`` builds a ``Labels``).
///
/// A scrape cache that remembers the series texts it has seen uses the two halves of `next()`
/// instead: ``nextSeries()`` finds the next sample's series text without validating it, the
/// caller looks it up, and ``finishSample(seriesIsKnownValid:)`` validates it only when the
/// caller has not seen it before (a series text is valid or not by its bytes alone), then reads
/// the value, timestamp and exemplar, which are always checked.
///
/// The grammar, per line (lines end with `\n`; the last one may lack it):
/// - blank lines (spaces and tabs only) are skipped;
/// - `#` starts a comment; `# HELP name text` and `# TYPE name type` are checked (metric name,
///   UTF-8 help text, one of `counter`, `gauge`, `histogram`, `summary`, `untyped`);
/// - a sample is `name [{labels}] value [timestamp]`, tokens separated by runs of spaces or tabs;
///   metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`; label
///   values are double-quoted with the escapes `\\`, `\"` and `\n` only; blanks may surround `=`
///   and `,`; a trailing comma and an empty block `{}` are allowed; values are Go floats
///   (`NaN`, `+Inf`, `-Inf`, exponents); the timestamp is an integer in milliseconds;
/// - names outside those character sets are written quoted, as Prometheus 3 reads them (text
///   format 1.0.0, OpenMetrics): a label name as `"label.name"="v"`, a metric name inside the
///   label block, `{"my.metric", a="v"} 1`: a quoted string followed by `,` or `}` instead of
///   `=`, anywhere in the block; HELP, TYPE and UNIT lines quote the name too
///   (`# TYPE "my.metric" counter`). Quoted names take the escapes label values take, must be
///   non-empty, well-formed UTF-8 and on one line. Which names a scrape then accepts is the
///   scrape config's `metric_name_validation_scheme`, checked after relabeling, not here.
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
    /// Where the parser is, what it has read, and the line parsing itself.
    var state: ParserState
    /// The error thrown by `next()`, rethrown by every later call.
    private var failure: ExpositionError?

    /// The format rules `next()` applies.
    public var format: ExpositionFormat { state.format }

    /// A parser for `body` in the Prometheus text format 0.0.4.
    public init(_ body: [UInt8]) {
        self.init(body, format: .prometheusText)
    }

    /// A parser for `body` in `format`.
    public init(_ body: [UInt8], format: ExpositionFormat) {
        self.body = body
        self.state = ParserState(format: format)
    }

    /// A parser for `body` in `format` that does not validate again the text format's HELP and
    /// TYPE lines in `knownMetadataLines` (lines it validated in earlier bodies), and adds those
    /// it validates; ``takeKnownMetadataLines()`` gives the table back.
    public init(_ body: [UInt8], format: ExpositionFormat, knownMetadataLines: KnownMetadataLines) {
        self.init(body, format: format)
        state.knownLines = knownMetadataLines
    }

    /// The table of known metadata lines given at init, with the lines validated since added
    /// (bounded, see ``KnownMetadataLines``); the parser keeps an empty one.
    public mutating func takeKnownMetadataLines() -> KnownMetadataLines {
        var lines = state.knownLines ?? KnownMetadataLines()
        state.knownLines = nil
        lines.bound(linesInLastBody: state.metadataLinesRead)
        return lines
    }

    /// Runs `work` on the body's bytes and the state. `body` is borrowed and `state` modified
    /// at once: two different stored properties of `self`, so neither is copied (a copy of
    /// `body` would cost a retain and a release per call).
    @inline(__always)
    private static func scanning<R>(
        _ body: [UInt8], _ state: inout ParserState, _ work: (Bytes, inout ParserState) throws(ExpositionError) -> R
    ) throws(ExpositionError) -> R {
        try body.withUnsafeBufferPointer { (p) throws(ExpositionError) -> R in try work(p, &state) }
    }

    /// The next sample, nil at the end. Comment lines, HELP, TYPE and UNIT lines, blank lines
    /// and `# EOF` are consumed. O(length of the lines consumed); allocates nothing in the common
    /// case (metadata lines append a few offsets to an array).
    public mutating func next() throws(ExpositionError) -> ExposedSample? {
        if let failure { throw failure }
        do {
            return try Self.scanning(body, &state) { (p, state) throws(ExpositionError) -> ExposedSample? in
                guard try state.nextSeries(p) != nil else { return nil }
                return try state.finishSample(p, seriesIsKnownValid: false)
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// The first half of ``next()``: consumes comment, metadata and blank lines up to the next
    /// sample line and returns the byte range of its series text (as ``ExposedSample/series``),
    /// nil at the end. The series text is delimited (quotes and escapes respected) but not
    /// validated unless it is malformed enough not to be delimited. Returns the same range again
    /// until ``finishSample(seriesIsKnownValid:)`` is called.
    public mutating func nextSeries() throws(ExpositionError) -> Range<Int>? {
        if let failure { throw failure }
        do {
            return try Self.scanning(body, &state) { (p, state) throws(ExpositionError) -> Range<Int>? in
                try state.nextSeries(p)
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// The second half of ``next()``: validates the series text ``nextSeries()`` returned,
    /// unless `seriesIsKnownValid` (the caller saw the same bytes validated before, in the same
    /// format), then parses the rest of the line (value, timestamp, exemplar: always checked)
    /// and moves to the next line.
    ///
    /// - Precondition: ``nextSeries()`` returned a range since the last call.
    public mutating func finishSample(seriesIsKnownValid: Bool) throws(ExpositionError) -> ExposedSample {
        if let failure { throw failure }
        do {
            return try Self.scanning(body, &state) { (p, state) throws(ExpositionError) -> ExposedSample in
                try state.finishSample(p, seriesIsKnownValid: seriesIsKnownValid)
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// The sample's labels: `__name__` plus the label block, names and values unescaped, empty values
    /// dropped, sorted by name. Throws for duplicate label names, or when `sample.series` is not
    /// the range of a series in this parser's body.
    public func labels(of sample: ExposedSample) throws(ExpositionError) -> Labels {
        var builder = LabelsBuilder()
        try labels(of: sample, into: &builder)
        return builder.build()
    }

    /// Appends the sample's labels to `builder`: `__name__` first, then the label block in the
    /// order written, values unescaped straight into the builder, empty values included (the
    /// builder's ``LabelsBuilder/build()`` drops them). Nothing is appended when it throws (for
    /// duplicate label names, or when `sample.series` is not the range of a series in this
    /// parser's body). The series text `next()` validated last is not checked again.
    public func labels(of sample: ExposedSample, into builder: inout LabelsBuilder) throws(ExpositionError) {
        let trusted = state.validatedSeries == sample.series
        try body.withUnsafeBufferPointer { (p) throws(ExpositionError) in
            try appendSeriesLabels(p, sample.series, format: state.format, trusted: trusted, into: &builder)
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
        body.withUnsafeBufferPointer { p in state.buildMetadata(p) }
    }

    /// A 64-bit hash of the HELP, TYPE and UNIT lines read so far (their families, types, texts
    /// and order): equal fingerprints mean equal ``metadata`` (barring a hash collision), so a
    /// caller can skip building it when the fingerprint did not change. Not stable across
    /// versions of the agent; never persisted.
    public var metadataFingerprint: UInt64 {
        body.withUnsafeBytes { p in state.metadataFingerprint(p) }
    }

    /// The metric type declared by the last `# TYPE` line read so far, if that line names this
    /// sample's metric family: the metric name itself or, for histograms, the name with
    /// `_bucket`, `_sum` or `_count`, and for summaries with `_sum` or `_count`. Meant for the
    /// sample just returned by `next()`; nil when there is no such declaration.
    public func type(of sample: ExposedSample) -> MetricType? {
        guard let typedName = state.typedName, let typedAs = state.typedAs, typedName.upperBound <= sample.series.lowerBound,
              sample.series.upperBound <= body.count, !sample.series.isEmpty else { return nil }
        return body.withUnsafeBufferPointer { p -> MetricType? in
            let name = metricNameRange(p, sample.series)
            let (start, end) = (name.lowerBound, name.upperBound)
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
}

/// The sample line ``ParserState/nextSeries(_:)`` found, until ``ParserState/finishSample(_:seriesIsKnownValid:)``.
struct PendingSeries: Sendable {
    var start: Int
    var end: Int
    /// The series text was validated already (it was too malformed to delimit without).
    var validated: Bool
}

/// Everything a ``TextParser`` changes while it reads: where it is, the metadata lines read so
/// far, and the sample line in progress. Its methods take the body's bytes.
struct ParserState: Sendable {
    let format: ExpositionFormat
    /// Index of the first byte not yet consumed: the start of a line, or of the sample line in
    /// progress (``pending``).
    var position = 0
    /// 1-based number of the line starting at `position`.
    var line = 1
    /// Start and end offsets of the label names of the line being validated (reused storage).
    var labelNames: [Int] = []
    /// Whether a quoted label name of the line being validated holds an escape (its bytes then
    /// differ from the name's: duplicates are looked for again, unescaped).
    var escapedLabelName = false
    /// The metric name of the last `# TYPE` line, and its type.
    var typedName: Range<Int>?
    var typedAs: MetricType?
    /// OpenMetrics: whether `# EOF` has been read.
    var reachedEOF = false
    /// HELP/TYPE/UNIT lines read so far, by family, as byte ranges (see ``buildMetadata(_:)``).
    var metadataEntries: [MetadataEntry] = []
    /// The sample line whose series text ``nextSeries(_:)`` returned.
    var pending: PendingSeries?
    /// The series text validated last: ``TextParser/labels(of:into:)`` does not check it again.
    var validatedSeries: Range<Int>?
    /// Text-format HELP and TYPE lines validated before (nil: validate every line).
    var knownLines: KnownMetadataLines?
    /// HELP and TYPE lines read (text format).
    var metadataLinesRead = 0

    init(format: ExpositionFormat) {
        self.format = format
    }

    func fail(_ message: String) -> ExpositionError {
        ExpositionError(line: line, message: message)
    }

    // MARK: - Samples

    mutating func nextSeries(_ p: Bytes) throws(ExpositionError) -> Range<Int>? {
        if let pending { return pending.start..<pending.end }
        let start: Int?
        switch format {
        case .prometheusText: start = try skipToSample(p)
        case .openMetrics: start = try skipToSampleOpenMetrics(p)
        }
        guard let start else { return nil }
        let delimited: Int?
        switch format {
        case .prometheusText: delimited = delimitTextSeries(p, start, p.count)
        case .openMetrics: delimited = delimitOpenMetricsSeries(p, start, p.count)
        }
        if let end = delimited {
            pending = PendingSeries(start: start, end: end, validated: false)
            return start..<end
        }
        let end = try validateSeries(p, start)
        pending = PendingSeries(start: start, end: end, validated: true)
        return start..<end
    }

    mutating func finishSample(_ p: Bytes, seriesIsKnownValid: Bool) throws(ExpositionError) -> ExposedSample {
        guard let pending else { preconditionFailure("finishSample(seriesIsKnownValid:) without a series from nextSeries()") }
        var end = pending.end
        if !pending.validated && !seriesIsKnownValid {
            // Where validation ends elsewhere than delimiting, the rest of the line is rejected.
            end = try validateSeries(p, pending.start)
        }
        self.pending = nil
        let sample: ExposedSample
        switch format {
        case .prometheusText: sample = try sampleRest(p, pending.start, end)
        case .openMetrics: sample = try openMetricsSampleRest(p, pending.start, end)
        }
        // A valid line's series text is delimited as validation reads it: what a scrape cache keys on.
        assert(end == pending.end, "delimited \(pending.start)..<\(pending.end), validated up to \(end)")
        return sample
    }

    /// Validates the series text starting at `start` completely; returns its end.
    private mutating func validateSeries(_ p: Bytes, _ start: Int) throws(ExpositionError) -> Int {
        let end: Int
        switch format {
        case .prometheusText: end = try validateTextSeries(p, start, p.count)
        case .openMetrics: end = try validateOpenMetricsSeries(p, start, p.count)
        }
        validatedSeries = start..<end
        return end
    }

    // MARK: - Lines

    /// Consumes blank, comment and metadata lines; returns the index of the first byte of the
    /// next sample line (its first non-blank), nil at the end.
    private mutating func skipToSample(_ p: Bytes) throws(ExpositionError) -> Int? {
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
            position = i
            return i
        }
        position = end
        return nil
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
                metadataLinesRead += 1
                guard knownLines != nil else {
                    return try metadata(p, skipBlanks(p, keywordEnd, end), end, isHelp: isHelp, lineStart: nil)
                }
                let lineEnd = firstNewline(p, keywordEnd, end)
                guard lineEnd < end else {
                    return try metadata(p, skipBlanks(p, keywordEnd, end), end, isHelp: isHelp, lineStart: nil)
                }
                let key = knownLines!.key(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[hash..<lineEnd]))
                guard let shape = knownLines!.shape(key) else {
                    return try metadata(p, skipBlanks(p, keywordEnd, end), end, isHelp: isHelp, lineStart: (hash, key))
                }
                // Seen validated before: what it declares, without checking it again.
                let name = (hash + Int(shape.nameStart))..<(hash + Int(shape.nameEnd))
                if let type = shape.type {
                    typedName = name
                    typedAs = type
                    noteMetadata(p, name, type: type)
                } else {
                    noteMetadata(p, name, help: (hash + Int(shape.textStart))..<(hash + Int(shape.textEnd)))
                }
                line += 1
                return lineEnd + 1
            }
        }
        // A plain comment: anything but NUL up to the end of the line.
        let (lineEnd, _) = scanText(p, i, end)
        if lineEnd < end && p[lineEnd] == ASCII.nul { throw fail("unexpected NUL byte in comment") }
        if lineEnd < end {
            line += 1
            return lineEnd + 1
        }
        return end
    }

    /// Consumes the rest of a `# HELP` or `# TYPE` line from the metric name at `i`. With
    /// `lineStart` (the line's `#` and its key in ``knownLines``), a line that validates and
    /// ends with a newline is entered there.
    private mutating func metadata(
        _ p: Bytes, _ i: Int, _ end: Int, isHelp: Bool, lineStart: (hash: Int, key: KnownMetadataLines.Key)?
    ) throws(ExpositionError) -> Int {
        let keyword = isHelp ? "HELP" : "TYPE"
        var (nameStart, nameEnd, i) = try metadataName(p, i, end, keyword: keyword)
        if i < end && !isBlank(p[i]) && p[i] != ASCII.newline {
            throw fail("invalid metric name in \(keyword) line: \(quoted(p, nameStart, tokenEnd(p, nameStart, end)))")
        }
        i = skipBlanks(p, i, end)
        let textStart = i
        let (textEnd, nonASCII) = scanText(p, i, end)
        if textEnd < end && p[textEnd] == ASCII.nul { throw fail("unexpected NUL byte in \(keyword) line") }
        i = textEnd
        if isHelp {
            if nonASCII && !isValidUTF8(p, textStart, textEnd) { throw fail("invalid UTF-8 in HELP text") }
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
        if let lineStart, i < end, i - lineStart.hash < Int(Int32.max) {
            let o = lineStart.hash
            knownLines!.insert(
                lineStart.key,
                KnownMetadataLines.Shape(
                    nameStart: Int32(nameStart - o), nameEnd: Int32(nameEnd - o), textStart: Int32(textStart - o),
                    textEnd: Int32(textEnd - o), type: isHelp ? nil : typedAs))
        }
        if i < end {
            line += 1
            return i + 1
        }
        return end
    }

    /// Validates the series text (metric name and optional label block, or a label block
    /// holding the quoted metric name) starting at `start`; returns its end.
    private mutating func validateTextSeries(_ p: Bytes, _ start: Int, _ end: Int) throws(ExpositionError) -> Int {
        var i = start
        guard isMetricNameStart(p[i]) else {
            if p[i] == ASCII.braceOpen { return try labelBlock(p, i, end, named: false) }
            if p[i] == ASCII.carriageReturn { throw fail("unexpected carriage return") }
            throw fail("expected metric name, got \(describe(p, i, end))")
        }
        i += 1
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        let j = skipBlanks(p, i, end)
        if j < end && p[j] == ASCII.braceOpen {
            return try labelBlock(p, j, end, named: true)
        }
        return i
    }

    /// Parses the rest of the sample line whose (valid) series text is `p[start..<seriesEnd]`,
    /// leaves `position` at the start of the next line.
    private mutating func sampleRest(_ p: Bytes, _ start: Int, _ seriesEnd: Int) throws(ExpositionError) -> ExposedSample {
        let end = p.count
        var j = skipBlanks(p, seriesEnd, end)
        // A metric name without label block must be followed by a blank (names hold no `}`).
        if j == seriesEnd && p[seriesEnd - 1] != ASCII.braceClose {
            if j >= end || p[j] == ASCII.newline {
                throw fail("expected value after metric name, got \(describe(p, j, end))")
            }
            if p[j] == ASCII.carriageReturn { throw fail("unexpected carriage return") }
            throw fail("unexpected \(describe(p, j, end)) in metric name")
        }

        // Value: a plain decimal is read in the same pass that finds its end.
        let valueStart = j
        let value: Double
        if let (plain, stop) = plainDecimalPrefix(p, j, end), stop == end || isBlank(p[stop]) || p[stop] == ASCII.newline {
            value = plain
            j = stop
        } else {
            j = tokenEnd(p, j, end)
            if j == valueStart {
                throw fail("expected value, got \(describe(p, j, end))")
            }
            guard let parsed = parseFloatValue(p, valueStart, j) else {
                throw fail("invalid value \(quoted(p, valueStart, j))")
            }
            value = parsed
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
    /// `named`: a metric name precedes the block, so the block may not hold a quoted one; else
    /// it must.
    private mutating func labelBlock(_ p: Bytes, _ open: Int, _ end: Int, named: Bool) throws(ExpositionError) -> Int {
        labelNames.removeAll(keepingCapacity: true)
        escapedLabelName = false
        var hasName = named
        var i = skipBlanks(p, open + 1, end)
        if i < end && p[i] == ASCII.braceClose {
            if !hasName { throw metricNameNotSet(p, open, i + 1) }
            return i + 1
        }
        while true {
            if i < end && isLabelNameStart(p[i]) {
                let nameStart = i
                i += 1
                while i < end && isLabelNameByte(p[i]) { i += 1 }
                try noteLabelName(p, nameStart, i)
            } else if i < end && p[i] == ASCII.quote {
                let (nameStart, nameEnd, escaped) = try quotedName(p, i, end)
                i = skipBlanks(p, nameEnd + 1, end)
                if i < end && (p[i] == ASCII.comma || p[i] == ASCII.braceClose) {
                    // `{"my.metric", ...}`: the metric name.
                    if hasName { throw fail("metric name already set, got another: \(quoted(p, nameStart - 1, nameEnd + 1))") }
                    hasName = true
                    if p[i] == ASCII.braceClose { break }
                    i = skipBlanks(p, i + 1, end)
                    if i < end && p[i] == ASCII.braceClose { break }  // trailing comma
                    continue
                }
                if escaped { escapedLabelName = true }
                try noteLabelName(p, nameStart, nameEnd)
            } else {
                throw fail("expected label name, got \(describe(p, i, end))")
            }
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
        if !hasName { throw metricNameNotSet(p, open, i + 1) }
        if labelNames.count > 2 * Self.pairwiseLimit || escapedLabelName {
            try checkDuplicatesSorted(p)
        }
        return i + 1
    }

    /// The quoted name whose opening quote is at `quote` (a label name, or a metric name in a
    /// label block): the range of its bytes between the quotes, whether it holds escapes.
    /// Throws when it is unterminated on its line, empty, malformed UTF-8 or has an escape the
    /// format does not allow.
    func quotedName(_ p: Bytes, _ quote: Int, _ end: Int) throws(ExpositionError) -> (start: Int, end: Int, escaped: Bool) {
        let (after, escaped) = try labelValueEnd(p, quote + 1, end, line: line, anyEscape: true, what: "quoted name")
        guard after - 1 > quote + 1 else { throw fail("empty quoted name") }
        return (quote + 1, after - 1, escaped)
    }

    /// The metric name of a HELP, TYPE or UNIT line at `i`, quoted or bare: the range of its bytes
    /// (between the quotes, not unescaped) and the index after it.
    func metadataName(_ p: Bytes, _ i: Int, _ end: Int, keyword: some CustomStringConvertible) throws(ExpositionError)
        -> (start: Int, end: Int, next: Int)
    {
        if i < end && p[i] == ASCII.quote {
            let (start, nameEnd) = try quotedMetadataName(p, i, end)
            return (start, nameEnd, nameEnd + 1)
        }
        guard i < end && isMetricNameStart(p[i]) else {
            throw fail("expected metric name after \(keyword), got \(describe(p, i, end))")
        }
        var next = i + 1
        while next < end && isMetricNameByte(p[next]) { next += 1 }
        return (i, next, next)
    }

    /// The quoted metric name of a HELP, TYPE or UNIT line whose opening quote is at `quote`: the
    /// range of its bytes between the quotes (not unescaped, as Prometheus reports it).
    func quotedMetadataName(_ p: Bytes, _ quote: Int, _ end: Int) throws(ExpositionError) -> (start: Int, end: Int) {
        let (start, nameEnd, _) = try quotedName(p, quote, end)
        return (start, nameEnd)
    }

    func metricNameNotSet(_ p: Bytes, _ start: Int, _ end: Int) -> ExpositionError {
        fail("metric name not set in \(quoted(p, start, end)) (a line starting with \"{\" names its metric with a quoted string in the block)")
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
        if let duplicate = firstDuplicateName(p, labelNames) {
            throw fail("duplicate label name \(quoted(p, duplicate.lowerBound, duplicate.upperBound))")
        }
        // Quoted names with escapes: two different spellings of one name (`"a\\q"`, `"a\q"`).
        guard escapedLabelName else { return }
        var seen = Set<String>()
        var k = 0
        while k < labelNames.count {
            let name = unescape(p, labelNames[k], labelNames[k + 1], keepUnknown: true)
            guard seen.insert(name).inserted else { throw fail("duplicate label name \"\(name)\"") }
            k += 2
        }
    }
}

/// The first label name that appears twice among `names` (start and end offsets, in pairs),
/// found by sorting; nil when all differ.
func firstDuplicateName(_ p: Bytes, _ names: [Int]) -> Range<Int>? {
    var ranges: [Range<Int>] = []
    ranges.reserveCapacity(names.count / 2)
    var k = 0
    while k < names.count {
        ranges.append(names[k]..<names[k + 1])
        k += 2
    }
    ranges.sort { a, b in
        UnsafeBufferPointer(rebasing: p[a]).lexicographicallyPrecedes(UnsafeBufferPointer(rebasing: p[b]))
    }
    for n in 1..<max(1, ranges.count) {
        let a = ranges[n - 1], b = ranges[n]
        if sameBytes(p, a.lowerBound, a.upperBound, b.lowerBound, b.upperBound) { return b }
    }
    return nil
}

/// Scans a label value (or, as `what` says, a quoted name) from `start` (just after the opening
/// quote) to its closing quote, checking escapes (only `\\`, `\"`, `\n`; with `anyEscape`, as in
/// OpenMetrics, a backslash may precede any byte but a newline) and UTF-8. With `allowNUL` false
/// a NUL byte is an error. Returns the index after the closing quote and whether the value holds
/// escapes.
func labelValueEnd(
    _ p: Bytes, _ start: Int, _ end: Int, line: Int, anyEscape: Bool = false, allowNUL: Bool = true,
    what: StaticString = "label value"
) throws(ExpositionError) -> (end: Int, escaped: Bool) {
    var i = start
    var nonASCII = false
    var escaped = false
    while i < end {
        let c = p[i]
        if c == ASCII.quote {
            if nonASCII && !isValidUTF8(p, start, i) {
                throw ExpositionError(line: line, message: "invalid UTF-8 in \(what)")
            }
            return (i + 1, escaped)
        }
        if c == ASCII.backslash {
            guard i + 1 < end else { break }
            let e = p[i + 1]
            guard e == ASCII.backslash || e == ASCII.quote || e == ASCII.n || (anyEscape && e != ASCII.newline) else {
                if e == ASCII.newline { break }
                throw ExpositionError(line: line, message: "invalid escape sequence \(quoted(p, i, i + 2)) in \(what)")
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
    throw ExpositionError(line: line, message: "unterminated \(what)")
}

func lineNumber(_ p: Bytes, at offset: Int) -> Int {
    var line = 1
    for k in 0..<offset where p[k] == ASCII.newline { line += 1 }
    return line
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
    forEachUnescapedRun(p, start, end, quotes: quotes, keepUnknown: keepUnknown) { run in bytes.append(contentsOf: run) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Calls `body` with the pieces of `p[start..<end]` unescaped (see ``unescape(_:_:_:quotes:keepUnknown:)``):
/// runs of the input between escapes, and the byte each escape stands for.
@inline(__always)
func forEachUnescapedRun(
    _ p: Bytes, _ start: Int, _ end: Int, quotes: Bool, keepUnknown: Bool, _ body: (UnsafeRawBufferPointer) -> Void
) {
    let raw = UnsafeRawBufferPointer(p)
    var runStart = start
    var i = start
    while i < end {
        guard p[i] == ASCII.backslash, i + 1 < end else {
            i += 1
            continue
        }
        let e = p[i + 1]
        if e == ASCII.n || e == ASCII.backslash || (quotes && e == ASCII.quote) || !keepUnknown {
            if i > runStart { body(UnsafeRawBufferPointer(rebasing: raw[runStart..<i])) }
            var byte = e == ASCII.n ? ASCII.newline : e
            withUnsafeBytes(of: &byte) { body($0) }
            i += 2
            runStart = i
        } else {
            i += 1  // unknown escape: the backslash stays, the byte after it is looked at afresh
        }
    }
    if end > runStart { body(UnsafeRawBufferPointer(rebasing: raw[runStart..<end])) }
}

/// Convenience for tests and tools: every sample of `body` with its labels.
public func parseTextFormat(_ body: [UInt8]) throws(ExpositionError) -> [(labels: Labels, value: Double, timestamp: Int64?)] {
    var parser = TextParser(body)
    var result: [(labels: Labels, value: Double, timestamp: Int64?)] = []
    var builder = LabelsBuilder()
    while let sample = try parser.next() {
        builder.reset()
        try parser.labels(of: sample, into: &builder)
        result.append((builder.build(), sample.value, sample.timestamp))
    }
    return result
}
