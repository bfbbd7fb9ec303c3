import Model

// Labels of a series text and of an exemplar, written into a `LabelsBuilder`: names straight
// from the body, values unescaped into the builder piece by piece. No String, no `[Label]`.

/// `__name__` as bytes.
private let metricNameLabel: StaticString = "__name__"

@inline(__always)
private func bytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}

/// Appends the labels of the series text `p[series]` to `builder`: `__name__` (the metric
/// name, before the block or quoted in it), then each label of the block in the order written,
/// quoted names and values unescaped (`\\`, `\"`, `\n`; another escape is kept as written).
/// When not `trusted`, the text is checked first (the syntax both formats share, blanks
/// allowed; one metric name; label names unique, `__name__` not among them) and nothing is
/// appended if it is wrong; `trusted` is for a text the parser validated, which is then read
/// once, without checks beyond staying inside `series`.
func appendSeriesLabels(
    _ p: Bytes, _ series: Range<Int>, format: ExpositionFormat, trusted: Bool, into builder: inout LabelsBuilder
) throws(ExpositionError) {
    guard series.lowerBound >= 0, series.upperBound <= p.count, !series.isEmpty else {
        throw ExpositionError(line: 0, message: "series range \(series) is outside the body")
    }
    if !trusted {
        do {
            try checkSeriesText(p, series)
        } catch {
            // The line number costs a scan from the start of the body: only for errors.
            throw ExpositionError(line: lineNumber(p, at: series.lowerBound), message: error.message)
        }
    }
    let raw = UnsafeRawBufferPointer(p)
    let end = series.upperBound
    var i = series.lowerBound
    if p[i] != ASCII.braceOpen {
        var j = i + 1
        while j < end && isMetricNameByte(p[j]) { j += 1 }
        builder.beginLabel(name: bytes(metricNameLabel))
        builder.appendToValue(UnsafeRawBufferPointer(rebasing: raw[i..<j]))
        i = skipBlanks(p, j, end)
        guard i < end else { return }
    }
    i = skipBlanks(p, i + 1, end)  // the `{`
    while i < end && p[i] != ASCII.braceClose {
        if p[i] == ASCII.quote {
            // A quoted name: the metric name when no `=` follows, else a label name.
            let close = closingQuote(p, i + 1, end)
            let next = skipBlanks(p, close + 1, end)
            if next >= end || p[next] != ASCII.equal {
                builder.beginLabel(name: bytes(metricNameLabel))
                _ = appendValue(p, i + 1, end, quotes: true, keepUnknown: true, to: &builder)
                i = next
                if i < end && p[i] == ASCII.comma { i = skipBlanks(p, i + 1, end) }
                continue
            }
            beginQuotedLabel(p, i + 1, close, into: &builder)
            i = next
        } else {
            let nameStart = i
            while i < end && isLabelNameByte(p[i]) { i += 1 }
            builder.beginLabel(name: UnsafeRawBufferPointer(rebasing: raw[nameStart..<i]))
        }
        i = skipBlanks(p, i, end) + 1  // the `=`
        i = skipBlanks(p, i, end) + 1  // the opening quote
        guard i < end else { return }
        i = appendValue(p, i, end, quotes: true, keepUnknown: true, to: &builder)
        i = skipBlanks(p, i, end)
        if i < end && p[i] == ASCII.comma { i = skipBlanks(p, i + 1, end) }
    }
}

/// Begins a label in `builder` named by the quoted name `p[start..<end]` (between its quotes),
/// unescaped.
private func beginQuotedLabel(_ p: Bytes, _ start: Int, _ end: Int, into builder: inout LabelsBuilder) {
    let raw = UnsafeRawBufferPointer(p)
    guard firstOf(p, start, end, ASCII.backslash, ASCII.backslash) < end else {
        builder.beginLabel(name: UnsafeRawBufferPointer(rebasing: raw[start..<end]))
        return
    }
    var name: [UInt8] = []
    forEachUnescapedRun(p, start, end, quotes: true, keepUnknown: true) { name.append(contentsOf: $0) }
    name.withUnsafeBytes { builder.beginLabel(name: $0) }
}

