import Model

// OpenMetrics 1.0 text, as Prometheus 2.42's OpenMetrics parser (model/textparse,
// openmetricslex.l + openmetricsparse.go) accepts it. The grammar, per line, every line ending
// with `\n`:
//
//     # HELP name text        one space each; text to the end of the line, may be empty,
//                             escapes \\ \" \n (others kept as written), valid UTF-8
//     # TYPE name type        counter gauge histogram gaugehistogram summary info stateset unknown
//     # UNIT name unit        unit empty, or a suffix of name preceded by "_"
//     name[{labels}] value[ timestamp][ # {labels} value[ timestamp]]
//     # EOF                   the last line; its "\n" is optional; nothing may follow
//
// Names outside the legacy character sets are quoted, as Prometheus 3 reads them: `"name"`
// after HELP/TYPE/UNIT, `"label.name"="v"` in label blocks (exemplars' too), and the metric name
// as a quoted string followed by `,` or `}` inside the series' label block
// (`{"my.metric",a="v"} 1`), which then starts the line.
//
// Differences from the text format 0.0.4, all as in Prometheus: separators are exactly one
// space (no tabs, no runs, nothing leading or trailing); no blank lines and no other comments;
// no blanks inside label blocks and no trailing comma; a label value may hold any `\x` escape
// (only \\, \" and \n are unescaped; others are kept verbatim); timestamps are seconds as a
// float (`1520879607.789`), stored as `int64(seconds * 1000)` (truncated toward zero); an
// exemplar is allowed only on a series whose name ends in `_total` or `_bucket`. Like Prometheus,
// the parser does not check that samples match their family's declared type or suffixes.

/// HELP/TYPE/UNIT seen for one metric family, as byte ranges into the body.
struct MetadataEntry: Sendable {
    var name: Range<Int>
    var type: MetricType?
    var help: Range<Int>?
    var unit: Range<Int>?
}

extension ParserState {
    // MARK: - Lines

    /// Consumes metadata lines and `# EOF`; returns the index of the next sample line, nil at
    /// the end.
    mutating func skipToSampleOpenMetrics(_ p: Bytes) throws(ExpositionError) -> Int? {
        let end = p.count
        var i = position
        while !reachedEOF {
            guard i < end else { throw fail("data does not end with # EOF") }
            if p[i] == ASCII.hash {
                i = try openMetricsComment(p, i, end)
                position = i
                continue
            }
            return i
        }
        position = end
        return nil
    }

    /// Consumes a `# HELP`, `# TYPE`, `# UNIT` or `# EOF` line whose `#` is at `hash`; returns the
    /// start of the next line.
    private mutating func openMetricsComment(_ p: Bytes, _ hash: Int, _ end: Int) throws(ExpositionError) -> Int {
        let k = hash + 2  // the keyword, after "# "
        guard k <= end, p[hash + 1] == ASCII.space else { throw badComment(p, hash, end) }
        if equals(p, k, min(k + 3, end), "EOF") {
            var j = k + 3
            if j < end && p[j] == ASCII.newline {
                j += 1
                if j < end { line += 1 }
            }
            if j < end { throw fail("unexpected data after # EOF") }
            reachedEOF = true
            return end
        }
        guard k + 5 <= end, p[k + 4] == ASCII.space else { throw badComment(p, hash, end) }
        let keyword: StaticString
        if equals(p, k, k + 4, "HELP") {
            keyword = "HELP"
        } else if equals(p, k, k + 4, "TYPE") {
            keyword = "TYPE"
        } else if equals(p, k, k + 4, "UNIT") {
            keyword = "UNIT"
        } else {
            throw badComment(p, hash, end)
        }
        var (nameStart, nameEnd, i) = try metadataName(p, k + 5, end, keyword: keyword)
        guard i < end && p[i] == ASCII.space else {
            if i < end && p[i] != ASCII.newline {
                throw fail("invalid metric name in \(keyword) line: \(quoted(p, nameStart, spaceOrNewline(p, nameStart, end)))")
            }
            throw fail("expected text in \(keyword) line, got \(describe(p, i, end))")
        }
        let textStart = i + 1
        i = textStart
        while i < end && p[i] != ASCII.newline { i += 1 }
        guard i < end else { throw fail("data does not end with # EOF") }
        let textEnd = i
        switch keyword.utf8Start[0] {
        case UInt8(ascii: "H"):
            guard isValidUTF8(p, textStart, textEnd) else { throw fail("invalid UTF-8 in HELP text") }
            noteMetadata(p, nameStart..<nameEnd, help: textStart..<textEnd)
        case UInt8(ascii: "T"):
            guard let type = openMetricsType(p, textStart, textEnd) else {
                throw fail("invalid metric type \(quoted(p, textStart, textEnd))")
            }
            typedName = nameStart..<nameEnd
            typedAs = type
            noteMetadata(p, nameStart..<nameEnd, type: type)
        default:
            let n = textEnd - textStart
            if n > 0 {
                let suffixStart = nameEnd - n
                guard nameEnd - nameStart >= n + 1, p[suffixStart - 1] == ASCII.underscore,
                      sameBytes(p, suffixStart, nameEnd, textStart, textEnd) else {
                    throw fail("unit \(quoted(p, textStart, textEnd)) is not a suffix of metric \(quoted(p, nameStart, nameEnd))")
                }
            }
            noteMetadata(p, nameStart..<nameEnd, unit: textStart..<textEnd)
        }
        line += 1
        return i + 1
    }

