import Model

/// What a relabeling step does, as named in Prometheus' `relabel_config.action`.
public enum RelabelAction: String, Sendable, CaseIterable {
    /// Matches `regex` against the joined source values; on a match, sets the label named by
    /// expanding `target_label` to the expansion of `replacement` (an empty result deletes it).
    case replace
    /// Drops the series/target unless `regex` matches the joined source values.
    case keep
    /// Drops the series/target when `regex` matches the joined source values.
    case drop
    /// Drops the series/target unless the joined source values equal `target_label`'s value.
    case keepequal
    /// Drops the series/target when the joined source values equal `target_label`'s value.
    case dropequal
    /// Sets `target_label` to MD5(joined source values) modulo `modulus`.
    case hashmod
    /// For every label whose name matches `regex`, copies its value to the label named by
    /// expanding `replacement` against the name.
    case labelmap
    /// Deletes every label whose name matches `regex`.
    case labeldrop
    /// Deletes every label whose name does not match `regex`.
    case labelkeep
    /// Sets `target_label` to the joined source values in lower case.
    case lowercase
    /// Sets `target_label` to the joined source values in upper case.
    case uppercase

    /// Parses an action name case-insensitively, as Prometheus does (`Replace`, `LABELMAP`).
    public init?(caseInsensitive name: String) {
        self.init(rawValue: GoCaseMapping.lowercased(name))
    }
}

/// Why a relabel configuration was rejected; the cases and their wording follow Prometheus'
/// `relabel.Config.Validate` (and its YAML decoding of `regex` and `source_labels`).
public enum RelabelConfigError: Error, Equatable, CustomStringConvertible {
    /// `regex` does not compile (as `^(?s:REGEX)$`); `message` is RE2's.
    case invalidRegex(regex: String, message: String)
    /// A `source_labels` entry is not a valid label name.
    case invalidSourceLabel(String)
    /// `hashmod` needs `modulus` > 0.
    case missingModulus
    /// The action needs a `target_label`.
    case missingTargetLabel(RelabelAction)
    /// `target_label` is not a valid label name (or, for `replace`, label-name template).
    case invalidTargetLabel(String, RelabelAction)
    /// `replacement` may not be set for this action.
    case replacementNotAllowed(RelabelAction)
    /// `replacement` is not a valid label-name template (for `labelmap`).
    case invalidReplacement(String, RelabelAction)
    /// `keepequal`/`dropequal` accept only `source_labels` and `target_label`.
    case onlySourceLabelsAndTargetLabelAllowed(RelabelAction)
    /// `labeldrop`/`labelkeep` accept only `regex`.
    case onlyRegexAllowed(RelabelAction)

    /// The configuration field at fault (its YAML name), or several for the "only" cases.
    public var field: String {
        switch self {
        case .invalidRegex: "regex"
        case .invalidSourceLabel: "source_labels"
        case .missingModulus: "modulus"
        case .missingTargetLabel, .invalidTargetLabel: "target_label"
        case .replacementNotAllowed, .invalidReplacement: "replacement"
        case .onlySourceLabelsAndTargetLabelAllowed: "regex, modulus, separator, replacement"
        case .onlyRegexAllowed: "source_labels, target_label, modulus, separator, replacement"
        }
    }

    public var description: String {
        switch self {
        case .invalidRegex(let regex, let message):
            "invalid 'regex' \"\(regex)\": \(message)"
        case .invalidSourceLabel(let name):
            "\"\(name)\" is not a valid label name in 'source_labels'"
        case .missingModulus:
            "relabel configuration for hashmod requires non-zero 'modulus'"
        case .missingTargetLabel(let action):
            "relabel configuration for \(action.rawValue) action requires 'target_label' value"
        case .invalidTargetLabel(let target, let action):
            "\"\(target)\" is invalid 'target_label' for \(action.rawValue) action"
        case .replacementNotAllowed(let action):
            "'replacement' can not be set for \(action.rawValue) action"
        case .invalidReplacement(let replacement, let action):
            "\"\(replacement)\" is invalid 'replacement' for \(action.rawValue) action"
        case .onlySourceLabelsAndTargetLabelAllowed(let action):
            "\(action.rawValue) action requires only 'source_labels' and 'target_label', and no other fields"
        case .onlyRegexAllowed(let action):
            "\(action.rawValue) action requires only 'regex', and no other fields"
        }
    }
}

