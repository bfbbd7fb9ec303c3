#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Byte-level helpers shared by the parsers. Everything here works on an
// `UnsafeBufferPointer<UInt8>` and indices into it, allocates nothing on the success path,
// and creates Strings only to describe errors.

typealias Bytes = UnsafeBufferPointer<UInt8>

enum ASCII {
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let hash = UInt8(ascii: "#")
    static let braceOpen = UInt8(ascii: "{")
    static let braceClose = UInt8(ascii: "}")
    static let equal = UInt8(ascii: "=")
    static let comma = UInt8(ascii: ",")
    static let quote = UInt8(ascii: "\"")
    static let singleQuote = UInt8(ascii: "'")
    static let backslash = UInt8(ascii: "\\")
    static let plus = UInt8(ascii: "+")
    static let minus = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let underscore = UInt8(ascii: "_")
    static let colon = UInt8(ascii: ":")
    static let n = UInt8(ascii: "n")
    static let nul: UInt8 = 0
}

@inline(__always)
func isBlank(_ c: UInt8) -> Bool { c == ASCII.space || c == ASCII.tab }

@inline(__always)
func isDigit(_ c: UInt8) -> Bool { c &- ASCII.zero < 10 }

@inline(__always)
func isLetter(_ c: UInt8) -> Bool { (c | 0x20) &- UInt8(ascii: "a") < 26 }

/// `[a-zA-Z_]`: first byte of a label name.
@inline(__always)
func isLabelNameStart(_ c: UInt8) -> Bool { isLetter(c) || c == ASCII.underscore }

/// `[a-zA-Z0-9_]`
@inline(__always)
func isLabelNameByte(_ c: UInt8) -> Bool { isLetter(c) || isDigit(c) || c == ASCII.underscore }

/// `[a-zA-Z_:]`: first byte of a metric name.
@inline(__always)
func isMetricNameStart(_ c: UInt8) -> Bool { isLabelNameStart(c) || c == ASCII.colon }

/// The first byte of a sample line: a metric name's, or `{` when the name is quoted inside the
/// label block (`{"my.metric", label="v"}`).
@inline(__always)
func isSeriesStart(_ c: UInt8) -> Bool { isMetricNameStart(c) || c == ASCII.braceOpen }

/// `[a-zA-Z0-9_:]`: one shift and test in a 128-bit set.
@inline(__always)
func isMetricNameByte(_ c: UInt8) -> Bool {
    // Bits 48-58 ('0'-'9', ':') of the low word; 65-90 ('A'-'Z'), 95 ('_'), 97-122 ('a'-'z') of the high.
    let low: UInt64 = 0x07FF_0000_0000_0000
    let high: UInt64 = 0x07FF_FFFE_87FF_FFFE
    return c < 128 && ((c < 64 ? low : high) >> UInt64(c & 63)) & 1 != 0
}

/// The index of the first byte at or after `i` that is not a space or tab.
@inline(__always)
func skipBlanks(_ p: Bytes, _ i: Int, _ end: Int) -> Int {
    var i = i
    while i < end && isBlank(p[i]) { i += 1 }
    return i
}

/// The end of the token starting at `i`: the first space, tab or newline, or `end`.
@inline(__always)
func tokenEnd(_ p: Bytes, _ i: Int, _ end: Int) -> Int {
    var i = i
    while i < end {
        let c = p[i]
        if c == ASCII.space || c == ASCII.tab || c == ASCII.newline { break }
        i += 1
    }
    return i
}

/// Whether `p[start..<end]` equals `word` (ASCII, lower case) ignoring ASCII case.
@inline(__always)
func equalsIgnoringCase(_ p: Bytes, _ start: Int, _ end: Int, _ word: StaticString) -> Bool {
    guard end - start == word.utf8CodeUnitCount else { return false }
    let w = word.utf8Start
    for k in 0..<(end - start) where p[start + k] | 0x20 != w[k] {
        return false
    }
    return true
}

