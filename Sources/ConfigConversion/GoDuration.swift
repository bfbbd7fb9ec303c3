/// Grafana Agent's own settings (`max_wal_time`, `remote_flush_deadline`, …) are Go
/// `time.Duration`s: a sequence of decimal numbers, each with a unit (`ns`, `us`, `µs`, `ms`,
/// `s`, `m`, `h`), such as `1h30m`, `1.5h` or `300ms`; `0` alone is zero. Prometheus durations
/// (the agent's format) have no fractions but have `d`, `w` and `y`.
enum GoDuration {
    /// The duration `text` denotes, or nil when Go's `time.ParseDuration` would reject it.
    /// A leading sign is accepted as Go does; negative durations are returned as such.
    static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var total = Duration.zero
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let nanoseconds = unitNanoseconds[String(unit)] else { return nil }
            rest = rest.dropFirst(unit.count)
            total += .nanoseconds(Int64((value * nanoseconds).rounded()))
        }
        return negative ? .zero - total : total
    }

    private static let unitNanoseconds: [String: Double] = [
        "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
    ]
}
