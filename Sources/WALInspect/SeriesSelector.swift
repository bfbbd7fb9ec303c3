import Relabel
import Model
import WAL

/// One condition on a label, as in a PromQL selector: `job="node"`, `job!="node"`,
/// `__name__=~"node_cpu.*"`, `mode!~"idle|iowait"`.
///
/// A label a series does not have counts as having the empty value, as in Prometheus. Regexes
/// are RE2 (Go's syntax) and match the whole value, as if written `^(?s:…)$`.
public struct LabelMatcher: Sendable, CustomStringConvertible {
    /// The four PromQL matching operators.
    public enum Operator: String, Sendable {
        case equal = "="
        case notEqual = "!="
        case matchesRegex = "=~"
        case notMatchesRegex = "!~"
    }

    /// The label's name (`__name__` for the metric name).
    public let name: String
    /// How the value is compared.
    public let op: Operator
    /// The value, or the regex for `=~` and `!~` (unanchored, as written).
    public let value: String
    private let regex: RE2Regex?

    /// - Throws: `RegexError` when `op` is a regex operator and `value` is not a valid RE2 regex.
    public init(name: String, op: Operator, value: String) throws(RegexError) {
        self.name = name
        self.op = op
        self.value = value
        switch op {
        case .equal, .notEqual:
            regex = nil
        case .matchesRegex, .notMatchesRegex:
            // Prometheus compiles "^(?s:" + value + ")$": anchored, and `.` matches newlines.
            do {
                regex = try RE2Regex("(?s:" + value + ")")
            } catch {
                throw RegexError(pattern: value, message: error.message)
            }
        }
    }

    /// Whether a label value (empty for a missing label) satisfies the matcher.
    public func matches(_ labelValue: String) -> Bool {
        switch op {
        case .equal: labelValue == value
        case .notEqual: labelValue != value
        case .matchesRegex: regex!.matches(labelValue)
        case .notMatchesRegex: !regex!.matches(labelValue)
        }
    }

    /// Whether a series' label set satisfies the matcher.
    public func matches(_ labels: Labels) -> Bool {
        matches(labels[name] ?? "")
    }

    /// `name="value"` with the value quoted as PromQL writes it.
    public var description: String {
        "\(name)\(op.rawValue)\"\(PrometheusFormat.escape(value))\""
    }
}

/// A PromQL series selector (`up{job="node"}`, `{__name__=~"node_cpu.*", mode!="idle"}`): a
/// series is selected when it satisfies every matcher.
public struct SeriesSelector: Sendable, CustomStringConvertible {
    /// The conditions, all of which a selected series satisfies (the metric name first when given).
    public let matchers: [LabelMatcher]

    /// A selector of these matchers (none: every series).
    public init(matchers: [LabelMatcher]) {
        self.matchers = matchers
    }

    /// Parses Prometheus's selector syntax: an optional metric name, then optionally
    /// `{matcher, …}` with `=`, `!=`, `=~`, `!~`, values in double quotes, single quotes or
    /// backticks (Go escapes in the quoted forms), quoted label names and a lone quoted metric
    /// name (`{"my.metric"}`), and an optional trailing comma.
    ///
    /// As in Prometheus, at least one matcher must not match the empty string (`{}` and
    /// `{job=~".*"}` are rejected), and the metric name may be given only once.
    ///
    /// - Throws: ``SelectorParseError`` naming the column (1-based, in characters) of the problem.
    public init(parsing text: String) throws(SelectorParseError) {
        var parser = SelectorParser(text)
        matchers = try parser.parse()
    }

    /// Whether the series satisfies every matcher.
    public func matches(_ labels: Labels) -> Bool {
        matchers.allSatisfy { $0.matches(labels) }
    }

    /// Whether a metric family could hold series this selector selects: its `__name__` matchers
    /// all accept the family name or one of the names the family's series may have (`_total`,
    /// `_created`, `_bucket`, `_count`, `_sum`, `_info` added, as OpenMetrics names a counter
    /// `x` and its series `x_total`). Selectors without a `__name__` matcher accept every family.
    /// Used for metadata records, which carry a family name and no other labels.
    public func matchesFamily(_ family: String) -> Bool {
        let names = matchers.filter { $0.name == "__name__" }
        guard !names.isEmpty else { return true }
        return Self.familySuffixes.contains { suffix in names.allSatisfy { $0.matches(family + suffix) } }
    }