/// One validated Prometheus `relabel_config`, with its regex compiled and its templates parsed,
/// ready to be applied by `Relabeler` any number of times from any thread.
public struct RelabelConfig: Sendable, Equatable, CustomStringConvertible {
    /// The default `separator`.
    public static let defaultSeparator = ";"
    /// The default `regex`.
    public static let defaultRegex = "(.*)"
    /// The default `replacement`.
    public static let defaultReplacement = "$1"

    /// Labels whose values are joined with `separator` (a missing label contributes "").
    public var sourceLabels: [String] { storage.sourceLabels }
    /// Joins the source values.
    public var separator: String { storage.separator }
    /// The regex as configured (it is matched anchored, as `^(?s:REGEX)$`).
    public var regex: String { storage.regex }
    /// The `hashmod` modulus; 0 means unset.
    public var modulus: UInt64 { storage.modulus }
    /// The label written by `replace` (a template), `hashmod`, `lowercase`, `uppercase`, or
    /// compared by `keepequal`/`dropequal`; "" when unset.
    public var targetLabel: String { storage.targetLabel }
    /// The value template of `replace`, or the name template of `labelmap`.
    public var replacement: String { storage.replacement }
    /// What this step does.
    public var action: RelabelAction { storage.action }
    /// The names `target_label` and `labelmap`'s `replacement` may produce: the scrape config's
    /// `metric_name_validation_scheme` (the global one for `write_relabel_configs`).
    public var nameValidation: NameValidationScheme { storage.nameValidation }

    /// Everything, behind one reference: a config is copied for every step applied, so copying
    /// must cost one retain, not one per field.
    let storage: Storage

    final class Storage: Sendable {
        let sourceLabels: [String]
        let separator: String
        let regex: String
        let modulus: UInt64
        let targetLabel: String
        let replacement: String
        let action: RelabelAction
        let nameValidation: NameValidationScheme
        /// The compiled `^(?s:REGEX)$`.
        let compiled: RE2Regex
        let targetTemplate: ExpandTemplate
        let replacementTemplate: ExpandTemplate
        /// `target_label` has no `$`: it needs no expansion and was validated as a label name.
        let targetIsStatic: Bool

        init(
            sourceLabels: [String], separator: String, regex: String, modulus: UInt64,
            targetLabel: String, replacement: String, action: RelabelAction, nameValidation: NameValidationScheme,
            compiled: RE2Regex
        ) {
            self.sourceLabels = sourceLabels
            self.separator = separator
            self.regex = regex
            self.modulus = modulus
            self.targetLabel = targetLabel
            self.replacement = replacement
            self.action = action
            self.nameValidation = nameValidation
            self.compiled = compiled
            self.targetTemplate = ExpandTemplate(targetLabel, regex: compiled)
            self.replacementTemplate = ExpandTemplate(replacement, regex: compiled)
            self.targetIsStatic = !targetLabel.contains("$")
        }
    }

    var compiled: RE2Regex { storage.compiled }

    /// Validates and compiles a relabel configuration. Defaults are Prometheus 3's.
    /// - Throws: `RelabelConfigError` naming the offending field, by the rules of Prometheus'
    ///   `relabel.Config.Validate` under `nameValidation`; `source_labels` are checked as
    ///   Prometheus 3 decodes them, as UTF-8 names whatever the scheme.
    public init(
        sourceLabels: [String] = [],
        separator: String = RelabelConfig.defaultSeparator,
        regex: String = RelabelConfig.defaultRegex,
        modulus: UInt64 = 0,
        targetLabel: String = "",
        replacement: String = RelabelConfig.defaultReplacement,
        action: RelabelAction = .replace,
        nameValidation: NameValidationScheme = .utf8
    ) throws(RelabelConfigError) {
        let compiled: RE2Regex
        do {
            compiled = try RE2Regex("^(?s:" + regex + ")$")
        } catch {
            throw .invalidRegex(regex: regex, message: error.message)
        }
        for name in sourceLabels where !NameValidationScheme.utf8.isValidLabelName(name) {
            throw .invalidSourceLabel(name)
        }
        try Self.validate(
            sourceLabels: sourceLabels, separator: separator, regex: regex, modulus: modulus,
            targetLabel: targetLabel, replacement: replacement, action: action, names: nameValidation)

        self.storage = Storage(
            sourceLabels: sourceLabels, separator: separator, regex: regex, modulus: modulus,
            targetLabel: targetLabel, replacement: replacement, action: action, nameValidation: nameValidation,
            compiled: compiled)
    }

