import Model
import WAL

/// Text forms of sample values, timestamps and label sets, as Prometheus prints them.
public enum PrometheusFormat {
    /// The bit pattern Prometheus writes as a staleness marker (a NaN with payload 2).
    public static let staleMarkerBits: UInt64 = 0x7ff0_0000_0000_0002

    /// Whether `value` is the staleness marker (compared by bit pattern: any other NaN is not).
    public static func isStaleMarker(_ value: Double) -> Bool {
        value.bitPattern == staleMarkerBits
    }

    /// `value` as Prometheus's HTTP API writes sample values: the shortest decimal that reads back
    /// as the same double, in plain notation, or in exponent notation (`1e-07`, `1.5e+21`) when
    /// the magnitude is below 1e-6 or at least 1e21; `NaN`, `+Inf`, `-Inf`. (Go's
    /// `strconv.FormatFloat` with format `f` or `e` and precision -1, as `jsonutil.MarshalFloat`.)
    public static func value(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 1e15, value != 0 {
            return String(Int64(value))  // integers: the common case, and no exponent below 1e21
        }
        let sign = value.sign == .minus ? "-" : ""
        let (digits, point) = shortestDigits(abs(value))
        if digits.isEmpty { return sign + "0" }
        let magnitude = abs(value)
        if magnitude < 1e-6 || magnitude >= 1e21 {
            // d.ddde±XX, at least two exponent digits.
            let exponent = point - 1
            var out = sign + String(digits.first!)
            if digits.count > 1 { out += "." + String(digits.dropFirst()) }
            let e = String(abs(exponent))
            return out + "e" + (exponent < 0 ? "-" : "+") + (e.count < 2 ? "0" + e : e)
        }
        if point <= 0 {
            return sign + "0." + String(repeating: "0", count: -point) + String(digits)
        }
        if point >= digits.count {
            return sign + String(digits) + String(repeating: "0", count: point - digits.count)
        }
        return sign + String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
    }

    /// The shortest round-trip decimal digits of a finite, non-negative `value` (no leading or
    /// trailing zeros; empty for zero) and the position of the decimal point relative to them:
    /// value = 0.DIGITS × 10^point.
    static func shortestDigits(_ value: Double) -> (digits: [Character], point: Int) {
        // Swift's description is the shortest representation that round-trips, as Go's -1
        // precision is; it only remains to move the decimal point.
        let text = value.description  // "123.45", "1e-07", "1.5e+21", "0.0"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits: [Character] = []
        var point = 0
        var seenPoint = false
        for ch in mantissa {
            if ch == "." { seenPoint = true; continue }
            digits.append(ch)
            if !seenPoint { point += 1 }
        }
        point += exponent
        while let first = digits.first, first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while let last = digits.last, last == "0" { digits.removeLast() }
        return (digits, point)
    }

    /// Milliseconds since the epoch as RFC 3339 in UTC with millisecond precision:
    /// `2024-01-02T03:04:05.678Z`.
    public static func time(milliseconds: Int64) -> String {
        let (days, msOfDay) = floorDivide(milliseconds, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let hour = msOfDay / 3_600_000
        let minute = msOfDay / 60_000 % 60
        let second = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(ms, 3))Z"
    }

    /// `{__name__="up", job="node"}`: every label, `__name__` included, in the set's (sorted)
    /// order, values escaped as in PromQL strings (`\\`, `\"`, `\n`).
    public static func labels(_ labels: Labels) -> String {
        "{" + labels.pairs.map { "\($0.name)=\"\(escape($0.value))\"" }.joined(separator: ", ") + "}"
    }

    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return value }
        var out = ""
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func pad(_ n: Int64, _ width: Int) -> String {
        let digits = String(abs(n))
        let padded = digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        return n < 0 ? "-" + padded : padded
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var q = a / b
        var r = a % b
        if r < 0 { q -= 1; r += b }
        return (q, r)
    }

    /// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
    /// `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097).quotient
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400).quotient
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// A `--from`/`--to` argument that is neither RFC 3339 nor Unix seconds.
public struct TimeArgumentError: Error, Equatable, CustomStringConvertible {
    /// The argument as given.
    public let text: String