    static let familySuffixes = ["", "_total", "_created", "_bucket", "_count", "_sum", "_info"]

    /// `{name="value", …}`.
    public var description: String {
        "{" + matchers.map(\.description).joined(separator: ", ") + "}"
    }
}

/// A `--match` selector that does not parse, with the 1-based column (in characters) where the
/// problem is.
public struct SelectorParseError: Error, Equatable, CustomStringConvertible {
    /// The selector as given.
    public let selector: String
    /// 1-based, in characters.
    public let column: Int
    /// What was expected or wrong there.
    public let message: String

    /// `invalid selector SELECTOR: column N: MESSAGE`.
    public var description: String {
        "invalid selector \(selector): column \(column): \(message)"
    }
}

/// A hand-written recursive-descent parser for one series selector.
struct SelectorParser {
    let text: String
    let chars: [Character]
    var i = 0

    init(_ text: String) {
        self.text = text
        chars = Array(text)
    }

    func error(_ message: String, at index: Int? = nil) -> SelectorParseError {
        SelectorParseError(selector: text, column: (index ?? i) + 1, message: message)
    }

    var current: String {
        i < chars.count ? "\"\(chars[i])\"" : "end of input"
    }

    mutating func skipSpace() {
        while i < chars.count, chars[i].isWhitespace { i += 1 }
    }

    static func isNameStart(_ c: Character, colon: Bool) -> Bool {
        c == "_" || (c.isASCII && c.isLetter) || (colon && c == ":")
    }

    static func isNameChar(_ c: Character, colon: Bool) -> Bool {
        isNameStart(c, colon: colon) || c.isASCIIDigit
    }

    mutating func identifier(colon: Bool) -> String? {
        guard i < chars.count, Self.isNameStart(chars[i], colon: colon) else { return nil }
        let start = i
        while i < chars.count, Self.isNameChar(chars[i], colon: colon) { i += 1 }
        return String(chars[start..<i])
    }

    mutating func parse() throws(SelectorParseError) -> [LabelMatcher] {
        var matchers: [LabelMatcher] = []
        var metricName: (name: String, at: Int)?
        skipSpace()
        if i < chars.count, Self.isNameStart(chars[i], colon: true) {
            let at = i
            metricName = (identifier(colon: true)!, at)
            skipSpace()
        }
        if i < chars.count, chars[i] == "{" {
            i += 1
            matchers = try matcherList(metricName: &metricName)
        } else if metricName == nil {
            throw error("expected a metric name or \"{\", found \(current)")
        }
        skipSpace()
        guard i == chars.count else {
            throw error("unexpected \(current) after the selector")
        }
        if let metricName {
            matchers.insert(try matcher("__name__", .equal, metricName.name, valueAt: metricName.at), at: 0)
        }
        guard matchers.contains(where: { !$0.matches("") }) else {
            throw error("vector selector must contain at least one non-empty matcher", at: 0)
        }
        return matchers
    }

    /// After `{`: matchers up to and including `}`.
    mutating func matcherList(metricName: inout (name: String, at: Int)?) throws(SelectorParseError) -> [LabelMatcher] {
        var matchers: [LabelMatcher] = []
        while true {
            skipSpace()
            guard i < chars.count else { throw error("unclosed \"{\": expected a label matcher or \"}\"") }
            if chars[i] == "}" { i += 1; return matchers }

            let nameAt = i
            let name: String
            var quotedName = false
            if chars[i] == "\"" || chars[i] == "'" || chars[i] == "`" {
                name = try string()
                quotedName = true
            } else if let identifier = identifier(colon: false) {
                name = identifier
            } else {
                throw error("expected a label name, found \(current)")
            }
            skipSpace()
            if quotedName, i < chars.count, chars[i] == "," || chars[i] == "}" {
                // `{"metric.name", …}`: a lone quoted string is the metric name.
                guard metricName == nil, !matchers.contains(where: { $0.name == "__name__" }) else {
                    throw error("metric name must not be set twice", at: nameAt)
                }
                metricName = (name, nameAt)
            } else {
                guard !name.isEmpty else { throw error("empty label name", at: nameAt) }
                let op = try matchOperator()
                skipSpace()
                guard i < chars.count, chars[i] == "\"" || chars[i] == "'" || chars[i] == "`" else {
                    throw error("expected a quoted label value after \(op.rawValue), found \(current)")
                }
                let valueAt = i
                let value = try string()
                if name == "__name__", metricName != nil {
                    throw error("metric name must not be set twice", at: nameAt)
                }
                matchers.append(try matcher(name, op, value, valueAt: valueAt))
            }
            skipSpace()
            guard i < chars.count else { throw error("unclosed \"{\": expected \",\" or \"}\"") }
            if chars[i] == "," { i += 1; continue }
            if chars[i] == "}" { i += 1; return matchers }
            throw error("expected \",\" or \"}\", found \(current)")
        }
    }