/// Whether `p[start..<end]` equals `word` exactly.
@inline(__always)
func equals(_ p: Bytes, _ start: Int, _ end: Int, _ word: StaticString) -> Bool {
    guard end - start == word.utf8CodeUnitCount else { return false }
    let w = word.utf8Start
    for k in 0..<(end - start) where p[start + k] != w[k] {
        return false
    }
    return true
}

/// Whether two byte ranges of `p` hold the same bytes (`memcmp`).
@inline(__always)
func sameBytes(_ p: Bytes, _ a: Int, _ aEnd: Int, _ b: Int, _ bEnd: Int) -> Bool {
    guard aEnd - a == bEnd - b else { return false }
    guard aEnd > a, let base = p.baseAddress else { return true }
    return memcmp(base + a, base + b, aEnd - a) == 0
}

// MARK: - Scanning 8 bytes at a time

/// 0x80 in every byte of `word` that equals `byte`, 0 elsewhere (exact: no false positives
/// after a match, unlike the shorter `(x - 0x01…) & ~x & 0x80…`).
@inline(__always)
func matchMask(_ word: UInt64, _ byte: UInt8) -> UInt64 {
    let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
    return ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x) & 0x8080_8080_8080_8080
}

/// The 8 bytes at `i` as a little-endian word (byte `i` lowest). Requires `i + 8 <= p.count`.
@inline(__always)
func word(_ p: Bytes, _ i: Int) -> UInt64 {
    UInt64(littleEndian: UnsafeRawPointer(p.baseAddress!).loadUnaligned(fromByteOffset: i, as: UInt64.self))
}