    private func badComment(_ p: Bytes, _ hash: Int, _ end: Int) -> ExpositionError {
        var lineEnd = hash
        while lineEnd < end && p[lineEnd] != ASCII.newline { lineEnd += 1 }
        return fail("expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\" (OpenMetrics has no other comments), got \(quoted(p, hash, lineEnd))")
    }

    private func openMetricsType(_ p: Bytes, _ start: Int, _ end: Int) -> MetricType? {
        if equals(p, start, end, "counter") { return .counter }
        if equals(p, start, end, "gauge") { return .gauge }
        if equals(p, start, end, "histogram") { return .histogram }
        if equals(p, start, end, "gaugehistogram") { return .gaugeHistogram }
        if equals(p, start, end, "summary") { return .summary }
        if equals(p, start, end, "info") { return .info }
        if equals(p, start, end, "stateset") { return .stateset }
        if equals(p, start, end, "unknown") { return .unknown }
        return nil
    }

    /// Validates the series text (metric name and optional label block, or a label block
    /// holding the quoted metric name) starting at `start`; returns its end.
    mutating func validateOpenMetricsSeries(_ p: Bytes, _ start: Int, _ end: Int) throws(ExpositionError) -> Int {
        var i = start
        guard isMetricNameStart(p[i]) else {
            if p[i] == ASCII.braceOpen { return try openMetricsLabelBlock(p, i, end, exemplar: false, named: false) }
            if p[i] == ASCII.newline { throw fail("unexpected blank line (not allowed in OpenMetrics)") }
            throw fail("expected metric name, got \(describe(p, i, end))")
        }
        i += 1
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        if i < end && p[i] == ASCII.braceOpen {
            return try openMetricsLabelBlock(p, i, end, exemplar: false, named: true)
        }
        return i
    }

