import Model
import Testing

@Suite struct NameValidationSchemeTests {
    /// Prometheus's `TestValidationScheme_IsMetricNameValid` and `_IsLabelNameValid` (prometheus/common,
    /// model/metric_test.go, model/labels_test.go): name, legacy-valid, UTF-8-valid.
    static let metricNames: [(String, Bool, Bool)] = [
        ("Avalid_23name", true, true),
        ("_Avalid_23name", true, true),
        ("1valid_23name", false, true),
        ("avalid_23name", true, true),
        ("Ava:lid_23name", true, true),
        ("a lid_23name", false, true),
        (":leading_colon", true, true),
        ("colon:in:the:middle", true, true),
        ("", false, false),
        ("dot.in.name", false, true),
    ]

    static let labelNames: [(String, Bool, Bool)] = [
        ("Avalid_23name", true, true),
        ("_Avalid_23name", true, true),
        ("1valid_23name", false, true),
        ("avalid_23name", true, true),
        ("Ava:lid_23name", false, true),
        ("a lid_23name", false, true),
        (":leading_colon", false, true),
        ("colon:in:the:middle", false, true),
        ("dot.in.name", false, true),
        ("", false, false),
    ]

    @Test func metricNamesAsPrometheus() {
        for (name, legacy, utf8) in Self.metricNames {
            #expect(NameValidationScheme.legacy.isValidMetricName(name) == legacy, "\(name)")
            #expect(NameValidationScheme.utf8.isValidMetricName(name) == utf8, "\(name)")
        }
    }

    @Test func labelNamesAsPrometheus() {
        for (name, legacy, utf8) in Self.labelNames {
            #expect(NameValidationScheme.legacy.isValidLabelName(name) == legacy, "\(name)")
            #expect(NameValidationScheme.utf8.isValidLabelName(name) == utf8, "\(name)")
        }
    }

    /// Prometheus's `"a\xc5z"` case, and other malformed sequences Go's `utf8.Valid` rejects.
    @Test func malformedUTF8IsInvalidUnderEveryScheme() {
        for bytes: [UInt8] in [[0x61, 0xC5, 0x7A], [0xFF], [0x61, 0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80]] {
            bytes.withUnsafeBytes { raw in
                #expect(!NameValidationScheme.utf8.isValidLabelName(raw), "\(bytes)")
                #expect(!NameValidationScheme.utf8.isValidMetricName(raw), "\(bytes)")
                #expect(!NameValidationScheme.legacy.isValidLabelName(raw), "\(bytes)")
            }
        }
        ([0xE8, 0x8A, 0xB1] as [UInt8]).withUnsafeBytes { raw in #expect(NameValidationScheme.utf8.isValidLabelName(raw)) }
    }

    @Test func labelSetsAreCheckedNameByNameAndTheMetricNameByItsRule() {
        let utf8Names = Labels(["__name__": "http.requests", "service.name": "a"])
        #expect(NameValidationScheme.utf8.isValid(utf8Names))
        #expect(!NameValidationScheme.legacy.isValid(utf8Names))
        // A colon is fine in a metric name, not in a label name.
        #expect(NameValidationScheme.legacy.isValid(Labels(["__name__": "job:rate5m", "a": "x"])))
        #expect(!NameValidationScheme.legacy.isValid(Labels(["__name__": "a", "b:c": "x"])))
        #expect(NameValidationScheme.legacy.isValid(Labels(["a": "x.y"])))  // values are free
        #expect(!NameValidationScheme.legacy.isValid(Labels(["__name__": "1abc"])))
    }
}