/// The index of the first byte at or after `i` that is `a`, `b`, `c` or `d`; `end` when there is none.
@inline(__always)
func firstOf(_ p: Bytes, _ i: Int, _ end: Int, _ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Int {
    var i = i
    while i + 8 <= end {
        let w = word(p, i)
        let m = matchMask(w, a) | matchMask(w, b) | matchMask(w, c) | matchMask(w, d)
        if m != 0 { return i + m.trailingZeroBitCount >> 3 }
        i += 8
    }
    while i < end {
        let x = p[i]
        if x == a || x == b || x == c || x == d { return i }
        i += 1
    }
    return end
}

/// The index of the first byte at or after `i` that is `a` or `b`; `end` when there is none.
@inline(__always)
func firstOf(_ p: Bytes, _ i: Int, _ end: Int, _ a: UInt8, _ b: UInt8) -> Int {
    var i = i
    while i + 8 <= end {
        let w = word(p, i)
        let m = matchMask(w, a) | matchMask(w, b)
        if m != 0 { return i + m.trailingZeroBitCount >> 3 }
        i += 8
    }
    while i < end {
        let x = p[i]
        if x == a || x == b { return i }
        i += 1
    }
    return end
}

/// The index of the first byte at or after `i` that is `a`, `b` or `c`; `end` when there is none.
@inline(__always)
func firstOf(_ p: Bytes, _ i: Int, _ end: Int, _ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int {
    var i = i
    while i + 8 <= end {
        let w = word(p, i)
        let m = matchMask(w, a) | matchMask(w, b) | matchMask(w, c)
        if m != 0 { return i + m.trailingZeroBitCount >> 3 }
        i += 8
    }
    while i < end {
        let x = p[i]
        if x == a || x == b || x == c { return i }
        i += 1
    }
    return end
}

/// Comment and HELP text from `i`: the index of the first newline or NUL byte (or `end`), and
/// whether a byte of 0x80 or above may come before it (true only if one does, or one follows it
/// in the same 8-byte word: the caller then validates UTF-8, which is correct either way).
@inline(__always)
func scanText(_ p: Bytes, _ i: Int, _ end: Int) -> (end: Int, nonASCII: Bool) {
    var i = i
    var high: UInt64 = 0
    while i + 8 <= end {
        let w = word(p, i)
        high |= w
        let m = matchMask(w, ASCII.newline) | matchMask(w, ASCII.nul)
        if m != 0 { return (i + m.trailingZeroBitCount >> 3, high & 0x8080_8080_8080_8080 != 0) }
        i += 8
    }
    var nonASCII = high & 0x8080_8080_8080_8080 != 0
    while i < end {
        let c = p[i]
        if c == ASCII.newline || c == ASCII.nul { break }
        if c >= 0x80 { nonASCII = true }
        i += 1
    }
    return (i, nonASCII)
}

// MARK: - Delimiting a series text without validating it

/// Text format: the end of the series text (metric name and optional label block, or a label
/// block holding a quoted metric name) of the sample line starting at `start`, found from the
/// end of the line without validating
/// anything: back over trailing blanks, the last token, and blanks; if a `}` comes next, the
/// series text ends after it; otherwise back over one more token and its blanks. A token here
/// is a run of bytes other than blanks and `}` (a value or a timestamp holds neither). nil when
/// the line has fewer tokens than a sample needs; the caller then validates it.
///
/// On a valid sample line (`series value [timestamp]`, blanks between, possibly trailing; a
/// value may follow a label block's `}` with no blank) this returns exactly the end validation
/// finds: the value and the optional timestamp are the line's last one or two tokens, and the
/// byte before the value is the series' last byte, a `}` exactly when it has a label block
/// (metric names hold no `}`); with no block, a line with a timestamp has two tokens after the
/// name and one without, which the `}` test and the start of the line tell apart. A line that
/// starts with `{` has a block, so its series text ends with the `}` found. On an invalid
/// line it may return any end: callers only skip validation for a text whose exact bytes they
/// have seen validated before, and the rest of the line is always parsed from that end.
///
/// It reads each byte of the line once, word by word, to find the newline, and only the last
/// tokens byte by byte: label values are not looked at.
func delimitTextSeries(_ p: Bytes, _ start: Int, _ end: Int) -> Int? {
    guard isSeriesStart(p[start]) else { return nil }
    let lineEnd = firstNewline(p, start + 1, end)
    @inline(__always) func backOverBlanks(_ i: Int) -> Int {
        var i = i
        while i > start && isBlank(p[i - 1]) { i -= 1 }
        return i
    }
    @inline(__always) func backOverToken(_ i: Int) -> Int {
        var i = i
        while i > start, case let c = p[i - 1], !isBlank(c), c != ASCII.braceClose { i -= 1 }
        return i
    }
    let lastToken = backOverToken(backOverBlanks(lineEnd))
    guard lastToken > start else { return nil }
    let afterSeriesOrValue = backOverBlanks(lastToken)
    if p[afterSeriesOrValue - 1] == ASCII.braceClose { return afterSeriesOrValue }
    let previousToken = backOverToken(afterSeriesOrValue)
    // One token before the last, and it starts the line: it is the metric name.
    if previousToken == start { return afterSeriesOrValue }
    return backOverBlanks(previousToken)
}

/// The index of the first newline at or after `i`; `end` when there is none. The C library's
/// `memchr` (vectorised: a sample line of 150 bytes costs a few dozen instructions).
@inline(__always)
func firstNewline(_ p: Bytes, _ i: Int, _ end: Int) -> Int {
    guard i < end, let base = p.baseAddress else { return end }
    guard let found = memchr(base + i, Int32(ASCII.newline), end - i) else { return end }
    return UnsafeRawPointer(found) - UnsafeRawPointer(base)
}

/// OpenMetrics: the end of the series text (metric name and optional label block, or a label
/// block holding a quoted metric name) starting at `start`, found without validating it: the
/// name's bytes, then a label block up to its closing `}`, with double-quoted values and names
/// skipped as validation reads them (a backslash escapes the next byte).
/// nil when the text cannot be delimited that way: no metric name, or the end of the body inside
/// the label block; the caller then validates it, which throws.
///
/// On a valid sample line this returns exactly the end validation finds: a valid name is
/// followed by `{`, a blank or the end of the line; outside quotes a valid block holds no `}`
/// but its last byte; both skip the same escaped bytes inside quotes. Where the two differ,
/// validation stopped at a byte that cannot follow a series text, and the line is rejected. On
/// an invalid line it may return any end: callers only skip validation for a text whose exact
/// bytes they have seen validated before.
func delimitOpenMetricsSeries(_ p: Bytes, _ start: Int, _ end: Int) -> Int? {
    var i = start
    if p[start] != ASCII.braceOpen {
        guard isMetricNameStart(p[start]) else { return nil }
        // The name runs to the first byte that may follow a valid name; its bytes are not checked
        // (on an invalid name validation stops earlier, at a byte no line may have there).
        i = firstOf(p, start + 1, end, ASCII.braceOpen, ASCII.space, ASCII.tab, ASCII.newline)
        guard i < end && p[i] == ASCII.braceOpen else { return i }
    }
    i += 1
    // Newlines are not looked for: a text that runs over one is never in a scrape cache (no
    // valid series text holds one), so it is validated, which rejects it.
    while true {
        // Outside quotes: up to a value or the end of the block.
        i = firstOf(p, i, end, ASCII.quote, ASCII.braceClose)
        guard i < end else { return nil }
        if p[i] == ASCII.braceClose { return i + 1 }
        // Inside quotes: up to the closing quote, escaped bytes skipped.
        i += 1
        while true {
            i = firstOf(p, i, end, ASCII.quote, ASCII.backslash)
            guard i < end else { return nil }
            if p[i] == ASCII.quote { break }
            guard i + 1 < end else { return nil }
            i += 2
        }
        i += 1
    }
}

// MARK: - UTF-8

/// Whether `p[start..<end]` is well-formed UTF-8 (no overlong forms, no surrogates, nothing
/// above U+10FFFF), as Go's `utf8.Valid` decides.
func isValidUTF8(_ p: Bytes, _ start: Int, _ end: Int) -> Bool {
    var i = start
    while i < end {
        let c = p[i]
        if c < 0x80 {
            i += 1
            continue
        }
        let need: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED: need = 2; hi = 0x9F
        case 0xF0: need = 3; lo = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; hi = 0x8F
        default: return false
        }
        guard end - i > need else { return false }
        let c1 = p[i + 1]
        guard c1 >= lo && c1 <= hi else { return false }
        var k = 2
        while k <= need {
            guard p[i + k] & 0xC0 == 0x80 else { return false }
            k += 1
        }
        i += need + 1
    }
    return true
}

// MARK: - Numbers

/// Parses a sample value as Go's `strconv.ParseFloat(s, 64)` does for the formats Prometheus
/// accepts: decimal with optional sign, fraction and exponent; `Inf`/`Infinity` with optional
/// sign and `NaN` (no sign), case-insensitively. Rejects hexadecimal floats, underscores, empty
/// input, trailing garbage and values that overflow a Double (Go reports those as range errors).
/// Returns nil for invalid input.
///
/// The common forms (an optional sign, then up to 15 digits with at most one `.` among or
/// around them, no exponent) take a short path; everything else, ``parseFloatValueInGeneral(_:_:_:)``.
/// Both give the same result, bit for bit: with at most 15 digits the integer `m` they spell is
/// below 2⁵³ (exact as a Double), and `m / 10ᵏ` for `k ≤ 15` is one correctly rounded IEEE
/// division of two exact values, the general path's Clinger case for the same input.
@inline(__always)
func parseFloatValue(_ p: Bytes, _ start: Int, _ end: Int) -> Double? {
    if let (value, stop) = plainDecimalPrefix(p, start, end), stop == end { return value }
    return parseFloatValueInGeneral(p, start, end)
}

/// The short path of ``parseFloatValue(_:_:_:)``: the value of the longest prefix of
/// `p[start..<end]` made of an optional sign and digits with at most one `.`, and where it
/// stops; nil when that prefix has no digit or more than 15. When it stops at `end` (or where
/// a token ends), the value is exactly what ``parseFloatValue(_:_:_:)`` gives for the whole.
@inline(__always)
func plainDecimalPrefix(_ p: Bytes, _ start: Int, _ end: Int) -> (value: Double, end: Int)? {
    var i = start
    guard i < end else { return nil }
    let negative = p[i] == ASCII.minus
    if negative || p[i] == ASCII.plus { i += 1 }
    var mantissa: UInt64 = 0
    var digits = 0
    var fractionDigits = -1  // -1 until a `.` is seen
    while i < end {
        let c = p[i]
        let d = c &- ASCII.zero
        if d < 10 {
            mantissa = mantissa &* 10 &+ UInt64(d)
            digits += 1
            if fractionDigits >= 0 { fractionDigits += 1 }
        } else if c == ASCII.dot && fractionDigits < 0 {
            fractionDigits = 0
        } else {
            break
        }
        i += 1
    }
    guard digits > 0, digits <= 15 else { return nil }
    let magnitude = fractionDigits > 0 ? Double(mantissa) / exactPowerOfTen(fractionDigits) : Double(mantissa)
    return (negative ? -magnitude : magnitude, i)
}

/// 10ᵏ for `1 ≤ k ≤ 15`, exact as a Double (a constant table, no loop).
@inline(__always)
private func exactPowerOfTen(_ k: Int) -> Double {
    switch k {
    case 1: return 1e1
    case 2: return 1e2
    case 3: return 1e3
    case 4: return 1e4
    case 5: return 1e5
    case 6: return 1e6
    case 7: return 1e7
    case 8: return 1e8
    case 9: return 1e9
    case 10: return 1e10
    case 11: return 1e11
    case 12: return 1e12
    case 13: return 1e13
    case 14: return 1e14
    default: return 1e15
    }
}

/// ``parseFloatValue(_:_:_:)`` for every form it accepts (exponents, more than 15 digits,
/// `Inf`, `NaN`): Clinger's fast path where it is exact, the C library's `strtod` otherwise.
func parseFloatValueInGeneral(_ p: Bytes, _ start: Int, _ end: Int) -> Double? {
    var i = start
    guard i < end else { return nil }
    var negative = false
    if p[i] == ASCII.plus || p[i] == ASCII.minus {
        negative = p[i] == ASCII.minus
        i += 1
        guard i < end else { return nil }
    }
    let first = p[i] | 0x20
    if first == UInt8(ascii: "i") {
        if equalsIgnoringCase(p, i, end, "inf") || equalsIgnoringCase(p, i, end, "infinity") {
            return negative ? -.infinity : .infinity
        }
        return nil
    }
    if first == UInt8(ascii: "n") {
        // Go accepts no sign on NaN.
        if i == start && equalsIgnoringCase(p, i, end, "nan") { return .nan }
        return nil
    }

    // Decimal: digits ['.' digits] or '.' digits, then optional exponent.
    var mantissa: UInt64 = 0
    var significantDigits = 0   // digits accumulated into `mantissa`
    var truncated = false       // more than 19 significant digits: not exact in `mantissa`
    var exponent = 0            // decimal exponent to apply to `mantissa`
    var sawDigits = false
    while i < end && isDigit(p[i]) {
        sawDigits = true
        let d = UInt64(p[i] &- ASCII.zero)
        if significantDigits < 19 {
            if mantissa != 0 || d != 0 {
                mantissa = mantissa &* 10 &+ d
                significantDigits += 1
            }
        } else {
            truncated = truncated || d != 0
            exponent += 1
        }
        i += 1
    }
    if i < end && p[i] == ASCII.dot {
        i += 1
        while i < end && isDigit(p[i]) {
            sawDigits = true
            let d = UInt64(p[i] &- ASCII.zero)
            if significantDigits < 19 {
                if mantissa != 0 || d != 0 {
                    mantissa = mantissa &* 10 &+ d
                    significantDigits += 1
                }
                exponent -= 1
            } else {
                truncated = truncated || d != 0
            }
            i += 1
        }
    }
    guard sawDigits else { return nil }
    if i < end && p[i] | 0x20 == UInt8(ascii: "e") {
        i += 1
        guard i < end else { return nil }
        var negativeExponent = false
        if p[i] == ASCII.plus || p[i] == ASCII.minus {
            negativeExponent = p[i] == ASCII.minus
            i += 1
        }
        guard i < end && isDigit(p[i]) else { return nil }
        var e = 0
        while i < end && isDigit(p[i]) {
            if e < 1_000_000 { e = e * 10 + Int(p[i] &- ASCII.zero) }
            i += 1
        }
        exponent += negativeExponent ? -e : e
    }
    guard i == end else { return nil }

    if mantissa == 0 && !truncated {
        return negative ? -0.0 : 0.0
    }
    // Clinger's fast path: an exact integer below 2^53 times or divided by an exact power of ten
    // is correctly rounded by a single IEEE operation.
    if !truncated && mantissa <= (1 << 53) && exponent >= -22 && exponent <= 22 {
        var power = 1.0
        var k = exponent < 0 ? -exponent : exponent
        while k > 0 {
            power *= 10
            k -= 1
        }
        let magnitude = exponent < 0 ? Double(mantissa) / power : Double(mantissa) * power
        return negative ? -magnitude : magnitude
    }
    // Slow path: the C library's correctly rounded conversion on a NUL-terminated copy (on the
    // stack for short values). The bytes were validated above, so strtod sees only a plain
    // decimal number. strtod follows LC_NUMERIC; the agent never calls setlocale, so that is the
    // "C" locale, and a different decimal point would make the value fail (never misparse),
    // thanks to the end-pointer check.
    let count = end - start
    let result: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
        guard let base = buffer.baseAddress else { return nil }
        for k in 0..<count { buffer[k] = CChar(bitPattern: p[start + k]) }
        buffer[count] = 0
        var stop: UnsafeMutablePointer<CChar>? = nil
        let value = strtod(base, &stop)
        guard stop == base + count else { return nil }
        return value
    }
    guard let result, result.isFinite else { return nil }
    return result
}

