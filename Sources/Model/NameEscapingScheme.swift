/// How a target should escape metric and label names that are not valid under the legacy
/// scheme before exposing them: Prometheus's `model.EscapingScheme`, chosen by
/// `metric_name_escaping_scheme` and sent as the `escaping=` parameter of the scrape request's
/// Accept header (`text/plain;version=1.0.0;escaping=underscores`). The raw values are the
/// configuration and header spellings.
public enum NameEscapingScheme: String, Sendable, CaseIterable {
    /// No escaping: the agent accepts UTF-8 names as they are (Prometheus's `NoEscaping`).
    case allowUTF8 = "allow-utf-8"
    /// Every character a legacy name may not hold becomes `_`.
    case underscores
    /// `.` becomes `_dot_`, `_` becomes `__`, any other invalid character `__`.
    case dots
    /// A name that is not legacy-valid gets the prefix `U__`; `_` becomes `__`, any other
    /// invalid character `_<hex code point>_`.
    case values

    /// Prometheus's default for a validation scheme (`config.ToEscapingScheme` with an empty
    /// setting): ``allowUTF8`` under UTF-8 validation, ``underscores`` under legacy validation.
    public static func `default`(for validation: NameValidationScheme) -> NameEscapingScheme {
        validation == .legacy ? .underscores : .allowUTF8
    }

    /// `name` escaped by this scheme, as Prometheus's `model.EscapeName`: a legacy-valid name is
    /// left alone except by ``dots``, which always doubles underscores; the empty name stays
    /// empty. Characters are Unicode scalars (as Go ranges over runes), so a multi-byte
    /// character becomes one `_` under ``underscores``; legacy validity is the metric-name rule
    /// (colons allowed), for label names too, as in Prometheus.
    public func escape(_ name: String) -> String {
        guard !name.isEmpty else { return name }
        func isLegacy(_ c: Unicode.Scalar, at index: Int) -> Bool {
            switch c {
            case "a"..."z", "A"..."Z", "_", ":": true
            case "0"..."9": index > 0
            default: false
            }
        }
        let legacyValid = NameValidationScheme.legacy.isValidMetricName(name)
        var out = ""
        switch self {
        case .allowUTF8:
            return name
        case .underscores:
            if legacyValid { return name }
            for (i, c) in name.unicodeScalars.enumerated() {
                out.unicodeScalars.append(isLegacy(c, at: i) ? c : "_")
            }
        case .dots:
            for (i, c) in name.unicodeScalars.enumerated() {
                switch c {
                case "_": out += "__"
                case ".": out += "_dot_"
                default: if isLegacy(c, at: i) { out.unicodeScalars.append(c) } else { out += "__" }
                }
            }
        case .values:
            if legacyValid { return name }
            out = "U__"
            for (i, c) in name.unicodeScalars.enumerated() {
                if c == "_" {
                    out += "__"
                } else if isLegacy(c, at: i) {
                    out.unicodeScalars.append(c)
                } else {
                    out += "_" + String(c.value, radix: 16) + "_"
                }
            }
        }
        return out
    }
}
