import Foundation
import Logging
import WAL

/// `scrape_failure_log_file`: one JSON line per scrape that failed to fetch its target, written
/// as Prometheus's `JSONFileLogger` (Go's `log/slog` JSON handler) writes them:
///
///     {"time":"2026-12-06T10:15:04.123+01:00","level":"ERROR","msg":"server returned HTTP status 500 Internal Server Error","job_name":"node","target":"http://10.0.0.1:9100/metrics"}
///
/// `time` is RFC 3339 in the local time zone with the fraction's trailing zeros dropped (Go's
/// `RFC3339Nano`, here to the millisecond); Prometheus's `source` (its Go file and line) has no
/// equivalent and is left out. Lines are written on the blocking-I/O pool, never on the
/// cooperative pool. A configuration load opens the file anew (so a rotated file is reopened on
/// reload); the previous descriptor closes once no write holds it.
final class ScrapeFailureLog: Sendable {
    private let file: AppendOnlyFile
    private let pool: BlockingIOPool
    private let logger: Logger

    var path: String { file.path }

    private init(file: AppendOnlyFile, pool: BlockingIOPool, logger: Logger) {
        self.file = file
        self.pool = pool
        self.logger = logger
    }

    /// Opens (creating if needed) the file at `path` for appending, on `pool`.
    static func open(path: String, pool: BlockingIOPool, logger: Logger) async throws -> ScrapeFailureLog {
        let file = try await pool.run { try AppendOnlyFile(path: path) }
        return ScrapeFailureLog(file: file, pool: pool, logger: logger)
    }

    /// Appends the line for one failed scrape; a write error is logged, not thrown (the scrape's
    /// outcome does not depend on it).
    func record(_ message: String, job: String, target: String, wallMilliseconds: Int64) async {
        let line = Self.line(message: message, job: job, target: target, wallMilliseconds: wallMilliseconds, timeZone: .current)
        do {
            try await pool.run { [file] in try file.append(Array(line.utf8)) }
        } catch {
            logger.warning("cannot write the scrape failure log", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }

    /// One JSON line (with its newline): `time`, `level`, `msg`, `job_name`, `target`, in that order.
    static func line(message: String, job: String, target: String, wallMilliseconds: Int64, timeZone: TimeZone) -> String {
        var line = #"{"time":""# + rfc3339(wallMilliseconds: wallMilliseconds, timeZone: timeZone) + #"","level":"ERROR","msg":"#
        appendJSONString(message, to: &line)
        line += #","job_name":"#
        appendJSONString(job, to: &line)
        line += #","target":"#
        appendJSONString(target, to: &line)
        return line + "}\n"
    }

    /// Go's `time.RFC3339Nano` layout (`2006-01-02T15:04:05.999999999Z07:00`) of a millisecond
    /// instant: the fraction without trailing zeros (none at all for a whole second), `Z` when
    /// the zone's offset is zero.
    static func rfc3339(wallMilliseconds: Int64, timeZone: TimeZone) -> String {
        let seconds = wallMilliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, millis) = seconds.remainder < 0 ? (seconds.quotient - 1, seconds.remainder + 1000) : seconds
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wholeSeconds)))
        let local = wholeSeconds + Int64(offset)
        let days = local.quotientAndRemainder(dividingBy: 86_400)
        let (day, secondOfDay) = days.remainder < 0 ? (days.quotient - 1, days.remainder + 86_400) : days
        let (year, month, dayOfMonth) = civil(fromDays: day)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var text = "\(year)-\(two(month))-\(two(dayOfMonth))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
        if millis > 0 {
            var fraction = String(millis + 1000).dropFirst()
            while fraction.last == "0" { fraction = fraction.dropLast() }
            text += "." + fraction
        }
        if offset == 0 { return text + "Z" }
        let sign = offset < 0 ? "-" : "+"
        let minutes = Int64(abs(offset) / 60)
        return text + sign + two(minutes / 60) + ":" + two(minutes % 60)
    }

    /// Year, month and day of the `days`-th day since 1970-01-01 (Howard Hinnant's algorithm).
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// A JSON string as Go's `log/slog` writes it: `"` and `\` escaped, `\n`, `\r`, `\t`, other
    /// control characters as `\u00XX`, U+2028 and U+2029 escaped; everything else as is.
    static func appendJSONString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u00" + (hex.count == 1 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
