import Model
import Testing
@testable import Relabel

/// Builds a config that the test table knows to be valid; a failure is reported as a test issue.
func config(
    _ action: RelabelAction = .replace,
    source: [String] = [],
    separator: String = RelabelConfig.defaultSeparator,
    regex: String = RelabelConfig.defaultRegex,
    modulus: UInt64 = 0,
    target: String = "",
    replacement: String = RelabelConfig.defaultReplacement,
    names: NameValidationScheme = .utf8
) -> RelabelConfig {
    do {
        return try RelabelConfig(
            sourceLabels: source, separator: separator, regex: regex, modulus: modulus,
            targetLabel: target, replacement: replacement, action: action, nameValidation: names)
    } catch {
        fatalError("test config is invalid: \(error)")
    }
}

func labels(_ pairs: [String: String]) -> Labels {
    Labels(pairs.map { Label($0.key, $0.value) })
}

/// One row of a relabeling table: input labels, the steps, and the expected output
/// (nil: dropped).
struct RelabelCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [String: String]
    let configs: [RelabelConfig]
    let expected: [String: String]?

    init(_ name: String, _ input: [String: String], _ configs: [RelabelConfig], _ expected: [String: String]?) {
        self.name = name
        self.input = input
        self.configs = configs
        self.expected = expected
    }

    var testDescription: String { name }

    func check(sourceLocation: SourceLocation = #_sourceLocation) {
        let result = Relabeler.process(labels(input), with: configs)
        if let expected {
            #expect(result == labels(expected), "\(name)", sourceLocation: sourceLocation)
        } else {
            #expect(result == nil, "\(name): expected the series to be dropped", sourceLocation: sourceLocation)
        }
    }
}
