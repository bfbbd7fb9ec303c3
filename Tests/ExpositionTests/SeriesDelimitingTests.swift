import Model
import TestSupport
import Testing

@testable import Exposition

/// `nextSeries()` finds a series text without validating it; on every valid line it must end
/// where validation ends, since a scrape cache keys on those bytes and skips validation for them.
@Suite struct SeriesDelimitingTests {
    /// A valid text-format line whose label values mix quotes, braces, commas, backslash
    /// escapes and long runs, so that the 8-byte steps meet them at every offset.
    static func line(_ r: inout SeededGenerator) -> String {
        let pieces = ["a", "}", "{", ",", "=", " ", "\\\"", "\\\\", "\\n", "é", "x_y", "0123456789abcdef", "/api/{sku}"]
        var text = "m" + String(repeating: "_", count: r.below(9))
        let labels = r.below(5)
        if labels > 0 || r.below(2) == 0 {
            text += r.below(3) == 0 ? " {" : "{"
            for l in 0..<labels {
                text += "l\(l)=\""
                for _ in 0..<r.below(6) { text += pieces[r.below(pieces.count)] }
                text += "\""
                if l < labels - 1 || r.below(3) == 0 { text += "," }
            }
            text += "}"
        }
        // Blanks of any kind and length between tokens and at the end; a value may follow `}`
        // at once; the last line of a body may lack its newline.
        func blanks() -> String { [" ", "\t", " \t  "][r.below(3)] }
        text += text.hasSuffix("}") && r.below(4) == 0 ? "" : blanks()
        text += "\(r.below(100))" + (r.below(4) == 0 ? blanks() + "1700000000000" : "")
        return text + (r.below(4) == 0 ? blanks() : "") + (r.below(8) == 0 ? "" : "\n")
    }

    @Test func theSeriesFoundWithoutValidationEndsWhereValidationEnds() throws {
        var r = SeededGenerator(seed: 12)
        for _ in 0..<3000 {
            let body = Array(Self.line(&r).utf8)
            var validating = TextParser(body)
            let sample = try #require(try validating.next())
            var delimiting = TextParser(body)
            #expect(try delimiting.nextSeries() == sample.series, "\(String(decoding: body, as: UTF8.self))")
            #expect(try delimiting.finishSample(seriesIsKnownValid: true) == sample)
        }
    }

    @Test func aKnownValidSeriesSkipsOnlyTheSeriesChecks() throws {
        // `b` is delimited (from the end of its line) and trusted; its timestamp is still checked.
        var parser = TextParser(Array("a{x=\"1\",x=\"2\"} 1\nb 1 x\n".utf8))
        _ = try parser.nextSeries()
        // Trusted as the caller says (it had seen the same bytes validated): no duplicate check.
        #expect(try parser.finishSample(seriesIsKnownValid: true).value == 1)
        _ = try parser.nextSeries()
        #expect(throws: ExpositionError.self) { try parser.finishSample(seriesIsKnownValid: true) }
    }

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func anUnknownSeriesIsValidated(format: ExpositionFormat) throws {
        let lines = [
            "a{x=\"1\",x=\"2\"} 1\n", "a{x=1} 1\n", "a{x=\"1\" 1\n", "a{x=\"1\n\"} 1\n", "a{,} 1\n",
            // Names with a byte no name holds: delimited past it, rejected by validation.
            "fo-o{a=\"b\"} 1\n", "fo.o 1\n", "foé{a=\"b\"} 1\n", "foo\r 1\n", "foo}bar{a=\"b\"} 1\n", "foo\"x\" 1\n",
            // A newline inside the block: delimited into the next line, rejected by validation.
            "a{x=\"1\nb{y=\"2\"} 1\n", "a{x=\"1\\\nb{y=\"2\"} 1\n",
        ]
        for text in lines {
            var parser = TextParser(Array((text + (format == .openMetrics ? "# EOF\n" : "")).utf8), format: format)
            #expect(throws: ExpositionError.self, "\(text)") {
                _ = try parser.nextSeries()
                _ = try parser.finishSample(seriesIsKnownValid: false)
            }
        }
    }
}
