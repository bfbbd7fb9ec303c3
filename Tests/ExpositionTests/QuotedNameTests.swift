import Model
import TestSupport
import Testing

@testable import Exposition

/// UTF-8 metric and label names, quoted as Prometheus 3 writes and reads them, in both formats.
/// The fixtures `utf8.prom` and `utf8.om` are the inputs of Prometheus's `TestUTF8PromParse` and
/// `TestOpenMetricsParse_UTF8` (model/textparse, v3.14); the OpenMetrics one has its two
/// exemplar series renamed from `_count` to `_total`, since this parser keeps Prometheus 2.42's
/// rule that only `_total` and `_bucket` series carry exemplars.
@Suite struct QuotedNameTests {
    static let heizName = "Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}"
    static let strangeLabel = "strange©™\n'quoted' \"name\""

    /// Every sample of `body` in `format`, with labels built on the validated path.
    static func samples(_ body: [UInt8], _ format: ExpositionFormat) throws -> [(labels: [String: String], value: Double)] {
        var parser = TextParser(body, format: format)
        var result: [(labels: [String: String], value: Double)] = []
        while let sample = try parser.next() {
            result.append((try parser.labels(of: sample).dictionary, sample.value))
        }
        return result
    }

    @Test func textFormatFixtureParsesAsInPrometheus() throws {
        let body = try FixtureTests.fixture("utf8.prom")
        let samples = try Self.samples(body, .prometheusText)
        let gc = "go.gc_duration_seconds"
        let expected: [([String: String], Double)] = [
            (["__name__": gc, "quantile": "0"], 4.9351e-05),
            (["__name__": gc, "quantile": "0.25"], 7.424100000000001e-05),
            (["__name__": gc, "quantile": "0.5", "a": "b"], 8.3835e-05),
            (["__name__": gc, "quantile": "0.8", "a": "b"], 8.3835e-05),
            (["__name__": gc, "quantile": "0.9", "a": "b"], 8.3835e-05),
            (["__name__": gc, "quantile": "1.0", "a": "b"], 8.3835e-05),
            (["__name__": gc, "quantile": "1.0", "a": "b"], 8.3835e-05),
            (["__name__": gc, "quantile": "1.0", "a": "b"], 8.3835e-05),
            (["__name__": gc, "quantile": "1.0", "a": "b"], 8.3835e-05),
            (["__name__": "go.gc_duration_seconds_count"], 99),
            (["__name__": Self.heizName, Self.strangeLabel: "6"], 10),
        ]
        #expect(samples.count == expected.count)
        for (got, want) in zip(samples, expected) {
            #expect(got.labels == want.0)
            #expect(got.value == want.1)
        }
        var parser = TextParser(body)
        var types: [MetricType?] = []
        while let sample = try parser.next() { types.append(parser.type(of: sample)) }
        #expect(types == [MetricType?](repeating: .summary, count: 10) + [nil])
        #expect(parser.metadata == [MetricMetadata(family: gc, type: .summary, help: "A summary of the GC invocation durations.", unit: "")])
    }

