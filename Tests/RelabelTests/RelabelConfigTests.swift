import Model
import Testing
@testable import Relabel

@Suite struct RelabelConfigTests {
    @Test func defaultsAreThoseOfPrometheus() throws {
        let step = try RelabelConfig(targetLabel: "t")
        #expect(step.sourceLabels == [])
        #expect(step.separator == ";")
        #expect(step.regex == "(.*)")
        #expect(step.modulus == 0)
        #expect(step.replacement == "$1")
        #expect(step.action == .replace)
        #expect(step.compiled.pattern == "^(?s:(.*))$")
    }

    @Test func keepsTheOriginalRegexTextForPrinting() throws {
        let step = try RelabelConfig(sourceLabels: ["a", "b"], regex: "x|\"y\"", targetLabel: "t")
        #expect(step.regex == "x|\"y\"")
        #expect(step.description
            == #"{source_labels: [a, b], separator: ";", regex: "x|\"y\"", target_label: "t", replacement: "$1", action: replace}"#)
    }

    @Test func actionsParseCaseInsensitively() {
        #expect(RelabelAction(caseInsensitive: "LabelMap") == .labelmap)
        #expect(RelabelAction(caseInsensitive: "KEEPEQUAL") == .keepequal)
        #expect(RelabelAction(caseInsensitive: "nope") == nil)
        #expect(RelabelAction.allCases.count == 11)
    }

    @Test func equalityIgnoresTheCompiledRegex() throws {
        #expect(try RelabelConfig(regex: "a", targetLabel: "t") == RelabelConfig(regex: "a", targetLabel: "t"))
        #expect(try RelabelConfig(regex: "a", targetLabel: "t") != RelabelConfig(regex: "b", targetLabel: "t"))
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var action: RelabelAction = .replace
        var source: [String] = []
        var separator = ";"
        var regex = "(.*)"
        var modulus: UInt64 = 0
        var target = ""
        var replacement = "$1"
        let error: RelabelConfigError
        let field: String
        /// The table is Prometheus's legacy-scheme validation; UTF-8 rows say so.
        var names: NameValidationScheme = .legacy

        var testDescription: String { error.description }

        func make() throws(RelabelConfigError) -> RelabelConfig {
            try RelabelConfig(sourceLabels: source, separator: separator, regex: regex, modulus: modulus,
                              targetLabel: target, replacement: replacement, action: action, nameValidation: names)
        }
    }