    /// What was wrong and which forms are accepted.
    public var description: String {
        "invalid time \"\(text)\": expected RFC 3339 (2024-01-02T03:04:05Z, 2024-01-02T04:04:05.5+01:00) or Unix seconds (1704164645, 1704164645.5)"
    }
}

/// Parses the times `--from` and `--to` accept.
public enum TimeArgument {
    /// Milliseconds since the epoch of RFC 3339 text (`2024-01-02T03:04:05Z`, optional fraction,
    /// `Z` or `±hh:mm`) or of Unix seconds (`1704164645`, `1704164645.250`, negative allowed).
    /// Fractions finer than a millisecond are cut off.
    public static func milliseconds(_ text: String) throws(TimeArgumentError) -> Int64 {
        if let ms = unixSeconds(text) ?? rfc3339(text) { return ms }
        throw TimeArgumentError(text: text)
    }

    static func unixSeconds(_ text: String) -> Int64? {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" { negative = true; rest = rest.dropFirst() }
        let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
            let seconds = Int64(whole), seconds <= Int64.max / 1000 - 1
        else { return nil }
        var ms = seconds * 1000
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
            let three = String(fraction.prefix(3)).padding(toLength: 3, withPad: "0", startingAt: 0)
            ms += Int64(three)!
        }
        return negative ? -ms : ms
    }

    static func rfc3339(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= u.count else { return nil }
            var n: Int64 = 0
            for b in u[from..<(from + count)] {
                guard b >= 48 && b <= 57 else { return nil }
                n = n * 10 + Int64(b - 48)
            }
            return n
        }
        func byte(_ i: Int, _ options: String) -> Bool { i < u.count && options.utf8.contains(u[i]) }
        guard let year = number(0, 4), byte(4, "-"), let month = number(5, 2), byte(7, "-"),
            let day = number(8, 2), byte(10, "Tt "), let hour = number(11, 2), byte(13, ":"),
            let minute = number(14, 2), byte(16, ":"), let second = number(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23,
            minute <= 59, second <= 60
        else { return nil }
        var i = 19
        var ms: Int64 = 0
        if byte(i, ".") {
            i += 1
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
            guard i > start else { return nil }
            let digits = String(decoding: u[start..<min(i, start + 3)], as: UTF8.self)
            ms = Int64(digits.padding(toLength: 3, withPad: "0", startingAt: 0))!
        }
        var offsetMinutes: Int64 = 0
        if byte(i, "Zz") {
            i += 1
        } else if byte(i, "+-") {
            let negative = u[i] == UInt8(ascii: "-")
            guard let h = number(i + 1, 2), byte(i + 3, ":"), let m = number(i + 4, 2), h <= 23, m <= 59 else { return nil }
            offsetMinutes = (h * 60 + m) * (negative ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        let days = PrometheusFormat.days(year: year, month: month, day: day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1000 + ms
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Builds one JSON object by hand, keys in the order they are added (so output is stable).
struct JSONObject {
    private(set) var text = "{"
    private var empty = true

    private mutating func key(_ key: String) {
        if !empty { text += "," }
        empty = false
        text += JSONObject.quote(key) + ":"
    }

    mutating func add(_ name: String, _ value: String) { key(name); text += JSONObject.quote(value) }
    mutating func add(_ name: String, _ value: Int) { key(name); text += String(value) }
    mutating func add(_ name: String, _ value: Int64) { key(name); text += String(value) }
    mutating func add(_ name: String, _ value: UInt64) { key(name); text += String(value) }
    mutating func add(_ name: String, _ value: Bool) { key(name); text += value ? "true" : "false" }
    mutating func addNull(_ name: String) { key(name); text += "null" }
    mutating func add(_ name: String, raw: String) { key(name); text += raw }
    mutating func add(_ name: String, _ value: Labels) {
        var object = JSONObject()
        for label in value.pairs { object.add(label.name, label.value) }
        add(name, raw: object.finished)
    }

    var finished: String { text + "}" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