    @Test func openMetricsFixtureParsesAsInPrometheus() throws {
        let body = try FixtureTests.fixture("utf8.om")
        let samples = try Self.samples(body, .openMetrics)
        let gc = "go.gc_duration_seconds"
        let http = ["__name__": "http.status", "q": "0.9", "a": "b"]
        let expected: [([String: String], Double)] = [
            (["__name__": gc, "quantile": "0"], 4.9351e-05),
            (["__name__": gc, "quantile": "0.25"], 7.424100000000001e-05),
            (["__name__": "go.gc_duration_seconds_created"], 1520872607.123),
            (["__name__": gc, "quantile": "0.5", "a": "b"], 8.3835e-05),
            (http, 8.3835e-05), (http, 8.3835e-05), (http, 8.3835e-05),
            (["__name__": "go.gc_duration_seconds_sum"], 0.004304266),
            (["__name__": Self.heizName, Self.strangeLabel: "6"], 10),
            (["__name__": "quotedexemplar_total"], 1),
            (["__name__": "quotedexemplar2_total"], 1),
        ]
        #expect(samples.count == expected.count)
        for (got, want) in zip(samples, expected) {
            #expect(got.labels == want.0)
            #expect(got.value == want.1)
        }
        var parser = TextParser(body, format: .openMetrics)
        var exemplars: [[String: String]] = []
        var types: [MetricType?] = []
        while let sample = try parser.next() {
            types.append(parser.type(of: sample))
            if let exemplar = try parser.exemplar(of: sample) {
                #expect(exemplar.value == 4)
                exemplars.append(exemplar.labels.dictionary)
            }
        }
        #expect(exemplars == [["id.thing": "histogram-count-test"], ["id.thing": "histogram-count-test", "other": "hello"]])
        #expect(types == [.summary, .summary, .summary, .summary, nil, nil, nil, .summary, nil, nil, nil])
        #expect(parser.metadata == [MetricMetadata(family: gc, type: .summary, help: "A summary of the GC invocation durations.", unit: "seconds")])
    }

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func labelsOfAnEarlierSampleAreCheckedAndEqualTheValidatedOnes(format: ExpositionFormat) throws {
        // `labels(of:)` of a sample other than the last one validated checks its text again.
        let body = try FixtureTests.fixture(format == .openMetrics ? "utf8.om" : "utf8.prom")
        var parser = TextParser(body, format: format)
        var samples: [ExposedSample] = []
        while let sample = try parser.next() { samples.append(sample) }
        let validated = try Self.samples(body, format)
        #expect(try samples.map { try parser.labels(of: $0).dictionary } == validated.map(\.labels))
    }

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func quotedLabelNamesAfterAPlainMetricName(format: ExpositionFormat) throws {
        let text = #"http_requests_total{"service.name"="api","http.method"="GET",code="200"} 7"# + "\n"
        let samples = try Self.samples(Array((text + (format == .openMetrics ? "# EOF\n" : "")).utf8), format)
        #expect(samples.map(\.labels) == [["__name__": "http_requests_total", "service.name": "api", "http.method": "GET", "code": "200"]])
    }

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func quotedNamesAreUnescapedLikeLabelValues(format: ExpositionFormat) throws {
        // `\\`, `\"` and `\n` are unescaped; another escape is kept as written (Go's strings.Replacer).
        let text = #"{"a\\b\"c\nd\qe","x\"y"="1"} 1"# + "\n"
        let samples = try Self.samples(Array((text + (format == .openMetrics ? "# EOF\n" : "")).utf8), format)
        #expect(samples.map(\.labels) == [["__name__": "a\\b\"c\nd\\qe", "x\"y": "1"]])
    }

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func aQuotedNameAndAPlainOneAreTheSameLabel(format: ExpositionFormat) throws {
        for text in [#"{"m",a="1","a"="2"} 1"#, #"m{"a"="1",a="2"} 1"#, #"{"m","a\q"="1","a\\q"="2"} 1"#, #"{"m","__name__"="x"} 1"#] {
            var parser = TextParser(Array((text + "\n" + (format == .openMetrics ? "# EOF\n" : "")).utf8), format: format)
            do {
                _ = try parser.next()
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.message.contains("duplicate label name"), "\(text): \(error.message)")
            }
        }
    }

    /// Prometheus's error cases for quoted names (`TestPromParseErrors`,
    /// `TestOpenMetricsParseErrors`), and the limits this parser adds: a quoted name is
    /// non-empty, well-formed UTF-8 and on one line.
    static let invalid: [(String, String)] = [
        (#"{"a","b = "c"} 1"#, #"expected "=" after label name, got "c""#),
        (#"{"a",b\nc="d"} 1"#, #"expected "=" after label name, got "\\""#),
        (#"{a="ok"} 1"#, "metric name not set"),
        (#"{A}0"#, #"expected "=" after label name, got "}""#),
        (#"{} 1"#, "metric name not set"),
        (#"a{"b"} 1"#, "metric name already set"),
        (#"{"a","b"} 1"#, "metric name already set"),
        (#"{""} 1"#, "empty quoted name"),
        (#"a{""="v"} 1"#, "empty quoted name"),
        (#"{"a} 1"#, "unterminated quoted name"),
        ("{\"a\nb\"} 1", "unterminated quoted name"),
        ("# HELP \"a\n", "unterminated quoted name"),
        (#"# TYPE "a"counter"#, "invalid metric name in TYPE line"),
        (#""a" 1"#, #"expected metric name, got "\"""#),
        (#"a{"b"="c"d="e"} 1"#, #"expected "," or "}" after label value"#),
    ]

    @Test(arguments: invalid)
    func textFormatRejects(_ c: (String, String)) {
        let error = parseError(c.0 + "\n")
        #expect(error?.message.contains(c.1) == true, "\(error?.message ?? "no error")")
    }

    @Test(arguments: invalid + [
        (#"c_total 1 # {"a"} 1"#, #"expected "=" after label name, got "}""#),
        (#"c_total 1 # {"a.b"="c",} 1"#, "no trailing comma"),
        (#"{"c_total",a="b"} 1 # {"id.thing"="x"} 1"#, ""),  // valid
        (#"{"c_count"} 1 # {a="b"} 1"#, "does not support exemplars"),
    ])
    func openMetricsRejects(_ c: (String, String)) {
        var parser = TextParser(Array((c.0 + "\n# EOF\n").utf8), format: .openMetrics)
        do {
            while try parser.next() != nil {}
            #expect(c.1.isEmpty, "expected an error containing \(c.1)")
        } catch {
            #expect(!c.1.isEmpty && error.message.contains(c.1), "\(error.message)")
        }
    }

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func malformedUTF8InAQuotedNameIsRejected(format: ExpositionFormat) {
        for bytes: [UInt8] in [Array(#"{"a"#.utf8) + [0xFF] + Array(#""} 1"#.utf8), Array(#"a{"b"#.utf8) + [0xC3] + Array(#""="c"} 1"#.utf8)] {
            var parser = TextParser(bytes + Array(("\n" + (format == .openMetrics ? "# EOF\n" : "")).utf8), format: format)
            #expect(throws: ExpositionError(line: 1, message: "invalid UTF-8 in quoted name")) { try parser.next() }
        }
    }

    @Test func exemplarLabelSetLengthCountsTheCharactersOfQuotedNames() throws {
        // 128 characters is the limit: a 125-character name (quoted, multi-byte) and a 3-character value.
        let name = String(repeating: "é", count: 125)
        for (value, accepted) in [("abc", true), ("abcd", false)] {
            let text = "c_total 1 # {\"\(name)\"=\"\(value)\"} 1\n# EOF\n"
            var parser = TextParser(Array(text.utf8), format: .openMetrics)
            let sample = try #require(try parser.next())
            let exemplar = try? parser.exemplar(of: sample)
            #expect((exemplar != nil) == accepted, "\(value)")
        }
    }

    /// Random valid lines with quoted names, quotes, braces and escapes at every offset: the
    /// series a scrape cache looks up (found without validation) ends where validation ends.
    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func theSeriesFoundWithoutValidationEndsWhereValidationEnds(format: ExpositionFormat) throws {
        var r = SeededGenerator(seed: 14)
        let pieces = ["a", "}", "{", ",", "=", " ", "\\\"", "\\\\", "\\n", "é", "€", ".", "0123456789abcdef"]
        func quotedText() -> String {
            var text = "\""
            for _ in 0..<(1 + r.below(5)) { text += pieces[r.below(pieces.count)] }
            return text + "\""
        }
        let openMetrics = format == .openMetrics
        for _ in 0..<2000 {
            var items = (0..<r.below(4)).map { _ in (r.below(2) == 0 ? quotedText() : "l\(r.below(9))") + "=" + quotedText() }
            var line: String
            if r.below(2) == 0 {
                items.insert(quotedText(), at: r.below(items.count + 1))
                line = "{" + items.joined(separator: ",") + "}"
            } else {
                line = "m" + (items.isEmpty ? "" : "{" + items.joined(separator: ",") + "}")
            }
            let space = openMetrics || r.below(2) == 0 ? " " : "\t "
            line += space + "\(r.below(100))" + (r.below(3) == 0 ? space + "17" : "") + "\n"
            let body = Array((line + (openMetrics ? "# EOF\n" : "")).utf8)
            var validating = TextParser(body, format: format)
            let sample: ExposedSample
            do {
                // Random names may repeat; such a line is rightly rejected.
                sample = try #require(try validating.next())
            } catch let error as ExpositionError {
                #expect(error.message.contains("duplicate label name"), "\(line): \(error.message)")
                continue
            }
            var delimiting = TextParser(body, format: format)
            #expect(try delimiting.nextSeries() == sample.series, "\(line)")
            #expect(try delimiting.finishSample(seriesIsKnownValid: true) == sample)
        }
    }
}