    static let invalid: [Invalid] = [
        Invalid(action: .keep, regex: "(?=x)", error: .invalidRegex(regex: "(?=x)", message: "invalid perl operator: (?="), field: "regex"),
        Invalid(action: .keep, regex: #"(a)\1"#, error: .invalidRegex(regex: #"(a)\1"#, message: #"invalid escape sequence: \1"#), field: "regex"),
        Invalid(action: .keep, regex: "[a", error: .invalidRegex(regex: "[a", message: "missing ]: [a)$"), field: "regex"),
        Invalid(action: .keep, source: ["ok", ""], error: .invalidSourceLabel(""), field: "source_labels"),
        Invalid(action: .keep, source: [""], error: .invalidSourceLabel(""), field: "source_labels", names: .utf8),
        Invalid(action: .replace, target: "", error: .missingTargetLabel(.replace), field: "target_label", names: .utf8),
        Invalid(action: .labelmap, replacement: "", error: .invalidReplacement("", .labelmap), field: "replacement", names: .utf8),
        Invalid(action: .hashmod, target: "t", error: .missingModulus, field: "modulus"),
        Invalid(action: .hashmod, modulus: 8, error: .missingTargetLabel(.hashmod), field: "target_label"),
        Invalid(action: .replace, error: .missingTargetLabel(.replace), field: "target_label"),
        Invalid(action: .lowercase, error: .missingTargetLabel(.lowercase), field: "target_label"),
        Invalid(action: .uppercase, error: .missingTargetLabel(.uppercase), field: "target_label"),
        Invalid(action: .keepequal, error: .missingTargetLabel(.keepequal), field: "target_label"),
        Invalid(action: .dropequal, error: .missingTargetLabel(.dropequal), field: "target_label"),
        Invalid(action: .replace, target: "1abc", error: .invalidTargetLabel("1abc", .replace), field: "target_label"),
        Invalid(action: .replace, target: "a-b", error: .invalidTargetLabel("a-b", .replace), field: "target_label"),
        Invalid(action: .replace, target: "$1-x", error: .invalidTargetLabel("$1-x", .replace), field: "target_label"),
        Invalid(action: .replace, target: "foo$", error: .invalidTargetLabel("foo$", .replace), field: "target_label"),
        Invalid(action: .replace, target: "${}", error: .invalidTargetLabel("${}", .replace), field: "target_label"),
        Invalid(action: .lowercase, target: "$1", error: .invalidTargetLabel("$1", .lowercase), field: "target_label"),
        Invalid(action: .uppercase, target: "a.b", error: .invalidTargetLabel("a.b", .uppercase), field: "target_label"),
        Invalid(action: .keepequal, target: "a b", error: .invalidTargetLabel("a b", .keepequal), field: "target_label"),
        Invalid(action: .hashmod, modulus: 8, target: "$1", error: .invalidTargetLabel("$1", .hashmod), field: "target_label"),
        Invalid(action: .lowercase, target: "t", replacement: "x", error: .replacementNotAllowed(.lowercase), field: "replacement"),
        Invalid(action: .uppercase, target: "t", replacement: "", error: .replacementNotAllowed(.uppercase), field: "replacement"),
        Invalid(action: .dropequal, target: "t", replacement: "x", error: .replacementNotAllowed(.dropequal), field: "replacement"),
        Invalid(action: .labelmap, replacement: "a-$1", error: .invalidReplacement("a-$1", .labelmap), field: "replacement"),
        Invalid(action: .labelmap, replacement: "", error: .invalidReplacement("", .labelmap), field: "replacement"),
        Invalid(action: .keepequal, regex: "x", target: "t", error: .onlySourceLabelsAndTargetLabelAllowed(.keepequal),
                field: "regex, modulus, separator, replacement"),
        Invalid(action: .keepequal, modulus: 3, target: "t", error: .onlySourceLabelsAndTargetLabelAllowed(.keepequal),
                field: "regex, modulus, separator, replacement"),
        Invalid(action: .dropequal, separator: ",", target: "t", error: .onlySourceLabelsAndTargetLabelAllowed(.dropequal),
                field: "regex, modulus, separator, replacement"),
        Invalid(action: .labeldrop, source: ["a"], error: .onlyRegexAllowed(.labeldrop),
                field: "source_labels, target_label, modulus, separator, replacement"),
        Invalid(action: .labeldrop, target: "t", error: .onlyRegexAllowed(.labeldrop),
                field: "source_labels, target_label, modulus, separator, replacement"),
        Invalid(action: .labelkeep, modulus: 2, error: .onlyRegexAllowed(.labelkeep),
                field: "source_labels, target_label, modulus, separator, replacement"),
        Invalid(action: .labelkeep, separator: ",", error: .onlyRegexAllowed(.labelkeep),
                field: "source_labels, target_label, modulus, separator, replacement"),
        Invalid(action: .labelkeep, replacement: "x", error: .onlyRegexAllowed(.labelkeep),
                field: "source_labels, target_label, modulus, separator, replacement"),
    ]

    @Test(arguments: invalid)
    func rejects(_ row: Invalid) {
        #expect(throws: row.error) { try row.make() }
        #expect(row.error.field == row.field)
    }

    /// Prometheus 3 (`relabel.Config.Validate` with `model.UTF8Validation`): any non-empty
    /// UTF-8 name is a valid target or labelmap result; source labels are UTF-8 names under
    /// either scheme.
    @Test func utf8ValidationAcceptsTheNamesLegacyRejects() throws {
        for target in ["1abc", "a-b", "a.b", "a b", "$1-x", "foo$", "${}", "служба"] {
            #expect(try RelabelConfig(targetLabel: target).nameValidation == .utf8)
            #expect(throws: RelabelConfigError.invalidTargetLabel(target, .replace)) {
                try RelabelConfig(targetLabel: target, nameValidation: .legacy)
            }
        }
        for action in [RelabelAction.lowercase, .uppercase, .keepequal] {
            _ = try RelabelConfig(targetLabel: "a.b", action: action)
        }
        _ = try RelabelConfig(modulus: 8, targetLabel: "shard.id", action: .hashmod)
        _ = try RelabelConfig(regex: "k8s_(.+)", replacement: "k8s.$1", action: .labelmap)
        for scheme in NameValidationScheme.allCases {
            _ = try RelabelConfig(sourceLabels: ["not-ok", "service.name"], action: .keep, nameValidation: scheme)
        }
    }