    /// Parses the rest of the sample line whose (valid) series text is `p[start..<seriesEnd]`;
    /// leaves `position` at the start of the next line.
    mutating func openMetricsSampleRest(_ p: Bytes, _ start: Int, _ seriesEnd: Int) throws(ExpositionError) -> ExposedSample {
        let end = p.count
        var i = seriesEnd
        // Without a label block (names hold no `}`), the name is followed by the value's space.
        if p[seriesEnd - 1] != ASCII.braceClose && i < end && p[i] != ASCII.space && p[i] != ASCII.newline {
            throw fail("expected \" \" or \"{\" after metric name, got \(describe(p, i, end))")
        }

        // " value"
        let (value, valueEnd) = try spaceAndNumber(p, i, end, what: "value")
        i = valueEnd

        // [" timestamp"] [" # {exemplar}"] "\n"
        var timestamp: Int64? = nil
        var exemplar: Range<Int>? = nil
        if let next = try lineEndOrSpace(p, i, end) {
            if isExemplarStart(p, next, end) {
                exemplar = try openMetricsExemplar(p, start..<seriesEnd, next + 3, end)
                i = exemplar!.upperBound
            } else {
                let (t, tEnd) = try spaceAndNumber(p, i, end, what: "timestamp")
                guard t.isFinite else { throw fail("invalid timestamp \(quoted(p, i + 1, tEnd))") }
                timestamp = millisecondsFromSeconds(t)
                i = tEnd
                if let next = try lineEndOrSpace(p, i, end) {
                    guard isExemplarStart(p, next, end) else {
                        throw fail("expected end of line or exemplar after timestamp, got \(quoted(p, next, spaceOrNewline(p, next + 1, end)))")
                    }
                    exemplar = try openMetricsExemplar(p, start..<seriesEnd, next + 3, end)
                    i = exemplar!.upperBound
                }
            }
        }
        if exemplar != nil {
            guard i < end else { throw fail("data does not end with # EOF") }
            guard p[i] == ASCII.newline else {
                throw fail("expected end of line after exemplar, got \(quoted(p, i, spaceOrNewline(p, i + 1, end)))")
            }
        }
        // `i` is at the newline.
        line += 1
        position = i + 1
        return ExposedSample(series: start..<seriesEnd, value: value, timestamp: timestamp, exemplar: exemplar)
    }

    /// At `i`, after a token: returns nil at a newline; the index of the space when a space
    /// follows; throws at the end of input or on anything else.
    private func lineEndOrSpace(_ p: Bytes, _ i: Int, _ end: Int) throws(ExpositionError) -> Int? {
        guard i < end else { throw fail("data does not end with # EOF") }
        if p[i] == ASCII.newline { return nil }
        return i  // spaceOrNewline stopped here, so it is a space
    }

    /// Whether `" # {"` starts at `i`.
    @inline(__always)
    private func isExemplarStart(_ p: Bytes, _ i: Int, _ end: Int) -> Bool {
        i + 3 < end && p[i + 1] == ASCII.hash && p[i + 2] == ASCII.space && p[i + 3] == ASCII.braceOpen
    }

    /// Parses `" " number` at `i`: exactly one space, then a token up to a space or newline,
    /// which must be a Go float. Returns the number and the end of its token.
    private func spaceAndNumber(_ p: Bytes, _ i: Int, _ end: Int, what: StaticString) throws(ExpositionError) -> (Double, Int) {
        guard i < end && p[i] == ASCII.space else {
            throw fail("expected \" \" and \(what), got \(describe(p, i, end))")
        }
        let start = i + 1
        guard start < end && p[start] != ASCII.space && p[start] != ASCII.newline else {
            throw fail("expected \(what), got \(describe(p, start, end))")
        }
        let tokenEnd = spaceOrNewline(p, start, end)
        guard let value = parseFloatValue(p, start, tokenEnd) else {
            throw fail("invalid \(what) \(quoted(p, start, tokenEnd))")
        }
        return (value, tokenEnd)
    }

    /// Validates the exemplar whose `{` is at `open`, after the sample whose series text is
    /// `p[series]`; returns its range (from `{` to the end of its last token).
    private mutating func openMetricsExemplar(_ p: Bytes, _ series: Range<Int>, _ open: Int, _ end: Int) throws(ExpositionError) -> Range<Int> {
        let name = metricNameRange(p, series)
        let (nameStart, nameEnd) = (name.lowerBound, name.upperBound)
        let n = nameEnd - nameStart
        guard n >= 6 && equals(p, nameEnd - 6, nameEnd, "_total")
                || n >= 7 && equals(p, nameEnd - 7, nameEnd, "_bucket") else {
            throw fail("metric name \(quoted(p, nameStart, nameEnd)) does not support exemplars (only _total and _bucket series do)")
        }
        var i = try openMetricsLabelBlock(p, open, end, exemplar: true, named: true)
        let (_, valueEnd) = try spaceAndNumber(p, i, end, what: "exemplar value")
        i = valueEnd
        if i < end && p[i] == ASCII.space {
            let (t, tEnd) = try spaceAndNumber(p, i, end, what: "exemplar timestamp")
            guard t.isFinite else { throw fail("invalid exemplar timestamp \(quoted(p, i + 1, tEnd))") }
            i = tEnd
        }
        return open..<i
    }

