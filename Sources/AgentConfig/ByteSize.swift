import Foundation

/// Parses sizes the way Prometheus's `body_size_limit` does (base 2: `KB` = `KiB` = 1024 bytes).
public enum ByteSize {
    private static let units: [(suffix: String, factor: Int)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40), ("B", 1),
    ]

    /// Bytes in `text` (`512`, `100KB`, `10MB`, `1GiB`), or nil when it is not a size.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let plain = Int(trimmed), plain >= 0 { return plain }
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            guard let number = Int(trimmed.dropLast(unit.suffix.count)), number >= 0 else { return nil }
            let (bytes, overflow) = number.multipliedReportingOverflow(by: unit.factor)
            return overflow ? nil : bytes
        }
        return nil
    }
}
