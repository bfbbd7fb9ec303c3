/// Which metric and label names are valid: Prometheus's `model.ValidationScheme`, chosen by
/// `metric_name_validation_scheme` (global and per scrape job).
///
/// - ``utf8`` (Prometheus 3's default): any non-empty, well-formed UTF-8 name.
/// - ``legacy``: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// Every name valid under ``legacy`` is valid under ``utf8``.
public enum NameValidationScheme: String, Sendable, CaseIterable {
    case utf8
    case legacy

    /// Whether `name` is a valid metric name (a `__name__` value) under this scheme.
    public func isValidMetricName(_ name: UnsafeRawBufferPointer) -> Bool {
        guard !name.isEmpty else { return false }
        switch self {
        case .utf8: return Self.isWellFormedUTF8(name)
        case .legacy: return Self.isLegacyName(name, colons: true)
        }
    }

    /// Whether `name` is a valid label name under this scheme.
    public func isValidLabelName(_ name: UnsafeRawBufferPointer) -> Bool {
        guard !name.isEmpty else { return false }
        switch self {
        case .utf8: return Self.isWellFormedUTF8(name)
        case .legacy: return Self.isLegacyName(name, colons: false)
        }
    }

    /// ``isValidMetricName(_:)`` for a String (well-formed UTF-8 by construction).
    public func isValidMetricName(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isValidMetricName(UnsafeRawBufferPointer($0)) }
    }

    /// ``isValidLabelName(_:)`` for a String (well-formed UTF-8 by construction).
    public func isValidLabelName(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isValidLabelName(UnsafeRawBufferPointer($0)) }
    }

    /// Whether every name of `labels` is valid under this scheme, and the value of `__name__`
    /// (if any) is a valid metric name: Prometheus's `labels.Labels.IsValid(scheme)`, which
    /// fails a scrape when a sample's final label set does not pass. (Label values are
    /// well-formed UTF-8 wherever the agent builds them: the parsers check them.)
    public func isValid(_ labels: Labels) -> Bool {
        var valid = true
        labels.forEach { name, value in
            guard valid else { return }
            if !isValidLabelName(name) {
                valid = false
            } else if name.elementsEqual(Self.metricNameLabel.utf8), !isValidMetricName(value) {
                valid = false
            }
        }
        return valid
    }

    private static let metricNameLabel = "__name__"

    /// `[a-zA-Z_]` first (and `:` with `colons`), then those and `[0-9]`; non-empty.
    @inline(__always)
    static func isLegacyName(_ name: UnsafeRawBufferPointer, colons: Bool) -> Bool {
        for (i, c) in name.enumerated() {
            let letter = (c | 0x20) &- UInt8(ascii: "a") < 26 || c == UInt8(ascii: "_") || (colons && c == UInt8(ascii: ":"))
            if letter { continue }
            if i > 0, c &- UInt8(ascii: "0") < 10 { continue }
            return false
        }
        return true
    }

    /// Well-formed UTF-8 as Go's `utf8.Valid` decides (no overlong forms, no surrogates,
    /// nothing above U+10FFFF); ASCII takes a short path.
    static func isWellFormedUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