    @Test func aConfigIsValidatedAgainUnderAnotherScheme() throws {
        let utf8 = try RelabelConfig(targetLabel: "a.b")
        #expect(throws: RelabelConfigError.invalidTargetLabel("a.b", .replace)) { try utf8.validated(under: .legacy) }
        let legacy = try RelabelConfig(targetLabel: "a_b").validated(under: .legacy)
        #expect(legacy.nameValidation == .legacy)
        #expect(try legacy != RelabelConfig(targetLabel: "a_b"))
    }

    @Test(arguments: [
        (RelabelConfigError.missingModulus, "relabel configuration for hashmod requires non-zero 'modulus'"),
        (.missingTargetLabel(.replace), "relabel configuration for replace action requires 'target_label' value"),
        (.invalidTargetLabel("a-b", .replace), "\"a-b\" is invalid 'target_label' for replace action"),
        (.replacementNotAllowed(.lowercase), "'replacement' can not be set for lowercase action"),
        (.invalidReplacement("a-b", .labelmap), "\"a-b\" is invalid 'replacement' for labelmap action"),
        (.onlySourceLabelsAndTargetLabelAllowed(.keepequal),
         "keepequal action requires only 'source_labels' and 'target_label', and no other fields"),
        (.onlyRegexAllowed(.labeldrop), "labeldrop action requires only 'regex', and no other fields"),
        (.invalidSourceLabel("a-b"), "\"a-b\" is not a valid label name in 'source_labels'"),
        (.invalidRegex(regex: "(?=x)", message: "invalid perl operator: (?="), "invalid 'regex' \"(?=x)\": invalid perl operator: (?="),
    ])
    func messagesNameTheField(error: RelabelConfigError, message: String) {
        #expect(error.description == message)
    }

    struct Valid: Sendable, CustomTestStringConvertible {
        var action: RelabelAction = .replace
        var source: [String] = []
        var separator = ";"
        var regex = "(.*)"
        var modulus: UInt64 = 0
        var target = ""
        var replacement = "$1"
        let testDescription: String
    }

    @Test(arguments: [
        Valid(target: "${1}_x", testDescription: "replace target template"),
        Valid(target: "$1x", testDescription: "replace target $1x (valid template, empty at run time)"),
        Valid(target: "a_${name}_b$2", testDescription: "replace target mixed template"),
        Valid(action: .keep, source: ["a"], regex: "x", modulus: 9, target: "t", replacement: "r",
              testDescription: "keep ignores the other fields"),
        Valid(action: .drop, regex: "", testDescription: "drop with an empty regex"),
        Valid(action: .labelmap, regex: "__meta_(.+)", testDescription: "labelmap default replacement"),
        Valid(action: .labelmap, replacement: "k8s_${1}", testDescription: "labelmap template replacement"),
        Valid(action: .labelmap, replacement: "fixed", testDescription: "labelmap literal replacement"),
        Valid(action: .labeldrop, regex: "__meta_.*", testDescription: "labeldrop with regex only"),
        Valid(action: .labelkeep, testDescription: "labelkeep with defaults"),
        Valid(action: .hashmod, source: ["a"], modulus: 1, target: "t", testDescription: "hashmod"),
        Valid(action: .keepequal, source: ["a"], target: "b", testDescription: "keepequal"),
        Valid(action: .dropequal, target: "b", testDescription: "dropequal without sources"),
        Valid(action: .lowercase, source: ["a"], target: "b", testDescription: "lowercase"),
        Valid(action: .uppercase, source: ["a"], target: "b", testDescription: "uppercase"),
        Valid(regex: "a)(b", target: "t", testDescription: "a regex escaping the anchoring group, as Prometheus allows"),
    ])
    func accepts(_ row: Valid) throws {
        _ = try RelabelConfig(sourceLabels: row.source, separator: row.separator, regex: row.regex, modulus: row.modulus,
                              targetLabel: row.target, replacement: row.replacement, action: row.action)
    }
}