/// Parses a decimal Int64 with optional sign, as Go's `strconv.ParseInt(s, 10, 64)`.
func parseInt64(_ p: Bytes, _ start: Int, _ end: Int) -> Int64? {
    var i = start
    guard i < end else { return nil }
    var negative = false
    if p[i] == ASCII.plus || p[i] == ASCII.minus {
        negative = p[i] == ASCII.minus
        i += 1
    }
    guard i < end else { return nil }
    var value: Int64 = 0
    while i < end {
        let c = p[i]
        guard isDigit(c) else { return nil }
        let d = Int64(c &- ASCII.zero)
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        // Accumulate negatively so that Int64.min is representable.
        let (next, o2) = times10.subtractingReportingOverflow(d)
        if o1 || o2 { return nil }
        value = next
        i += 1
    }
    if negative { return value }
    let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
    return overflow ? nil : positive
}

// MARK: - Describing bytes in error messages

/// `p[start..<end]` as a double-quoted, escaped string for an error message, cut at 60 bytes.
func quoted(_ p: Bytes, _ start: Int, _ end: Int) -> String {
    let limit = min(end, start + 60)
    var out = "\""
    var i = start
    while i < limit {
        let c = p[i]
        switch c {
        case ASCII.newline: out += "\\n"
        case ASCII.carriageReturn: out += "\\r"
        case ASCII.tab: out += "\\t"
        case ASCII.quote: out += "\\\""
        case ASCII.backslash: out += "\\\\"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(c))
        default:
            let hex = String(c, radix: 16, uppercase: true)
            out += c < 0x10 ? "\\x0\(hex)" : "\\x\(hex)"
        }
        i += 1
    }
    if limit < end { out += "..." }
    return out + "\""
}

/// The byte at `i` for "expected X, got Y" messages: `"{"`, `end of line` or `end of input`.
func describe(_ p: Bytes, _ i: Int, _ end: Int) -> String {
    if i >= end { return "end of input" }
    if p[i] == ASCII.newline { return "end of line" }
    return quoted(p, i, i + 1)
}