    /// This configuration under another name validation scheme, validated again.
    public func validated(under nameValidation: NameValidationScheme) throws(RelabelConfigError) -> RelabelConfig {
        if nameValidation == self.nameValidation { return self }
        return try RelabelConfig(
            sourceLabels: sourceLabels, separator: separator, regex: regex, modulus: modulus,
            targetLabel: targetLabel, replacement: replacement, action: action, nameValidation: nameValidation)
    }

    private static func validate(
        sourceLabels: [String], separator: String, regex: String, modulus: UInt64,
        targetLabel: String, replacement: String, action: RelabelAction, names: NameValidationScheme
    ) throws(RelabelConfigError) {
        let isValid = { (name: String) in names.isValidLabelName(name) }
        // A name with `$` references: under UTF-8 any non-empty name; under legacy Prometheus's
        // `relabelTargetLegacy` pattern.
        let isValidTemplate = { (name: String) in names == .utf8 ? names.isValidLabelName(name) : LabelNames.isValidTemplate(name) }
        if action == .hashmod && modulus == 0 {
            throw .missingModulus
        }
        switch action {
        case .replace, .hashmod, .lowercase, .uppercase, .keepequal, .dropequal:
            if targetLabel.isEmpty { throw .missingTargetLabel(action) }
        default:
            break
        }
        if action == .replace {
            let valid = targetLabel.contains("$") ? isValidTemplate(targetLabel) : isValid(targetLabel)
            if !valid { throw .invalidTargetLabel(targetLabel, action) }
        }
        switch action {
        case .lowercase, .uppercase, .keepequal, .dropequal:
            if !isValid(targetLabel) { throw .invalidTargetLabel(targetLabel, action) }
            if replacement != defaultReplacement { throw .replacementNotAllowed(action) }
        default:
            break
        }
        if action == .labelmap && !isValidTemplate(replacement) {
            throw .invalidReplacement(replacement, action)
        }
        if action == .hashmod && !isValid(targetLabel) {
            throw .invalidTargetLabel(targetLabel, action)
        }
        if action == .keepequal || action == .dropequal {
            if regex != defaultRegex || modulus != 0 || separator != defaultSeparator
                || replacement != defaultReplacement
            {
                throw .onlySourceLabelsAndTargetLabelAllowed(action)
            }
        }
        if action == .labeldrop || action == .labelkeep {
            if !sourceLabels.isEmpty || !targetLabel.isEmpty || modulus != 0
                || separator != defaultSeparator || replacement != defaultReplacement
            {
                throw .onlyRegexAllowed(action)
            }
        }
    }

    public static func == (lhs: RelabelConfig, rhs: RelabelConfig) -> Bool {
        if lhs.storage === rhs.storage { return true }
        return lhs.sourceLabels == rhs.sourceLabels && lhs.separator == rhs.separator
            && lhs.regex == rhs.regex && lhs.modulus == rhs.modulus
            && lhs.targetLabel == rhs.targetLabel && lhs.replacement == rhs.replacement
            && lhs.action == rhs.action && lhs.nameValidation == rhs.nameValidation
    }

    /// The configuration in Prometheus' YAML field names, e.g.
    /// `{source_labels: [a, b], separator: ";", regex: "(.*)", target_label: "x", replacement: "$1", action: replace}`.
    public var description: String {
        var fields: [String] = []
        if !sourceLabels.isEmpty { fields.append("source_labels: [\(sourceLabels.joined(separator: ", "))]") }
        fields.append("separator: \(quoted(separator))")
        fields.append("regex: \(quoted(regex))")
        if modulus != 0 { fields.append("modulus: \(modulus)") }
        if !targetLabel.isEmpty { fields.append("target_label: \(quoted(targetLabel))") }
        fields.append("replacement: \(quoted(replacement))")
        fields.append("action: \(action.rawValue)")
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private func quoted(_ text: String) -> String {
        var out = "\""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out + "\""
    }
}

/// Label-name templates under Prometheus' legacy validation scheme.
enum LabelNames {
    /// Prometheus' `relabelTargetLegacy`: label-name characters and `$1` / `$name` / `${name}` references.
    static func isValidTemplate(_ template: String) -> Bool {
        relabelTarget.matches(template)
    }

    private static let relabelTarget: RE2Regex = {
        do {
            return try RE2Regex(#"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$"#)
        } catch {
            fatalError("relabelTarget does not compile: \(error)")
        }
    }()
}