/// The index of the closing quote of the quoted string whose bytes start at `i` (escaped bytes
/// skipped); `end` when there is none.
func closingQuote(_ p: Bytes, _ i: Int, _ end: Int) -> Int {
    var i = i
    while true {
        i = firstOf(p, i, end, ASCII.quote, ASCII.backslash)
        guard i < end else { return end }
        if p[i] == ASCII.quote { return i }
        i += 2
    }
}

/// The metric name of the validated series text `p[series]` as written: the bytes before the
/// label block, or those between the quotes of the quoted name in it (not unescaped, as the
/// names of HELP and TYPE lines are compared). Empty if the text has none (it is not valid).
func metricNameRange(_ p: Bytes, _ series: Range<Int>) -> Range<Int> {
    let end = series.upperBound
    var i = series.lowerBound
    if p[i] != ASCII.braceOpen {
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        return series.lowerBound..<i
    }
    i += 1
    while true {
        i = skipBlanks(p, i, end)
        guard i < end, p[i] != ASCII.braceClose else { return i..<i }
        let quotedName = p[i] == ASCII.quote
        let nameStart = quotedName ? i + 1 : i
        if quotedName {
            i = closingQuote(p, i + 1, end)
        } else {
            while i < end && isLabelNameByte(p[i]) { i += 1 }
        }
        let nameEnd = min(i, end)
        if quotedName { i += 1 }
        i = skipBlanks(p, i, end)
        guard i < end, p[i] == ASCII.equal else { return quotedName ? nameStart..<nameEnd : i..<i }
        // `= "value"` and the comma after it.
        i = skipBlanks(p, i + 1, end)
        guard i < end, p[i] == ASCII.quote else { return i..<i }
        i = skipBlanks(p, closingQuote(p, i + 1, end) + 1, end)
        if i < end && p[i] == ASCII.comma { i += 1 }
    }
}

/// Appends the label value starting at `start` (after its opening quote), unescaped, to the
/// label `builder` began last; returns the index after its closing quote (or `end`).
@inline(__always)
private func appendValue(
    _ p: Bytes, _ start: Int, _ end: Int, quotes: Bool, keepUnknown: Bool, to builder: inout LabelsBuilder
) -> Int {
    let raw = UnsafeRawBufferPointer(p)
    var k = firstOf(p, start, end, ASCII.quote, ASCII.backslash, ASCII.backslash)
    if k >= end || p[k] == ASCII.quote {
        builder.appendToValue(UnsafeRawBufferPointer(rebasing: raw[start..<k]))
        return min(k + 1, end)
    }
    // Escaped: find the closing quote, then unescape.
    while k < end && p[k] != ASCII.quote {
        k += p[k] == ASCII.backslash ? 2 : 1
    }
    k = min(k, end)
    forEachUnescapedRun(p, start, k, quotes: quotes, keepUnknown: keepUnknown) { builder.appendToValue($0) }
    return min(k + 1, end)
}

