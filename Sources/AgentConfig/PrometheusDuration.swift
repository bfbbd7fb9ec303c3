import Model
/// Parses and prints durations the way Prometheus's `model.Duration` does:
/// a sequence of `<number><unit>` with units `y`, `w`, `d`, `h`, `m`, `s`, `ms`, largest first,
/// each at most once (`1h30m`, `15s`, `500ms`), or a plain `0`.
public enum PrometheusDuration {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("y", 365 * 24 * 3_600_000), ("w", 7 * 24 * 3_600_000), ("d", 24 * 3_600_000),
        ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// The duration `text` denotes, or nil when it is not a valid Prometheus duration.
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var total: Int64 = 0
        var lastUnit = -1
        while index < bytes.count {
            var number: Int64 = 0
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                let (product, overflow) = number.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                number = product + Int64(bytes[index] - 0x30)
                index += 1
            }
            guard index > start, index < bytes.count else { return nil }
            // "ms" must be tried before "m".
            let unitIndex: Int
            if bytes[index] == UInt8(ascii: "m"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "s") {
                unitIndex = 6
                index += 2
            } else if let found = units.firstIndex(where: { $0.suffix.utf8.count == 1 && $0.suffix.utf8.first == bytes[index] }) {
                unitIndex = found
                index += 1
            } else {
                return nil
            }
            guard unitIndex > lastUnit else { return nil }
            lastUnit = unitIndex
            let (product, overflow) = number.multipliedReportingOverflow(by: units[unitIndex].milliseconds)
            guard !overflow else { return nil }
            total += product
        }
        return .milliseconds(total)
    }

    /// Formats `duration` as Prometheus prints it (`1m30s`, `15s`, `0s`).
    public static func format(_ duration: Duration) -> String {
        var ms = duration.milliseconds
        if ms == 0 { return "0s" }
        var out = ""
        for unit in units where ms >= unit.milliseconds {
            out += "\(ms / unit.milliseconds)\(unit.suffix)"
            ms %= unit.milliseconds
        }
        return out
    }
}
