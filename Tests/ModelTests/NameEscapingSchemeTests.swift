import Model
import Testing

/// Prometheus's `TestEscapeName` (prometheus/common, model/metric_test.go): one input, its
/// escaping under each scheme.
struct EscapingCase: Sendable, CustomTestStringConvertible {
    var input: String
    var underscores: String
    var dots: String
    var values: String
    var testDescription: String { input.isEmpty ? "empty name" : input }
}

@Suite struct NameEscapingSchemeTests {
    static let cases: [EscapingCase] = [
        EscapingCase(input: "", underscores: "", dots: "", values: ""),
        EscapingCase(
            input: "no:escaping_required", underscores: "no:escaping_required",
            dots: "no:escaping__required", values: "no:escaping_required"),
        EscapingCase(
            input: "mysystem.prod.west.cpu.load", underscores: "mysystem_prod_west_cpu_load",
            dots: "mysystem_dot_prod_dot_west_dot_cpu_dot_load", values: "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load"),
        EscapingCase(
            input: "mysystem.prod.west.cpu.load_total", underscores: "mysystem_prod_west_cpu_load_total",
            dots: "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total",
            values: "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total"),
        EscapingCase(
            input: "http.status:sum", underscores: "http_status:sum", dots: "http_dot_status:sum",
            values: "U__http_2e_status:sum"),
        EscapingCase(
            input: "label with 😱", underscores: "label_with__", dots: "label__with____",
            values: "U__label_20_with_20__1f631_"),
        EscapingCase(input: "花火", underscores: "__", dots: "____", values: "U___82b1__706b_"),
        EscapingCase(
            input: "label with \u{0100}", underscores: "label_with__", dots: "label__with____",
            values: "U__label_20_with_20__100_"),
        // Not in Prometheus's table: a leading digit is invalid, a later one is not.
        EscapingCase(input: "0a1", underscores: "_a1", dots: "__a1", values: "U___30_a1"),
    ]

    @Test(arguments: cases)
    func escapesAsPrometheus(_ c: EscapingCase) {
        #expect(NameEscapingScheme.allowUTF8.escape(c.input) == c.input)
        #expect(NameEscapingScheme.underscores.escape(c.input) == c.underscores)
        #expect(NameEscapingScheme.dots.escape(c.input) == c.dots)
        #expect(NameEscapingScheme.values.escape(c.input) == c.values)
    }

    @Test func escapedNamesAreLegacyValid() {
        for c in Self.cases where !c.input.isEmpty {
            for scheme in [NameEscapingScheme.underscores, .dots, .values] {
                #expect(NameValidationScheme.legacy.isValidMetricName(scheme.escape(c.input)), "\(scheme) \(c.input)")
            }
        }
    }

    @Test func configurationSpellingsAreTheHeaderValues() {
        #expect(NameEscapingScheme.allCases.map(\.rawValue) == ["allow-utf-8", "underscores", "dots", "values"])
        #expect(NameEscapingScheme(rawValue: "allow-utf-8") == .allowUTF8)
        #expect(NameEscapingScheme(rawValue: "Underscores") == nil)
    }

    @Test func defaultFollowsTheValidationScheme() {
        #expect(NameEscapingScheme.default(for: .utf8) == .allowUTF8)
        #expect(NameEscapingScheme.default(for: .legacy) == .underscores)
    }
}
