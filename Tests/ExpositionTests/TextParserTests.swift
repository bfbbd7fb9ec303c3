import Model
import Exposition
import Testing

@Suite struct TextParserTests {
    // MARK: - Basic lines

    @Test func simpleSample() throws {
        let s = try single("metric_name 42\n")
        #expect(s.labels == Labels(["__name__": "metric_name"]))
        #expect(s.value == 42)
        #expect(s.timestamp == nil)
    }

    @Test func sampleWithLabels() throws {
        let s = try single(#"node_cpu_seconds_total{cpu="0",mode="idle"} 247.46"# + "\n")
        #expect(s.labels == Labels(["__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "idle"]))
        #expect(s.value == 247.46)
    }

    @Test func labelsAreSortedByName() throws {
        let s = try single(#"m{z="1",a="2",_b="3",B="4"} 1"#)
        #expect(s.labels.pairs.map(\.name) == ["B", "__name__", "_b", "a", "z"])
    }

    @Test func metricNameCharacters() throws {
        let s = try single("_:ab:c_9:Z 1\n")
        #expect(s.labels.metricName == "_:ab:c_9:Z")
        #expect(try single(":x 1").labels.metricName == ":x")
    }

    @Test func labelNameCharacters() throws {
        let s = try single(#"m{_a9="1",__reserved="2",Az_09="3"} 1"#)
        #expect(s.labels.dictionary == ["__name__": "m", "_a9": "1", "__reserved": "2", "Az_09": "3"])
    }

    @Test func emptyLabelBlock() throws {
        let s = try single("m{} 1\n")
        #expect(s.labels == Labels(["__name__": "m"]))
        let t = try single("m{ \t } 1\n")
        #expect(t.labels == Labels(["__name__": "m"]))
    }

    @Test func trailingCommaInLabelBlock() throws {
        let s = try single(#"m{a="1",} 1"#)
        #expect(s.labels.dictionary == ["__name__": "m", "a": "1"])
        let t = try single(#"m{a="1", b="2" , } 1"#)
        #expect(t.labels.dictionary == ["__name__": "m", "a": "1", "b": "2"])
    }

    @Test func blanksAroundEqualsAndCommas() throws {
        let s = try single("m{ a = \"1\" ,\tb\t=\t\"2\"\t} 3\n")
        #expect(s.labels.dictionary == ["__name__": "m", "a": "1", "b": "2"])
        #expect(s.value == 3)
    }

    @Test func blanksBetweenNameAndLabelBlock() throws {
        let s = try single(#"m {a="1"} 2"#)
        #expect(s.labels.dictionary == ["__name__": "m", "a": "1"])
    }

    @Test func valueDirectlyAfterLabelBlock() throws {
        // Prometheus' lexer does not require a blank between `}` and the value.
        let s = try single(#"m{a="1"}2"#)
        #expect(s.value == 2)
    }

    @Test func emptyLabelValuesAreDropped() throws {
        let s = try single(#"m{a="",b="x"} 1"#)
        #expect(s.labels.dictionary == ["__name__": "m", "b": "x"])
    }

    @Test func tabsAndRunsOfBlanksSeparateTokens() throws {
        let s = try single("m\t 1.5 \t\t 1700000000000\t \n")
        #expect(s.value == 1.5)
        #expect(s.timestamp == 1_700_000_000_000)
        let t = try single("  \tm 7\n")
        #expect(t.value == 7)
    }

    @Test func noFinalNewline() throws {
        let samples = try parse("a 1\nb 2")
        #expect(samples.map(\.value) == [1, 2])
        #expect(try parse("a{x=\"y\"} 1 123").first?.timestamp == 123)
        #expect(try parse("# HELP a x").isEmpty)
        #expect(try parse("# TYPE a gauge").isEmpty)
        #expect(try parse("# just a comment").isEmpty)
    }

    @Test func emptyAndBlankInputs() throws {
        #expect(try parse("").isEmpty)
        #expect(try parse("\n\n\n").isEmpty)
        #expect(try parse(" \t \n\t\n").isEmpty)
    }

    @Test func commentsHelpAndTypeAreSkipped() throws {
        let text = """
        # A plain comment
        #no space after the hash
        #
        # HELP http_requests_total The total number of HTTP requests.
        # TYPE http_requests_total counter
        http_requests_total{method="post",code="200"} 1027 1395066363000

        # HELP with_escapes Some \\ backslash and \\n newline, and "quotes" and ünïcödé.
        # TYPE with_escapes untyped
        with_escapes 1
          # indented comment
        # HELP no_text
        # HELPER this is a comment, not HELP
        # TYPE2 also a comment
        # TYPEX foo bar baz
        """
        let samples = try parse(text)
        #expect(samples.count == 2)
        #expect(samples[0].labels.dictionary == ["__name__": "http_requests_total", "method": "post", "code": "200"])
        #expect(samples[0].timestamp == 1_395_066_363_000)
    }

    // MARK: - Label value escapes

    @Test func labelValueEscapes() throws {
        let s = try single(#"m{a="back\\slash",b="quote\"d",c="new\nline",d="\\n"} 1"#)
        #expect(s.labels["a"] == #"back\slash"#)
        #expect(s.labels["b"] == #"quote"d"#)
        #expect(s.labels["c"] == "new\nline")
        #expect(s.labels["d"] == #"\n"#)
    }

    @Test func labelValueSpecialBytesKeptAsIs() throws {
        let s = try single("m{a=\"x{y}=z, #1\",b=\"tab\there\",c=\"cr\rhere\",d=\"ünï 🙂\"} 1")
        #expect(s.labels["a"] == "x{y}=z, #1")
        #expect(s.labels["b"] == "tab\there")
        #expect(s.labels["c"] == "cr\rhere")
        #expect(s.labels["d"] == "ünï 🙂")
    }

    @Test func nulIsAllowedInsideLabelValues() throws {
        var bytes = Array(#"m{a="x"# .utf8)
        bytes.append(0)
        bytes += Array(#"y"} 1"#.utf8)
        let s = try #require(try parse(bytes: bytes).first)
        #expect(s.labels["a"] == "x\u{0}y")
    }

    /// Prometheus's lexer accepts a backslash before any byte and unescapes only `\\`, `\"` and
    /// `\n`; other escapes are kept as written.
    @Test func unknownEscapesAreKeptAsWritten() throws {
        for escape in [#"\t"#, #"\x41"#, #"\u00e9"#, #"\r"#, #"\'"#, #"\0"#, #"\N"#] {
            let s = try #require(try parse("ok 1\nm{a=\"x\(escape)\"} 1\n").last)
            #expect(s.labels["a"] == "x" + escape, "escape \(escape)")
        }
        #expect(try parse(#"m{a="\\t"} 1"#).first?.labels["a"] == #"\t"#, "an escaped backslash, then t")
    }

    // MARK: - Timestamps

    @Test func timestamps() throws {
        #expect(try single("m 1 0").timestamp == 0)
        #expect(try single("m 1 1700000000123\n").timestamp == 1_700_000_000_123)
        #expect(try single("m 1 -1500\n").timestamp == -1500)
        #expect(try single("m 1 +15\n").timestamp == 15)
        #expect(try single("m 1 9223372036854775807\n").timestamp == .max)
        #expect(try single("m 1 -9223372036854775808\n").timestamp == .min)
    }

    @Test func invalidTimestamps() {
        for bad in ["1.5", "1e3", "9223372036854775808", "-9223372036854775809", "12a", "0x10", "-", "+", "NaN", "1_000"] {
            let error = parseError("m 1 \(bad)\n")
            #expect(error?.line == 1, "timestamp \(bad)")
            #expect(error?.message.hasPrefix("invalid timestamp") == true, "timestamp \(bad): \(String(describing: error))")
        }
    }

    @Test func junkAfterTimestamp() {
        let error = parseError("a 1\nm 1 2 3\n")
        #expect(error == ExpositionError(line: 2, message: #"unexpected "3" after timestamp"#))
        #expect(parseError("m 1 2 # comment")?.line == 1)
    }

    // MARK: - Histograms and summaries are plain samples

    @Test func histogramAndSummarySeries() throws {
        let text = """
        # HELP http_request_duration_seconds A histogram of the request duration.
        # TYPE http_request_duration_seconds histogram
        http_request_duration_seconds_bucket{le="0.05"} 24054
        http_request_duration_seconds_bucket{le="0.1"} 33444
        http_request_duration_seconds_bucket{le="+Inf"} 144320
        http_request_duration_seconds_sum 53423
        http_request_duration_seconds_count 144320
        # HELP rpc_duration_seconds A summary of the RPC duration in seconds.
        # TYPE rpc_duration_seconds summary
        rpc_duration_seconds{quantile="0.01"} 3102
        rpc_duration_seconds{quantile="0.99"} 76656
        rpc_duration_seconds_sum 1.7560473e+07
        rpc_duration_seconds_count 2693

        """
        let samples = try parse(text)
        #expect(samples.count == 9)
        #expect(samples[2].labels.dictionary == ["__name__": "http_request_duration_seconds_bucket", "le": "+Inf"])
        #expect(samples[2].value == 144_320)
        #expect(samples[7].value == 1.7560473e+07)
        #expect(samples[8].labels.metricName == "rpc_duration_seconds_count")
    }

    @Test func metricTypes() throws {
        let text = """
        # TYPE h histogram
        h_bucket{le="1"} 1
        h_sum 1
        h_count 1
        h_other 1
        # TYPE s summary
        s{quantile="0.5"} 1
        s_sum 1
        s_bucket 1
        # TYPE c counter
        c_total 1
        c 1
        # TYPE g gauge
        g 1
        # TYPE u untyped
        u 1
        z 1
        """
        var parser = TextParser(Array(text.utf8))
        var types: [MetricType?] = []
        while let sample = try parser.next() { types.append(parser.type(of: sample)) }
        #expect(types == [.histogram, .histogram, .histogram, nil, .summary, .summary, nil, nil, .counter, .gauge, .unknown, nil])
    }

    @Test func invalidTypeWord() {
        #expect(parseError("# TYPE m foo\nm 1\n") == ExpositionError(line: 1, message: #"invalid metric type "foo""#))
        #expect(parseError("m 1\n# TYPE m Counter\n")?.line == 2)
        #expect(parseError("# TYPE m counter extra\n")?.line == 1)
        #expect(parseError("# TYPE m\n")?.message == "expected metric type after TYPE m")
        #expect(parseError("# TYPE m \n")?.message == "expected metric type after TYPE m")
        #expect(parseError("# TYPE \n")?.message == "expected metric name after TYPE, got end of line")
        #expect(parseError("# TYPE 1m gauge\n")?.message == #"expected metric name after TYPE, got "1""#)
        #expect(parseError("# TYPE m-x gauge\n")?.message == #"invalid metric name in TYPE line: "m-x""#)
        #expect(parseError("# HELP m-x help\n")?.message == #"invalid metric name in HELP line: "m-x""#)
        #expect(parseError("# HELP {m} help\n")?.line == 1)
        // Trailing blanks after the type word are tolerated.
        #expect(parseError("# TYPE m gauge \t\nm 1\n") == nil)
        #expect(parseError("#\tTYPE\tm\tgauge\nm 1\n") == nil)
    }

    // MARK: - The series range

    @Test func seriesRangeCoversNameAndLabelBlock() throws {
        let text = "  a 1\nb{x=\"1\",y=\"\\\"}\"} 2 3\n# c\nc { z = \"9\" , }\t4\nd{}5"
        let body = Array(text.utf8)
        var parser = TextParser(body)
        var series: [String] = []
        while let sample = try parser.next() {
            series.append(String(decoding: body[sample.series], as: UTF8.self))
        }
        #expect(series == ["a", #"b{x="1",y="\"}"}"#, #"c { z = "9" , }"#, "d{}"])
    }

    @Test func sameSeriesTextSameLabels() throws {
        let body = Array("m{a=\"1\"} 1 10\nm{a=\"1\"} 2 20\n".utf8)
        var parser = TextParser(body)
        let first = try #require(try parser.next())
        let second = try #require(try parser.next())
        #expect(body[first.series] == body[second.series])
        #expect(first.series != second.series)
        #expect(try parser.labels(of: first) == parser.labels(of: second))
        #expect(try parser.next() == nil)
        #expect(try parser.next() == nil)  // stays at the end
    }

    @Test func labelsOfBogusRangeThrows() throws {
        let parser = TextParser(Array("m{a=\"1\"} 1\n".utf8))
        let outside = ExposedSample(series: 5..<100, value: 1, timestamp: nil)
        #expect(throws: ExpositionError.self) { try parser.labels(of: outside) }
        let partial = ExposedSample(series: 0..<5, value: 1, timestamp: nil)
        #expect(throws: ExpositionError.self) { try parser.labels(of: partial) }
        let value = ExposedSample(series: 9..<10, value: 1, timestamp: nil)
        #expect(throws: ExpositionError.self) { try parser.labels(of: value) }
    }

    // MARK: - Errors, with line numbers

    @Test func missingMetricName() {
        // A line may start with `{` when the block holds the quoted metric name (Prometheus 3).
        #expect(parseError("a 1\n{a=\"1\"} 1\n")?.line == 2)
        #expect(parseError("a 1\n{a=\"1\"} 1\n")?.message.hasPrefix("metric name not set") == true)
        #expect(parseError("1abc 1\n") == ExpositionError(line: 1, message: #"expected metric name, got "1""#))
        #expect(parseError("a 1\n\n\n} 1\n")?.line == 4)
        #expect(parseError("=1\n")?.line == 1)
    }

    @Test func invalidMetricNameCharacters() {
        #expect(parseError("my-metric 1\n") == ExpositionError(line: 1, message: #"unexpected "-" in metric name"#))
        #expect(parseError("my.metric 1\n")?.line == 1)
        #expect(parseError("métric 1\n")?.line == 1)
    }

    @Test func missingValue() {
        #expect(parseError("a\n") == ExpositionError(line: 1, message: "expected value after metric name, got end of line"))
        #expect(parseError("a 1\nb") == ExpositionError(line: 2, message: "expected value after metric name, got end of input"))
        #expect(parseError("a \n") == ExpositionError(line: 1, message: "expected value, got end of line"))
        #expect(parseError("a{b=\"c\"}\n") == ExpositionError(line: 1, message: "expected value, got end of line"))
        #expect(parseError("a{b=\"c\"}   ") == ExpositionError(line: 1, message: "expected value, got end of input"))
    }

    @Test func labelBlockErrors() {
        let cases: [(String, String)] = [
            (#"m{{a="1"} 1"#, #"expected label name, got "{""#),
            (#"m{,} 1"#, #"expected label name, got ",""#),
            (#"m{a="1",,} 1"#, #"expected label name, got ",""#),
            (#"m{1a="1"} 1"#, #"expected label name, got "1""#),
            (#"m{a:b="1"} 1"#, #"expected "=" after label name, got ":""#),
            (#"m{a-b="1"} 1"#, #"expected "=" after label name, got "-""#),
            (#"m{a} 1"#, #"expected "=" after label name, got "}""#),
            (#"m{a=} 1"#, #"expected label value, got "}""#),
            (#"m{a=1} 1"#, #"expected label value, got "1""#),
            (#"m{a='1'} 1"#, #"label values must be double-quoted, got "'""#),
            (#"m{a="1" b="2"} 1"#, #"expected "," or "}" after label value, got "b""#),
            (#"m{a="1"="2"} 1"#, #"expected "," or "}" after label value, got "=""#),
            (#"m{a="1" 1"#, #"expected "," or "}" after label value, got "1""#),
            (#"m{a="1""#, #"expected "," or "}" after label value, got end of input"#),
            (#"m{a="1","#, #"expected label name, got end of input"#),
            (#"m{"#, #"expected label name, got end of input"#),
            ("m{a=\"1\"\n} 1", #"expected "," or "}" after label value, got end of line"#),
            ("m{a=\n\"1\"} 1", "expected label value, got end of line"),
        ]
        for (text, message) in cases {
            #expect(parseError("ok 1\n" + text) == ExpositionError(line: 2, message: message), "\(text)")
        }
    }

    @Test func unterminatedQuote() {
        #expect(parseError(#"m{a="1} 1"#) == ExpositionError(line: 1, message: "unterminated label value"))
        #expect(parseError("a 1\nm{a=\"1} 1\nb 2\n") == ExpositionError(line: 2, message: "unterminated label value"))
        #expect(parseError(#"m{a="1\"} 1"#)?.message == "unterminated label value")
        #expect(parseError(#"m{a="\"#)?.message == "unterminated label value")
        #expect(parseError("m{a=\"x\\\ny\"} 1\n")?.message == "unterminated label value")
    }

    @Test func duplicateLabelNames() {
        #expect(parseError("a 1\nm{a=\"1\",b=\"2\",a=\"3\"} 1\n") == ExpositionError(line: 2, message: #"duplicate label name "a""#))
        #expect(parseError(#"m{a="",a="1"} 1"#)?.message == #"duplicate label name "a""#)
        #expect(parseError(#"m{__name__="x"} 1"#)?.message == #"duplicate label name "__name__""#)
        #expect(parseError(#"m{ab="1",a="2",b="3",abc="4"} 1"#) == nil)
    }

    @Test func duplicateLabelNamesInLongBlocks() throws {
        // More labels than the pairwise check handles: found by sorting.
        var names = (0..<100).map { "label_\($0)" }
        let ok = "m{" + names.map { "\($0)=\"v\"" }.joined(separator: ",") + "} 1"
        #expect(try single(ok).labels.count == 101)
        names.append("label_7")
        let bad = "m{" + names.map { "\($0)=\"v\"" }.joined(separator: ",") + "} 1"
        #expect(parseError(bad) == ExpositionError(line: 1, message: #"duplicate label name "label_7""#))
        names.removeLast()
        names.insert("label_99", at: 3)
        let early = "m{" + names.map { "\($0)=\"v\"" }.joined(separator: ",") + "} 1"
        #expect(parseError(early)?.message == #"duplicate label name "label_99""#)
    }

    @Test func invalidUTF8InLabelValue() {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]] {
            let bytes = Array("ok 1\nm{a=\"x".utf8) + bad + Array("y\"} 1\n".utf8)
            #expect(parseError(bytes: bytes) == ExpositionError(line: 2, message: "invalid UTF-8 in label value"), "\(bad)")
        }
        // Valid multi-byte sequences of every length pass.
        #expect(parseError("m{a=\"é€𐍈\u{10FFFF}\"} 1") == nil)
    }

    @Test func invalidUTF8InHelp() {
        let bytes = Array("a 1\n# HELP m bad ".utf8) + [0xFE] + Array("\nm 1\n".utf8)
        #expect(parseError(bytes: bytes) == ExpositionError(line: 2, message: "invalid UTF-8 in HELP text"))
        #expect(parseError("# HELP m ünïcödé ✓\nm 1\n") == nil)
    }

    @Test func nulOutsideLabelValues() {
        let cases: [[UInt8]] = [
            Array("m".utf8) + [0] + Array(" 1\n".utf8),
            Array("m 1".utf8) + [0] + Array("\n".utf8),
            Array("m 1 2".utf8) + [0],
            Array("m{a".utf8) + [0] + Array("=\"1\"} 1\n".utf8),
            [0] + Array("m 1\n".utf8),
            Array("# comment ".utf8) + [0] + Array("\n".utf8),
            Array("# HELP m text ".utf8) + [0] + Array("\n".utf8),
        ]
        for bytes in cases {
            #expect(parseError(bytes: Array("ok 1\n".utf8) + bytes)?.line == 2, "\(bytes)")
        }
    }

    @Test func carriageReturnIsNotASeparator() {
        #expect(parseError("m 1\r\n")?.message == #"invalid value "1\r""#)
        #expect(parseError("m 1 2\r\n")?.message == #"invalid timestamp "2\r""#)
        #expect(parseError("m\r1\n")?.message == "unexpected carriage return")
        #expect(parseError("a 1\n\r\n")?.line == 2)
        #expect(parseError("m{a=\"1\"\r} 1\n")?.line == 1)
        #expect(parseError("m{a=\"1\"}\r1\n")?.line == 1)
        // Inside a label value it is just a byte.
        #expect(parseError("m{a=\"1\r\"} 1\n") == nil)
    }

    @Test func invalidValues() {
        #expect(parseError("a 1\nm abc\n") == ExpositionError(line: 2, message: #"invalid value "abc""#))
        #expect(parseError("m 1_000\n") == ExpositionError(line: 1, message: #"invalid value "1_000""#))
    }

    @Test func errorIsSticky() {
        var parser = TextParser(Array("a 1\nb{ 2\nc 3\n".utf8))
        #expect(throws: Never.self) { _ = try parser.next() }
        let first = #expect(throws: ExpositionError.self) { _ = try parser.next() }
        let second = #expect(throws: ExpositionError.self) { _ = try parser.next() }
        #expect(first == second)
        #expect(first?.line == 2)
        #expect(first?.description == #"line 2: expected label name, got "2""#)
    }

    @Test func errorMessagesQuoteLongTokens() {
        let long = String(repeating: "x", count: 100)
        let error = parseError("m \(long)\n")
        #expect(error?.message == "invalid value \"" + String(repeating: "x", count: 60) + "...\"")
    }
}