/// Checks the series text `p[series]` as ``appendSeriesLabels(_:_:format:trusted:into:)``
/// reads it (errors without line numbers).
private func checkSeriesText(_ p: Bytes, _ series: Range<Int>) throws(ExpositionError) {
    let end = series.upperBound
    var i = series.lowerBound
    func fail(_ message: String) -> ExpositionError { ExpositionError(line: 0, message: message) }

    var hasName = p[i] != ASCII.braceOpen
    if hasName {
        guard isMetricNameStart(p[i]) else { throw fail("expected metric name, got \(describe(p, i, end))") }
        i += 1
        while i < end && isMetricNameByte(p[i]) { i += 1 }
        i = skipBlanks(p, i, end)
        guard i < end else { return }
        guard p[i] == ASCII.braceOpen else { throw fail("unexpected \(describe(p, i, end)) in series") }
    }
    var names: [Int] = []
    var metricNameInBlock = false
    var escapedNames = false
    i = skipBlanks(p, i + 1, end)
    while i < end && p[i] != ASCII.braceClose {
        let nameStart: Int, nameEnd: Int
        if p[i] == ASCII.quote {
            let (after, escaped) = try labelValueEnd(p, i + 1, end, line: 0, anyEscape: true, what: "quoted name")
            guard after - 1 > i + 1 else { throw fail("empty quoted name") }
            (nameStart, nameEnd) = (i + 1, after - 1)
            i = skipBlanks(p, after, end)
            if i < end && (p[i] == ASCII.comma || p[i] == ASCII.braceClose) {
                if hasName { throw fail("metric name already set, got another: \(quoted(p, nameStart - 1, after))") }
                hasName = true
                if p[i] == ASCII.comma { i = skipBlanks(p, i + 1, end) }
                continue
            }
            escapedNames = escapedNames || escaped
        } else {
            guard isLabelNameStart(p[i]) else { throw fail("expected label name, got \(describe(p, i, end))") }
            nameStart = i
            i += 1
            while i < end && isLabelNameByte(p[i]) { i += 1 }
            nameEnd = i
            i = skipBlanks(p, i, end)
        }
        if equals(p, nameStart, nameEnd, "__name__") { metricNameInBlock = true }
        names.append(nameStart)
        names.append(nameEnd)
        guard i < end && p[i] == ASCII.equal else {
            throw fail("expected \"=\" after label name, got \(describe(p, i, end))")
        }
        i = skipBlanks(p, i + 1, end)
        guard i < end && p[i] == ASCII.quote else {
            throw fail("expected label value, got \(describe(p, i, end))")
        }
        i = try labelValueEnd(p, i + 1, end, line: 0, anyEscape: true).end
        i = skipBlanks(p, i, end)
        if i < end && p[i] == ASCII.comma {
            i = skipBlanks(p, i + 1, end)
        } else if i >= end || p[i] != ASCII.braceClose {
            throw fail("expected \",\" or \"}\" after label value, got \(describe(p, i, end))")
        }
    }
    guard i == end - 1 else { throw fail("series range does not end at the end of its label block") }
    guard hasName else { throw fail("metric name not set in \(quoted(p, series.lowerBound, end))") }
    // Duplicates, the smallest name first (in byte order), `__name__` counting as taken.
    var duplicate = names.count > 2 ? firstDuplicateName(p, names).map { string(p, $0.lowerBound, $0.upperBound) } : nil
    if duplicate == nil && escapedNames {
        var seen = Set<String>()
        var k = 0
        while k < names.count, duplicate == nil {
            let name = unescape(p, names[k], names[k + 1], keepUnknown: true)
            if !seen.insert(name).inserted { duplicate = name }
            k += 2
        }
    }
    let reported: String?
    switch (duplicate, metricNameInBlock) {
    case (let d?, true): reported = d.utf8.lexicographicallyPrecedes("__name__".utf8) ? d : "__name__"
    case (let d?, false): reported = d
    case (nil, true): reported = "__name__"
    case (nil, false): reported = nil
    }
    if let reported { throw fail("duplicate label name \"\(reported)\"") }
}

// MARK: - Exemplars

extension TextParser {
    /// Builds the exemplar `p[range]` (`{labels} value [timestamp]`), checking it again.
    func buildExemplar(_ p: Bytes, _ range: Range<Int>) throws(ExpositionError) -> Exemplar {
        let end = range.upperBound
        guard range.lowerBound >= 0, end <= p.count, !range.isEmpty else {
            throw ExpositionError(line: 0, message: "exemplar range \(range) is outside the body")
        }
        do {
            return try buildExemplarUnlocated(p, range)
        } catch {
            throw ExpositionError(line: lineNumber(p, at: range.lowerBound), message: error.message)
        }
    }