    /// Validates an OpenMetrics label block whose `{` is at `open`: `name="value"` pairs
    /// separated by single commas, no blanks, no trailing comma; returns the index after `}`.
    /// Label names may be quoted. `named`: a metric name precedes the block (always, for an
    /// exemplar), so the block may not hold a quoted one; else it must.
    /// Series label names are checked for duplicates (exemplar ones are not, as in Prometheus);
    /// NUL bytes are allowed in series label values only.
    private mutating func openMetricsLabelBlock(
        _ p: Bytes, _ open: Int, _ end: Int, exemplar: Bool, named: Bool
    ) throws(ExpositionError) -> Int {
        if !exemplar {
            labelNames.removeAll(keepingCapacity: true)
            escapedLabelName = false
        }
        var hasName = named
        var i = open + 1
        if i < end && p[i] == ASCII.braceClose {
            if !hasName { throw metricNameNotSet(p, open, i + 1) }
            return i + 1
        }
        while true {
            if i < end && isLabelNameStart(p[i]) {
                let nameStart = i
                i += 1
                while i < end && isLabelNameByte(p[i]) { i += 1 }
                if !exemplar { try noteLabelName(p, nameStart, i) }
            } else if i < end && p[i] == ASCII.quote {
                let (nameStart, nameEnd, escaped) = try quotedName(p, i, end)
                i = nameEnd + 1
                if !exemplar && i < end && (p[i] == ASCII.comma || p[i] == ASCII.braceClose) {
                    // `{"my.metric",...}`: the metric name.
                    if hasName { throw fail("metric name already set, got another: \(quoted(p, nameStart - 1, nameEnd + 1))") }
                    hasName = true
                    if p[i] == ASCII.braceClose { break }
                    i += 1
                    continue
                }
                if !exemplar {
                    if escaped { escapedLabelName = true }
                    try noteLabelName(p, nameStart, nameEnd)
                }
            } else {
                if i < end && p[i] == ASCII.braceClose {
                    throw fail("expected label name after \",\", got \"}\" (no trailing comma in OpenMetrics)")
                }
                throw fail("expected label name, got \(describe(p, i, end))")
            }
            guard i < end && p[i] == ASCII.equal else {
                throw fail("expected \"=\" after label name, got \(describe(p, i, end))")
            }
            i += 1
            guard i < end && p[i] == ASCII.quote else {
                if i < end && p[i] == ASCII.singleQuote {
                    throw fail("label values must be double-quoted, got \"'\"")
                }
                throw fail("expected label value, got \(describe(p, i, end))")
            }
            i = try labelValueEnd(p, i + 1, end, line: line, anyEscape: true, allowNUL: !exemplar).end
            guard i < end else { throw fail("expected \",\" or \"}\" after label value, got end of input") }
            if p[i] == ASCII.braceClose { break }
            guard p[i] == ASCII.comma else {
                throw fail("expected \",\" or \"}\" after label value, got \(describe(p, i, end))")
            }
            i += 1
        }
        if !hasName { throw metricNameNotSet(p, open, i + 1) }
        if !exemplar && (labelNames.count > 2 * Self.pairwiseLimit || escapedLabelName) {
            try checkDuplicatesSorted(p)
        }
        return i + 1
    }

    // MARK: - Metadata

    /// Records a HELP, TYPE or UNIT line for the family `p[name]`: merged into the last entry when
    /// that is the same family (the usual HELP, TYPE, UNIT run), else a new entry.
    mutating func noteMetadata(
        _ p: Bytes, _ name: Range<Int>, type: MetricType? = nil, help: Range<Int>? = nil, unit: Range<Int>? = nil
    ) {
        if let last = metadataEntries.indices.last,
           sameBytes(p, metadataEntries[last].name.lowerBound, metadataEntries[last].name.upperBound, name.lowerBound, name.upperBound) {
            if let type { metadataEntries[last].type = type }
            if let help { metadataEntries[last].help = help }
            if let unit { metadataEntries[last].unit = unit }
            return
        }
        metadataEntries.append(MetadataEntry(name: name, type: type, help: help, unit: unit))
    }

