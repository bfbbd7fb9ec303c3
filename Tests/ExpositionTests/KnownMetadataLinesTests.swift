import Model
import Testing

@testable import Exposition

/// HELP and TYPE lines a parser validated before are not validated again; everything the
/// parser reports must stay exactly what validating them gives.
@Suite struct KnownMetadataLinesTests {
    struct Parsed: Equatable {
        var metadata: [MetricMetadata]
        var fingerprint: UInt64
        var types: [MetricType?]
        var values: [Double]
        var error: String?
    }

    /// Parses `text` with `lines`, returning what it reported and the table.
    func parse(_ text: String, _ lines: KnownMetadataLines) -> (Parsed, KnownMetadataLines) {
        var parser = TextParser(Array(text.utf8), format: .prometheusText, knownMetadataLines: lines)
        var parsed = Parsed(metadata: [], fingerprint: 0, types: [], values: [])
        do {
            while let sample = try parser.next() {
                parsed.types.append(parser.type(of: sample))
                parsed.values.append(sample.value)
            }
        } catch {
            parsed.error = "\(error)"
        }
        parsed.metadata = parser.metadata
        parsed.fingerprint = parser.metadataFingerprint
        return (parsed, parser.takeKnownMetadataLines())
    }

    static let body = """
        # HELP a_total Requests \\\\ served\\n so far.
        # TYPE a_total counter
        a_total{x="1"} 3
        #   TYPE   h   histogram\t
        # HELP h  Latency, é.
        h_bucket{le="1"} 1
        h_sum 2
        h_count 1
        # a plain comment
        # TYPE g gauge
        g 5
        # HELP last no newline after it
        """

    @Test func aSecondParseWithKnownLinesReportsExactlyWhatValidationReports() throws {
        let (reference, _) = parse(Self.body, KnownMetadataLines())
        var lines = KnownMetadataLines()
        (_, lines) = parse(Self.body, lines)
        #expect(lines.count == 5)  // every HELP/TYPE line that ends with a newline
        let (second, after) = parse(Self.body, lines)
        #expect(second == reference)
        #expect(after.count == 5)
        #expect(reference.error == nil && reference.metadata.count == 4)
    }

    @Test func aChangedLineIsValidatedAgain() {
        var lines = KnownMetadataLines()
        (_, lines) = parse("# TYPE m counter\nm 1\n", lines)
        let (changed, _) = parse("# TYPE m counter2\nm 1\n", lines)
        #expect(changed.error != nil)
        let (other, _) = parse("# TYPE m gauge\nm 1\n", lines)
        #expect(other.metadata == [MetricMetadata(family: "m", type: .gauge, help: "", unit: "")])
        #expect(other.types == [.gauge])
    }

    @Test func errorsAfterKnownLinesKeepTheirLineNumbers() {
        let text = "# HELP m M.\n# TYPE m gauge\nm 1\nm{ 2\n"
        let (reference, lines) = parse(text, KnownMetadataLines())
        let (second, _) = parse(text, lines)
        #expect(reference.error != nil)
        #expect(second.error == reference.error)
    }

    @Test func theTableIsEmptiedWhenItOutgrowsTheBodies() {
        var lines = KnownMetadataLines()
        for n in 0..<40 {
            (_, lines) = parse("# HELP m text \(n) \(String(repeating: "x", count: n))\n# TYPE m gauge\nm 1\n", lines)
        }
        #expect(lines.count <= 2 * 2 + 64)
    }
}