    func matcher(_ name: String, _ op: LabelMatcher.Operator, _ value: String, valueAt: Int) throws(SelectorParseError) -> LabelMatcher {
        do {
            return try LabelMatcher(name: name, op: op, value: value)
        } catch {
            throw self.error("invalid regular expression \"\(value)\": \(error.message)", at: valueAt)
        }
    }

    mutating func matchOperator() throws(SelectorParseError) -> LabelMatcher.Operator {
        guard i < chars.count else { throw error("expected \"=\", \"!=\", \"=~\" or \"!~\", found end of input") }
        let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
        switch (chars[i], next) {
        case ("=", "~"): i += 2; return .matchesRegex
        case ("=", _): i += 1; return .equal
        case ("!", "="): i += 2; return .notEqual
        case ("!", "~"): i += 2; return .notMatchesRegex
        default: throw error("expected \"=\", \"!=\", \"=~\" or \"!~\", found \(current)")
        }
    }

    /// A quoted string starting at `i`: "…" or '…' with Go escapes, or `…` raw.
    mutating func string() throws(SelectorParseError) -> String {
        let quote = chars[i]
        let start = i
        i += 1
        var out = ""
        while true {
            guard i < chars.count else { throw error("unterminated quoted string", at: start) }
            let c = chars[i]
            if c == quote { i += 1; return out }
            if quote != "`", c == "\n" { throw error("unterminated quoted string", at: start) }
            if quote != "`", c == "\\" {
                try escape(into: &out, quote: quote)
                continue
            }
            out.append(c)
            i += 1
        }
    }

    /// A Go escape sequence at `i` (which holds the backslash).
    mutating func escape(into out: inout String, quote: Character) throws(SelectorParseError) {
        let at = i
        i += 1
        guard i < chars.count else { throw error("unterminated quoted string") }
        let c = chars[i]
        i += 1
        switch c {
        case "a": out.append("\u{07}")
        case "b": out.append("\u{08}")
        case "f": out.append("\u{0C}")
        case "n": out.append("\n")
        case "r": out.append("\r")
        case "t": out.append("\t")
        case "v": out.append("\u{0B}")
        case "\\": out.append("\\")
        case _ where c == quote: out.append(c)
        case "x", "u", "U":
            let count = c == "x" ? 2 : c == "u" ? 4 : 8
            guard i + count <= chars.count, let n = UInt32(String(chars[i..<(i + count)]), radix: 16),
                chars[i..<(i + count)].allSatisfy(\.isHexDigit)
            else { throw error("invalid escape sequence \\\(c)", at: at) }
            i += count
            if c == "x" {
                // \xHH is a byte; only ASCII bytes make a character on their own.
                guard n < 0x80 else { throw error("\\x escapes above 7F are not supported", at: at) }
            }
            guard let scalar = Unicode.Scalar(n) else { throw error("invalid Unicode code point in escape", at: at) }
            out.unicodeScalars.append(scalar)
        case "0"..."7":
            guard i + 2 <= chars.count, let n = UInt32(String(c) + String(chars[i..<(i + 2)]), radix: 8),
                chars[i..<(i + 2)].allSatisfy({ ("0"..."7").contains($0) }), n < 0x80
            else { throw error("invalid octal escape sequence", at: at) }
            i += 2
            out.unicodeScalars.append(Unicode.Scalar(n)!)
        default:
            throw error("unknown escape sequence \\\(c)", at: at)
        }
    }
}