    func buildMetadata(_ p: Bytes) -> [MetricMetadata] {
        var result: [MetricMetadata] = []
        var index: [String: Int] = [:]
        let openMetrics = format == .openMetrics
        for entry in metadataEntries {
            let family = string(p, entry.name.lowerBound, entry.name.upperBound)
            let k: Int
            if let existing = index[family] {
                k = existing
            } else {
                k = result.count
                index[family] = k
                result.append(MetricMetadata(family: family, type: .unknown, help: "", unit: ""))
            }
            if let type = entry.type { result[k].type = type }
            if let help = entry.help {
                // Prometheus unescapes \\ and \n in text-format HELP, and \" too in OpenMetrics.
                result[k].help = unescape(p, help.lowerBound, help.upperBound, quotes: openMetrics, keepUnknown: true)
            }
            if let unit = entry.unit { result[k].unit = string(p, unit.lowerBound, unit.upperBound) }
        }
        return result
    }

    /// A hash of the metadata entries in order: family name, type, HELP and UNIT bytes, and
    /// which of them the lines gave (see ``TextParser/metadataFingerprint``).
    func metadataFingerprint(_ p: UnsafeRawBufferPointer) -> UInt64 {
        var h = UInt64(metadataEntries.count) &+ (format == .openMetrics ? 0x5851_F42D_4C95_7F2D : 0)
        for entry in metadataEntries {
            let tag = UInt64(entry.type.map { $0.rawValue &+ 1 } ?? 0) << 2
                | (entry.help == nil ? 0 : 2) | (entry.unit == nil ? 0 : 1)
            h = ByteHash.hash64(UnsafeRawBufferPointer(rebasing: p[entry.name]), seed: h ^ tag)
            if let help = entry.help { h = ByteHash.hash64(UnsafeRawBufferPointer(rebasing: p[help]), seed: h) }
            if let unit = entry.unit { h = ByteHash.hash64(UnsafeRawBufferPointer(rebasing: p[unit]), seed: h) }
        }
        return h
    }
}

/// Whether a sample name whose family part ends at `suffixStart` belongs to a family of
/// `type` in OpenMetrics: the family name itself, or one of the type's sample suffixes.
func openMetricsSuffixMatches(_ p: Bytes, _ suffixStart: Int, _ end: Int, _ type: MetricType) -> Bool {
    if suffixStart == end { return true }
    func suffix(_ s: StaticString) -> Bool { equals(p, suffixStart, end, s) }
    switch type {
    case .counter: return suffix("_total") || suffix("_created")
    case .histogram: return suffix("_bucket") || suffix("_sum") || suffix("_count") || suffix("_created")
    case .gaugeHistogram: return suffix("_bucket") || suffix("_gsum") || suffix("_gcount")
    case .summary: return suffix("_sum") || suffix("_count") || suffix("_created")
    case .info: return suffix("_info")
    case .gauge, .stateset, .unknown: return false
    }
}

/// The end of the token starting at `i`: the first space or newline, or `end` (tabs belong to
/// the token in OpenMetrics).
@inline(__always)
func spaceOrNewline(_ p: Bytes, _ i: Int, _ end: Int) -> Int {
    var i = i
    while i < end {
        let c = p[i]
        if c == ASCII.space || c == ASCII.newline { break }
        i += 1
    }
    return i
}

/// OpenMetrics seconds to Prometheus milliseconds: Go's `int64(seconds * 1000)`, which truncates
/// toward zero and, on amd64, yields `math.MinInt64` for values out of range.
@inline(__always)
func millisecondsFromSeconds(_ seconds: Double) -> Int64 {
    let ms = seconds * 1000
    guard ms >= -0x1p63 && ms < 0x1p63 else { return .min }
    return Int64(ms)
}