    private func buildExemplarUnlocated(_ p: Bytes, _ range: Range<Int>) throws(ExpositionError) -> Exemplar {
        let end = range.upperBound
        let raw = UnsafeRawBufferPointer(p)
        func fail(_ message: String) -> ExpositionError { ExpositionError(line: 0, message: message) }
        var i = range.lowerBound
        guard p[i] == ASCII.braceOpen else { throw fail("expected \"{\" at the start of an exemplar, got \(describe(p, i, end))") }
        i += 1
        var builder = LabelsBuilder()
        var length = 0
        while i < end && p[i] != ASCII.braceClose {
            let nameStart: Int, nameEnd: Int
            let quotedName = p[i] == ASCII.quote
            if quotedName {
                let (after, _) = try labelValueEnd(p, i + 1, end, line: 0, anyEscape: true, what: "quoted name")
                guard after - 1 > i + 1 else { throw fail("empty quoted name") }
                (nameStart, nameEnd) = (i + 1, after - 1)
                i = after
            } else {
                guard isLabelNameStart(p[i]) else { throw fail("expected label name, got \(describe(p, i, end))") }
                nameStart = i
                while i < end && isLabelNameByte(p[i]) { i += 1 }
                nameEnd = i
            }
            guard i < end && p[i] == ASCII.equal, i + 1 < end, p[i + 1] == ASCII.quote else {
                throw fail("expected =\"value\" after label name, got \(describe(p, i, end))")
            }
            let valueStart = i + 2
            let (valueEnd, _) = try labelValueEnd(p, valueStart, end, line: 0, anyEscape: true, allowNUL: false)
            // Code points of the unescaped name and value (UTF-8 already checked).
            let countCodePoints = { (run: UnsafeRawBufferPointer) in
                for byte in run where byte & 0xC0 != 0x80 { length += 1 }
            }
            if quotedName {
                forEachUnescapedRun(p, nameStart, nameEnd, quotes: true, keepUnknown: true, countCodePoints)
                beginQuotedLabel(p, nameStart, nameEnd, into: &builder)
            } else {
                length += nameEnd - nameStart
                builder.beginLabel(name: UnsafeRawBufferPointer(rebasing: raw[nameStart..<nameEnd]))
            }
            forEachUnescapedRun(p, valueStart, valueEnd - 1, quotes: true, keepUnknown: true, countCodePoints)
            _ = appendValue(p, valueStart, valueEnd, quotes: true, keepUnknown: true, to: &builder)
            i = valueEnd
            if i < end && p[i] == ASCII.comma { i += 1 }
        }
        guard i < end else { throw fail("expected \"}\" in exemplar, got end of exemplar") }
        i += 1
        if length > Exemplar.maxLabelSetLength {
            throw fail("exemplar label set is \(length) characters long, more than \(Exemplar.maxLabelSetLength)")
        }
        guard i < end && p[i] == ASCII.space else { throw fail("expected exemplar value, got \(describe(p, i, end))") }
        i += 1
        let valueEnd = spaceOrNewline(p, i, end)
        guard let value = parseFloatValue(p, i, valueEnd) else { throw fail("invalid exemplar value \(quoted(p, i, valueEnd))") }
        i = valueEnd
        var timestamp: Int64? = nil
        if i < end {
            guard p[i] == ASCII.space else { throw fail("unexpected \(describe(p, i, end)) in exemplar") }
            i += 1
            let tEnd = spaceOrNewline(p, i, end)
            guard let t = parseFloatValue(p, i, tEnd), t.isFinite, tEnd == end else {
                throw fail("invalid exemplar timestamp \(quoted(p, i, tEnd))")
            }
            timestamp = millisecondsFromSeconds(t)
        }
        return Exemplar(labels: builder.build(), value: value, timestamp: timestamp)
    }
}
