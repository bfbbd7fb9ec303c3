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
/// name), then each label of the block in the order written, values unescaped (`\\`, `\"`,
/// `\n`; another escape is kept as written). When not `trusted`, the text is checked first
/// (the syntax both formats share, blanks allowed; names unique, `__name__` not among them) and
/// nothing is appended if it is wrong; `trusted` is for a text the parser validated, which is
/// then read once, without checks beyond staying inside `series`.
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
    var j = i + 1
    while j < end && isMetricNameByte(p[j]) { j += 1 }
    builder.beginLabel(name: bytes(metricNameLabel))
    builder.appendToValue(UnsafeRawBufferPointer(rebasing: raw[i..<j]))
    i = skipBlanks(p, j, end)
    guard i < end else { return }
    i = skipBlanks(p, i + 1, end)  // the `{`
    while i < end && p[i] != ASCII.braceClose {
        let nameStart = i
        while i < end && isLabelNameByte(p[i]) { i += 1 }
        builder.beginLabel(name: UnsafeRawBufferPointer(rebasing: raw[nameStart..<i]))
        i = skipBlanks(p, i, end) + 1  // the `=`
        i = skipBlanks(p, i, end) + 1  // the opening quote
        guard i < end else { return }
        i = appendValue(p, i, end, quotes: true, keepUnknown: true, to: &builder)
        i = skipBlanks(p, i, end)
        if i < end && p[i] == ASCII.comma { i = skipBlanks(p, i + 1, end) }
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

    guard isMetricNameStart(p[i]) else { throw fail("expected metric name, got \(describe(p, i, end))") }
    i += 1
    while i < end && isMetricNameByte(p[i]) { i += 1 }
    i = skipBlanks(p, i, end)
    guard i < end else { return }
    guard p[i] == ASCII.braceOpen else { throw fail("unexpected \(describe(p, i, end)) in series") }
    var names: [Int] = []
    var metricNameInBlock = false
    i = skipBlanks(p, i + 1, end)
    while i < end && p[i] != ASCII.braceClose {
        guard isLabelNameStart(p[i]) else { throw fail("expected label name, got \(describe(p, i, end))") }
        let nameStart = i
        i += 1
        while i < end && isLabelNameByte(p[i]) { i += 1 }
        if equals(p, nameStart, i, "__name__") { metricNameInBlock = true }
        names.append(nameStart)
        names.append(i)
        i = skipBlanks(p, i, end)
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
    // Duplicates, the smallest name first (in byte order), `__name__` counting as taken.
    let duplicate = names.count > 2 ? firstDuplicateName(p, names).map { string(p, $0.lowerBound, $0.upperBound) } : nil
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
            guard isLabelNameStart(p[i]) else { throw fail("expected label name, got \(describe(p, i, end))") }
            let nameStart = i
            while i < end && isLabelNameByte(p[i]) { i += 1 }
            let nameEnd = i
            guard i < end && p[i] == ASCII.equal, i + 1 < end, p[i + 1] == ASCII.quote else {
                throw fail("expected =\"value\" after label name, got \(describe(p, i, end))")
            }
            let valueStart = i + 2
            let (valueEnd, _) = try labelValueEnd(p, valueStart, end, line: 0, anyEscape: true, allowNUL: false)
            // Code points of the name (ASCII) and of the unescaped value (UTF-8 already checked).
            length += nameEnd - nameStart
            forEachUnescapedRun(p, valueStart, valueEnd - 1, quotes: true, keepUnknown: true) { run in
                for byte in run where byte & 0xC0 != 0x80 { length += 1 }
            }
            builder.beginLabel(name: UnsafeRawBufferPointer(rebasing: raw[nameStart..<nameEnd]))
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
