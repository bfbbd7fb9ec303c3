import Model
import Exposition
import Testing

/// Parses `text` completely as OpenMetrics.
func parseOM(_ text: String) throws(ExpositionError) -> [ParsedSample] {
    try parseOM(bytes: Array(text.utf8))
}

func parseOM(bytes: [UInt8]) throws(ExpositionError) -> [ParsedSample] {
    var parser = TextParser(bytes, format: .openMetrics)
    var result: [ParsedSample] = []
    while let sample = try parser.next() {
        result.append((try parser.labels(of: sample), sample.value, sample.timestamp))
    }
    return result
}

func omError(bytes: [UInt8]) -> ExpositionError? {
    do {
        _ = try parseOM(bytes: bytes)
        return nil
    } catch {
        return error
    }
}

/// A sample as a test expects it: labels (with `__name__`), value (NaN equals NaN), timestamp.
struct Expected: Sendable, CustomStringConvertible {
    var labels: [String: String]
    var value: Double
    var timestamp: Int64?

    init(_ labels: [String: String], _ value: Double, _ timestamp: Int64? = nil) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }

    func matches(_ s: ParsedSample) -> Bool {
        s.labels.dictionary == labels && s.timestamp == timestamp
            && (s.value == value && s.value.sign == value.sign || s.value.isNaN && value.isNaN)
    }

    var description: String { "\(labels) \(value) \(timestamp.map(String.init) ?? "-")" }
}

struct ValidCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: String
    var samples: [Expected]
    var testDescription: String { name }
}

struct InvalidCase: Sendable, CustomTestStringConvertible {
    var input: [UInt8]
    var message: String
    var line: Int

    init(_ input: String, _ message: String, line: Int = 1) {
        self.init(bytes: Array(input.utf8), message, line: line)
    }

    init(bytes: [UInt8], _ message: String, line: Int = 1) {
        self.input = bytes
        self.message = message
        self.line = line
    }

    var testDescription: String { quotedForTest(input) }
}

func quotedForTest(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self).debugDescription
}

@Suite struct OpenMetricsParserTests {
    static let valid: [ValidCase] = [
        ValidCase(name: "EOF only", input: "# EOF\n", samples: []),
        ValidCase(name: "EOF without final newline", input: "# EOF", samples: []),
        ValidCase(name: "simple sample", input: "a 1\n# EOF\n", samples: [Expected(["__name__": "a"], 1)]),
        ValidCase(name: "sample before EOF without newline", input: "a 1\n# EOF", samples: [Expected(["__name__": "a"], 1)]),
        ValidCase(name: "labels, sorted", input: "m{z=\"1\",a=\"2\",_b=\"3\"} 4\n# EOF\n",
                  samples: [Expected(["__name__": "m", "z": "1", "a": "2", "_b": "3"], 4)]),
        ValidCase(name: "metric name characters", input: "_:ab:c_9 1\n:x 2\n# EOF\n",
                  samples: [Expected(["__name__": "_:ab:c_9"], 1), Expected(["__name__": ":x"], 2)]),
        ValidCase(name: "empty label block", input: "m{} 1\n# EOF\n", samples: [Expected(["__name__": "m"], 1)]),
        ValidCase(name: "empty label value dropped", input: "m{a=\"\",b=\"x\"} 1\n# EOF\n",
                  samples: [Expected(["__name__": "m", "b": "x"], 1)]),
        ValidCase(name: "escapes in label values", input: #"m{a="q\"b\\c\nd",b="\t\x",c="\\n"} 1"# + "\n# EOF\n",
                  samples: [Expected(["__name__": "m", "a": "q\"b\\c\nd", "b": #"\t\x"#, "c": #"\n"#], 1)]),
        ValidCase(name: "special bytes in label values", input: "m{a=\"x{y}=z, #1 \u{9}tab\",b=\"ünï 🙂\"} 1\n# EOF\n",
                  samples: [Expected(["__name__": "m", "a": "x{y}=z, #1 \ttab", "b": "ünï 🙂"], 1)]),
        ValidCase(name: "NaN and infinities", input: "a NaN\nb +Inf\nc -Inf\nd Inf\ne -inf\nf nan\ng +Infinity\n# EOF\n",
                  samples: [Expected(["__name__": "a"], .nan), Expected(["__name__": "b"], .infinity),
                            Expected(["__name__": "c"], -.infinity), Expected(["__name__": "d"], .infinity),
                            Expected(["__name__": "e"], -.infinity), Expected(["__name__": "f"], .nan),
                            Expected(["__name__": "g"], .infinity)]),
        ValidCase(name: "exponents and signs", input: "a 1e3\nb 1.5E-3\nc -0\nd +7\ne .5\nf 17.0\n# EOF\n",
                  samples: [Expected(["__name__": "a"], 1000), Expected(["__name__": "b"], 0.0015),
                            Expected(["__name__": "c"], -0.0), Expected(["__name__": "d"], 7),
                            Expected(["__name__": "e"], 0.5), Expected(["__name__": "f"], 17)]),
        ValidCase(name: "timestamps in seconds", input: """
            a 1 1520879607.789
            b 1 1520879607
            c 1 -1.5
            d 1 1e3
            e 1 0.0005
            f 1 1.005
            g 1 -0.0015
            h 1 0
            # EOF

            """,
                  samples: [Expected(["__name__": "a"], 1, 1_520_879_607_789), Expected(["__name__": "b"], 1, 1_520_879_607_000),
                            Expected(["__name__": "c"], 1, -1500), Expected(["__name__": "d"], 1, 1_000_000),
                            // int64(ts * 1000) truncates, as in Prometheus: 1.005 * 1000 = 1004.9999999999999.
                            Expected(["__name__": "e"], 1, 0), Expected(["__name__": "f"], 1, 1004),
                            Expected(["__name__": "g"], 1, -1), Expected(["__name__": "h"], 1, 0)]),
        ValidCase(name: "_created samples are ordinary samples", input: """
            # TYPE c counter
            c_total 5
            c_created 1520430000.123
            # EOF

            """,
                  samples: [Expected(["__name__": "c_total"], 5), Expected(["__name__": "c_created"], 1_520_430_000.123)]),
        ValidCase(name: "exemplars with and without timestamp", input: """
            # TYPE h histogram
            h_bucket{le="0.1"} 8 # {trace_id="a"} 0.054
            h_bucket{le="1"} 9 # {} 0.5 1520879607.5
            h_bucket{le="+Inf"} 10 1520879607 # {x="y",z=""} 17
            c_total 3 # {a="b"} 1
            _total 1 # {a="b"} 1
            # EOF

            """,
                  samples: [Expected(["__name__": "h_bucket", "le": "0.1"], 8), Expected(["__name__": "h_bucket", "le": "1"], 9),
                            Expected(["__name__": "h_bucket", "le": "+Inf"], 10, 1_520_879_607_000),
                            Expected(["__name__": "c_total"], 3), Expected(["__name__": "_total"], 1)]),
        ValidCase(name: "HELP, TYPE and UNIT lines", input: """
            # HELP m_seconds Some \\ help \\n with \\" escapes and ünï.
            # HELP nohelp\u{20}
            # TYPE m_seconds gauge
            # UNIT m_seconds seconds
            # UNIT nounit\u{20}
            m_seconds 1
            # EOF

            """, samples: [Expected(["__name__": "m_seconds"], 1)]),
        ValidCase(name: "every OpenMetrics type", input: """
            # TYPE c counter
            # TYPE g gauge
            # TYPE h histogram
            # TYPE gh gaugehistogram
            gh_bucket{le="+Inf"} 1
            gh_gcount 1
            gh_gsum 2
            # TYPE s summary
            s{quantile="0.5"} 1
            # TYPE i info
            i_info{version="1"} 1
            # TYPE ss stateset
            ss{ss="a"} 1
            ss{ss="b"} 0
            # TYPE u unknown
            u 3
            # EOF

            """,
                  samples: [Expected(["__name__": "gh_bucket", "le": "+Inf"], 1), Expected(["__name__": "gh_gcount"], 1),
                            Expected(["__name__": "gh_gsum"], 2), Expected(["__name__": "s", "quantile": "0.5"], 1),
                            Expected(["__name__": "i_info", "version": "1"], 1), Expected(["__name__": "ss", "ss": "a"], 1),
                            Expected(["__name__": "ss", "ss": "b"], 0), Expected(["__name__": "u"], 3)]),
        ValidCase(name: "le and quantile kept as exposed", input: "h_bucket{le=\"1.0\"} 1\nh_bucket{le=\"1e-3\"} 1\ns{quantile=\"0.50\"} 1\n# EOF\n",
                  samples: [Expected(["__name__": "h_bucket", "le": "1.0"], 1), Expected(["__name__": "h_bucket", "le": "1e-3"], 1),
                            Expected(["__name__": "s", "quantile": "0.50"], 1)]),
        ValidCase(name: "lenient like Prometheus: counter without _total, interleaved families, no TYPE",
                  input: "# TYPE c counter\nc 1\nx 2\nc 3\n# EOF\n",
                  samples: [Expected(["__name__": "c"], 1), Expected(["__name__": "x"], 2), Expected(["__name__": "c"], 3)]),
        ValidCase(name: "NUL inside a label value and HELP", input: "# HELP m a\u{0}b\nm{a=\"x\u{0}y\"} 1\n# EOF\n",
                  samples: [Expected(["__name__": "m", "a": "x\u{0}y"], 1)]),
        ValidCase(name: "carriage return inside a label value", input: "m{a=\"1\r\"} 1\n# EOF\n",
                  samples: [Expected(["__name__": "m", "a": "1\r"], 1)]),
    ]

    @Test(arguments: valid)
    func validInput(_ c: ValidCase) throws {
        let samples = try parseOM(c.input)
        #expect(samples.count == c.samples.count)
        for (got, want) in zip(samples, c.samples) {
            #expect(want.matches(got), "got \(got.labels) \(got.value) \(String(describing: got.timestamp)), want \(want)")
        }
    }

    static let invalid: [InvalidCase] = [
        // # EOF
        InvalidCase("", "data does not end with # EOF"),
        InvalidCase("a 1", "data does not end with # EOF"),
        InvalidCase("a 1\n", "data does not end with # EOF", line: 2),
        InvalidCase("a 1 2", "data does not end with # EOF"),
        InvalidCase("# HELP a x", "data does not end with # EOF"),
        InvalidCase("c_total 1 # {a=\"b\"} 4", "data does not end with # EOF"),
        InvalidCase("# EOF\na 1", "unexpected data after # EOF", line: 2),
        InvalidCase("# EOF\n\n", "unexpected data after # EOF", line: 2),
        InvalidCase("# EOFa 1", "unexpected data after # EOF"),
        InvalidCase("# EOF \n", "unexpected data after # EOF"),
        InvalidCase("a 1\n# EOF\n# EOF\n", "unexpected data after # EOF", line: 3),
        InvalidCase("#EOF\n", ##"expected "# HELP", "# TYPE", "# UNIT" or "# EOF""##),
        InvalidCase(" # EOF\n", "expected metric name, got \" \""),
        // Comments, blank lines, blanks
        InvalidCase("# a comment\n# EOF\n", "OpenMetrics has no other comments"),
        InvalidCase("#\n# EOF\n", "OpenMetrics has no other comments"),
        InvalidCase("#", "OpenMetrics has no other comments"),
        InvalidCase("#  TYPE c counter\n# EOF\n", "OpenMetrics has no other comments"),
        InvalidCase("#\tTYPE c counter\n# EOF\n", "OpenMetrics has no other comments"),
        InvalidCase("# TYPE\tc counter\n# EOF\n", "OpenMetrics has no other comments"),
        InvalidCase("\n# EOF\n", "unexpected blank line"),
        InvalidCase("a 1\n\n# EOF\n", "unexpected blank line", line: 2),
        InvalidCase(" a 1\n# EOF\n", "expected metric name, got \" \""),
        InvalidCase("a\t1\n# EOF\n", #"expected " " or "{" after metric name, got "\t""#),
        InvalidCase("a  1\n# EOF\n", "expected value, got \" \""),
        InvalidCase("a 1\t2\n# EOF\n", #"invalid value "1\t2""#),
        InvalidCase("a 1 \n# EOF\n", "expected timestamp, got end of line"),
        InvalidCase("a 1  2\n# EOF\n", "expected timestamp, got \" \""),
        InvalidCase("a 1 2 \n# EOF\n", "expected end of line or exemplar after timestamp"),
        InvalidCase("a 1 1 1\n# EOF\n", "expected end of line or exemplar after timestamp"),
        InvalidCase("a 1\r\n# EOF\n", #"invalid value "1\r""#),
        InvalidCase("a\n# EOF\n", "expected \" \" and value, got end of line"),
        InvalidCase("a", "expected \" \" and value, got end of input"),
        // Metric names and label blocks
        InvalidCase("ok 1\n{a=\"1\"} 1\n# EOF\n", "metric name not set", line: 2),
        InvalidCase("9 1\n# EOF\n", "expected metric name, got \"9\""),
        InvalidCase("my-metric 1\n# EOF\n", #"expected " " or "{" after metric name, got "-""#),
        InvalidCase("a {b=\"c\"} 1\n# EOF\n", "invalid value"),
        InvalidCase("a{b=\"c\"}1\n# EOF\n", "expected \" \" and value, got \"1\""),
        InvalidCase("a{b='c'} 1\n# EOF\n", "label values must be double-quoted"),
        InvalidCase("a{b=\"c\",} 1\n# EOF\n", "no trailing comma in OpenMetrics"),
        InvalidCase("a{,b=\"c\"} 1\n# EOF\n", "expected label name, got \",\""),
        InvalidCase("a{b=\"c\"d=\"e\"} 1\n# EOF\n", #"expected "," or "}" after label value, got "d""#),
        InvalidCase("a{b=\"c\",,d=\"e\"} 1\n# EOF\n", "expected label name, got \",\""),
        InvalidCase("a{ b=\"c\"} 1\n# EOF\n", "expected label name, got \" \""),
        InvalidCase("a{b =\"c\"} 1\n# EOF\n", "expected \"=\" after label name, got \" \""),
        InvalidCase("a{b= \"c\"} 1\n# EOF\n", "expected label value, got \" \""),
        InvalidCase("a{b=\"c\" } 1\n# EOF\n", #"expected "," or "}" after label value, got " ""#),
        InvalidCase("a{b=\n# EOF\n", "expected label value, got end of line"),
        InvalidCase("a{=\"\"} 0\n# EOF\n", "expected label name, got \"=\""),
        InvalidCase("a{1b=\"c\"} 0\n# EOF\n", "expected label name, got \"1\""),
        InvalidCase("a{b=\"c\n\"} 1\n# EOF\n", "unterminated label value"),
        InvalidCase("something_weird{problem=\"\n# EOF\n", "unterminated label value"),
        InvalidCase("a{b=\"c\\\n\"} 1\n# EOF\n", "unterminated label value"),
        InvalidCase("a{b=\"c\",b=\"d\"} 1\n# EOF\n", "duplicate label name \"b\""),
        InvalidCase("a{__name__=\"x\"} 1\n# EOF\n", "duplicate label name \"__name__\""),
        // Values and timestamps
        InvalidCase("foo 1_2\n# EOF\n", "invalid value \"1_2\""),
        InvalidCase("foo 0x1p-3\n# EOF\n", "invalid value \"0x1p-3\""),
        InvalidCase("foo 0x10\n# EOF\n", "invalid value \"0x10\""),
        InvalidCase("a true\n# EOF\n", "invalid value \"true\""),
        InvalidCase("a 1e400\n# EOF\n", "invalid value \"1e400\""),
        InvalidCase("foo 0 1_2\n# EOF\n", "invalid timestamp \"1_2\""),
        InvalidCase("a 1 1z\n# EOF\n", "invalid timestamp \"1z\""),
        InvalidCase("a 1 NaN\n# EOF\n", "invalid timestamp \"NaN\""),
        InvalidCase("a 1 Inf\n# EOF\n", "invalid timestamp \"Inf\""),
        InvalidCase("a 1 -Inf\n# EOF\n", "invalid timestamp \"-Inf\""),
        InvalidCase("a 1 #\n# EOF\n", "invalid timestamp \"#\""),
        // HELP, TYPE, UNIT
        InvalidCase("# TYPE u untyped\n# EOF\n", "invalid metric type \"untyped\""),
        InvalidCase("# TYPE c counter \n# EOF\n", "invalid metric type \"counter \""),
        InvalidCase("# TYPE c  counter\n# EOF\n", "invalid metric type \" counter\""),
        InvalidCase("# TYPE c Counter\n# EOF\n", "invalid metric type \"Counter\""),
        InvalidCase("# TYPE c \n# EOF\n", "invalid metric type \"\""),
        InvalidCase("# TYPE \n# EOF\n", "expected metric name after TYPE, got end of line"),
        InvalidCase("# TYPE m\n# EOF\n", "expected text in TYPE line, got end of line"),
        InvalidCase("# HELP m\n# EOF\n", "expected text in HELP line, got end of line"),
        InvalidCase("# UNIT m\n# EOF\n", "expected text in UNIT line, got end of line"),
        InvalidCase("# HELP \n# EOF\n", "expected metric name after HELP"),
        InvalidCase("# UNIT \n# EOF\n", "expected metric name after UNIT"),
        InvalidCase("# HELP m-x help\n# EOF\n", "invalid metric name in HELP line: \"m-x\""),
        InvalidCase("# UNIT metric suffix\n# EOF\n", "unit \"suffix\" is not a suffix of metric \"metric\""),
        InvalidCase("# UNIT metricsuffix suffix\n# EOF\n", "is not a suffix of metric"),
        InvalidCase("# UNIT m suffix\n# EOF\n", "is not a suffix of metric"),
        InvalidCase("# UNIT _seconds _seconds\n# EOF\n", "is not a suffix of metric"),
        InvalidCase("ok 1\n# HELP x ok\n# TYPE x gauge\n# UNIT x_bytes seconds\n# EOF\n", "is not a suffix", line: 4),
        // Exemplars
        InvalidCase("c_total 1 # {aa=bb}\n# EOF\n", "expected label value, got \"b\""),
        InvalidCase("c_total 1 # {aa=\"bb\"}\n# EOF\n", "expected \" \" and exemplar value, got end of line"),
        InvalidCase("c_total 1 # {aa=\"bb\"}", "expected \" \" and exemplar value, got end of input"),
        InvalidCase("custom_metric 1 # {aa=\"bb\"} 1\n# EOF\n", "metric name \"custom_metric\" does not support exemplars"),
        InvalidCase("h_bucket_x 1 # {aa=\"bb\"} 1\n# EOF\n", "does not support exemplars"),
        InvalidCase("c_total 1 # {aa=\"bb\",,cc=\"dd\"} 1\n# EOF\n", "expected label name, got \",\""),
        InvalidCase("c_total 1 # {aa=\"bb\",} 1\n# EOF\n", "no trailing comma"),
        InvalidCase("c_total 1 # {aa=\"bb\"} 1_2\n# EOF\n", "invalid exemplar value \"1_2\""),
        InvalidCase("c_total 1 # {aa=\"bb\"} 0x1p-3\n# EOF\n", "invalid exemplar value"),
        InvalidCase("c_total 1 # {aa=\"bb\"} true\n# EOF\n", "invalid exemplar value \"true\""),
        InvalidCase("c_total 1 # {aa=\"bb\",cc=}\n# EOF\n", "expected label value, got \"}\""),
        InvalidCase("c_total 1 # {aa=\"bb\"} 4 NaN\n# EOF\n", "invalid exemplar timestamp \"NaN\""),
        InvalidCase("c_total 1 # {aa=\"bb\"} 4 -Inf\n# EOF\n", "invalid exemplar timestamp"),
        InvalidCase("c_total 1 # {aa=\"bb\"} 4 x\n# EOF\n", "invalid exemplar timestamp \"x\""),
        InvalidCase("c_total 1 # {aa=\"bb\"} 4 1 2\n# EOF\n", "expected end of line after exemplar, got \" 2\""),
        InvalidCase("c_total 1 # {aa=\"bb\"} 4 \n# EOF\n", "expected exemplar timestamp, got end of line"),
        InvalidCase("c_total 1 # {a=\"b\"} 1 # {c=\"d\"} 2\n# EOF\n", "invalid exemplar timestamp \"#\""),
        InvalidCase("c_total 1 #{a=\"b\"} 1\n# EOF\n", "invalid timestamp"),
        InvalidCase("c_total 1 # {a=\"b\"}  1\n# EOF\n", "expected exemplar value, got \" \""),
        InvalidCase("c_total 1 # { a=\"b\"} 1\n# EOF\n", "expected label name, got \" \""),
        // Line numbers
        InvalidCase("a 1\nb 2\nc{ 3\n# EOF\n", "expected label name, got \" \"", line: 3),
        InvalidCase("# HELP a x\n# TYPE a gauge\na 1\n# TYPE b nope\n# EOF\n", "invalid metric type \"nope\"", line: 4),
        // Bytes: invalid UTF-8, NUL
        InvalidCase(bytes: Array("a{b=\"".utf8) + [0xFF] + Array("\"} 1\n# EOF\n".utf8), "invalid UTF-8 in label value"),
        InvalidCase(bytes: Array("a{".utf8) + [0xFF] + Array("=\"foo\"} 1\n# EOF\n".utf8), "expected label name, got \"\\xFF\""),
        InvalidCase(bytes: Array("ok 1\n# HELP m bad ".utf8) + [0xFE] + Array("\n# EOF\n".utf8), "invalid UTF-8 in HELP text", line: 2),
        InvalidCase(bytes: Array("c_total 1 # {a=\"".utf8) + [0xC3] + Array("\"} 1\n# EOF\n".utf8), "invalid UTF-8 in label value"),
        InvalidCase(bytes: Array("a".utf8) + [0] + Array(" 1\n# EOF\n".utf8), "after metric name, got \"\\x00\""),
        InvalidCase(bytes: Array("a{b".utf8) + [0] + Array("=\"c\"} 1\n# EOF\n".utf8), "expected \"=\" after label name"),
        InvalidCase(bytes: Array("a{b=".utf8) + [0] + Array("\"c\"} 1\n# EOF\n".utf8), "expected label value, got \"\\x00\""),
        InvalidCase(bytes: Array("a 1".utf8) + [0] + Array("\n# EOF\n".utf8), "invalid value"),
        InvalidCase(bytes: [0] + Array("\n# EOF\n".utf8), "expected metric name, got \"\\x00\""),
        InvalidCase(bytes: Array("c_total 1 # {b=\"".utf8) + [0] + Array("ss\"} 1\n# EOF\n".utf8), "unexpected NUL byte in exemplar label value"),
        InvalidCase(bytes: Array("# EOF\n".utf8) + [0], "unexpected data after # EOF", line: 2),
    ]

    @Test(arguments: invalid)
    func invalidInput(_ c: InvalidCase) {
        let error = omError(bytes: c.input)
        #expect(error?.message.contains(c.message) == true, "got \(String(describing: error))")
        #expect(error?.line == c.line, "got \(String(describing: error))")
    }

    // MARK: - Exemplars

    struct ExemplarCase: Sendable, CustomTestStringConvertible {
        var line: String
        var exemplar: Exemplar?
        var testDescription: String { line }
    }

    static let exemplarCases: [ExemplarCase] = [
        ExemplarCase(line: "c_total 1", exemplar: nil),
        ExemplarCase(line: "c_total 1 # {a=\"b\"} 4", exemplar: Exemplar(labels: Labels(["a": "b"]), value: 4, timestamp: nil)),
        ExemplarCase(line: "c_total 1 123 # {a=\"b\"} 4",
                     exemplar: Exemplar(labels: Labels(["a": "b"]), value: 4, timestamp: nil)),
        ExemplarCase(line: "h_bucket{le=\"1\"} 1 # {trace_id=\"x\",span_id=\"y\"} 0.5 1520879607.789",
                     exemplar: Exemplar(labels: Labels(["trace_id": "x", "span_id": "y"]), value: 0.5, timestamp: 1_520_879_607_789)),
        ExemplarCase(line: "c_total 1 # {} -Inf 1.005", exemplar: Exemplar(labels: .empty, value: -.infinity, timestamp: 1004)),
        ExemplarCase(line: #"c_total 1 # {a="q\"\\\n\t",e=""} 1e3 -2"#,
                     exemplar: Exemplar(labels: Labels(["a": "q\"\\\n\\t"]), value: 1000, timestamp: -2000)),
    ]

    @Test(arguments: exemplarCases)
    func exemplars(_ c: ExemplarCase) throws {
        var parser = TextParser(Array((c.line + "\n# EOF\n").utf8), format: .openMetrics)
        let sample = try #require(try parser.next())
        #expect(try parser.exemplar(of: sample) == c.exemplar)
        #expect(try parser.next() == nil)
    }

    @Test func exemplarRangeCoversLabelsValueAndTimestamp() throws {
        let body = Array("c_total 1 2 # {a=\"b\"} 4 5\n# EOF\n".utf8)
        var parser = TextParser(body, format: .openMetrics)
        let sample = try #require(try parser.next())
        let range = try #require(sample.exemplar)
        #expect(String(decoding: body[range], as: UTF8.self) == #"{a="b"} 4 5"#)
        #expect(String(decoding: body[sample.series], as: UTF8.self) == "c_total")
        #expect(sample.timestamp == 2000)
    }

    @Test(arguments: [(127, false), (128, false), (129, true)])
    func exemplarLabelSetLengthLimit(_ length: Int, _ tooLong: Bool) throws {
        // "trace_id" is 8 code points; the value fills up the rest, with multi-byte characters
        // counting one each.
        let value = String(repeating: "é", count: length - 8 - 1) + "\\n"  // "\n" unescapes to one
        let valueChars = length - 8
        let body = Array("c_total 1 # {trace_id=\"\(value)\"} 1\n# EOF\n".utf8)
        var parser = TextParser(body, format: .openMetrics)
        let sample = try #require(try parser.next())  // the sample itself is fine either way
        #expect(sample.value == 1)
        if tooLong {
            let error = #expect(throws: ExpositionError.self) { try parser.exemplar(of: sample) }
            #expect(error?.message.contains("more than 128") == true)
            #expect(error?.line == 1)
        } else {
            let exemplar = try #require(try parser.exemplar(of: sample))
            #expect(exemplar.labels["trace_id"]?.unicodeScalars.count == valueChars)
        }
        #expect(try parser.next() == nil)
    }

    @Test func exemplarOfBogusRangeThrows() throws {
        let parser = TextParser(Array("c_total 1 # {a=\"b\"} 4\n# EOF\n".utf8), format: .openMetrics)
        for range in [0..<7, 12..<200, 13..<18] {
            let bogus = ExposedSample(series: 0..<7, value: 1, timestamp: nil, exemplar: range)
            #expect(throws: ExpositionError.self) { try parser.exemplar(of: bogus) }
        }
        let none = ExposedSample(series: 0..<7, value: 1, timestamp: nil)
        #expect(try parser.exemplar(of: none) == nil)
    }

    @Test func textFormatHasNoExemplars() throws {
        // In 0.0.4 a "#" after the value is not a comment: the line is invalid.
        #expect(parseError("c_total 1 # {a=\"b\"} 4\n") != nil)
        var parser = TextParser(Array("c_total 1\n".utf8))
        let sample = try #require(try parser.next())
        #expect(sample.exemplar == nil)
    }

    // MARK: - Series ranges, labels, types, metadata

    @Test func seriesRangesAndLabelsCache() throws {
        let body = Array("a 1\nb{x=\"1\",y=\"\\\"}\"} 2 3\nb{x=\"1\",y=\"\\\"}\"} 4\n# EOF\n".utf8)
        var parser = TextParser(body, format: .openMetrics)
        var series: [String] = []
        var labels: [Labels] = []
        while let sample = try parser.next() {
            series.append(String(decoding: body[sample.series], as: UTF8.self))
            labels.append(try parser.labels(of: sample))
        }
        #expect(series == ["a", #"b{x="1",y="\"}"}"#, #"b{x="1",y="\"}"}"#])
        #expect(labels[1] == labels[2])
        #expect(labels[1]["y"] == "\"}")
        #expect(try parser.next() == nil)
    }

    @Test func metricTypesOfSamples() throws {
        let text = """
        # TYPE c counter
        c_total 1
        c_created 1
        c 1
        c_count 1
        # TYPE h histogram
        h_bucket{le="1"} 1
        h_sum 1
        h_count 1
        h_created 1
        h_gsum 1
        # TYPE gh gaugehistogram
        gh_bucket{le="1"} 1
        gh_gsum 1
        gh_gcount 1
        gh_sum 1
        # TYPE s summary
        s{quantile="0.5"} 1
        s_sum 1
        s_count 1
        s_created 1
        # TYPE i info
        i_info 1
        # TYPE ss stateset
        ss{ss="a"} 1
        # TYPE u unknown
        u 1
        u_total 1
        z 1
        # EOF

        """
        var parser = TextParser(Array(text.utf8), format: .openMetrics)
        var types: [MetricType?] = []
        while let sample = try parser.next() { types.append(parser.type(of: sample)) }
        #expect(types == [
            .counter, .counter, .counter, nil,
            .histogram, .histogram, .histogram, .histogram, nil,
            .gaugeHistogram, .gaugeHistogram, .gaugeHistogram, nil,
            .summary, .summary, .summary, .summary,
            .info, .stateset, .unknown, nil, nil,
        ])
    }

    @Test func metadataPerFamily() throws {
        let text = """
        # HELP c Requests \\"served\\", \\\\ and\\nmore \\x.
        # TYPE c counter
        c_total 1
        # TYPE d_seconds gauge
        # UNIT d_seconds seconds
        # HELP d_seconds Duration.
        d_seconds 1
        # HELP only_help Just help.
        # UNIT e_bytes bytes
        # TYPE c counter
        # EOF

        """
        var parser = TextParser(Array(text.utf8), format: .openMetrics)
        while try parser.next() != nil {}
        #expect(parser.metadata == [
            MetricMetadata(family: "c", type: .counter, help: "Requests \"served\", \\ and\nmore \\x.", unit: ""),
            MetricMetadata(family: "d_seconds", type: .gauge, help: "Duration.", unit: "seconds"),
            MetricMetadata(family: "only_help", type: .unknown, help: "Just help.", unit: ""),
            MetricMetadata(family: "e_bytes", type: .unknown, help: "", unit: "bytes"),
        ])
    }

    @Test func metadataSoFar() throws {
        var parser = TextParser(Array("# TYPE a gauge\na 1\n# TYPE b counter\nb_total 1\n# EOF\n".utf8), format: .openMetrics)
        _ = try parser.next()
        #expect(parser.metadata.map(\.family) == ["a"])
        while try parser.next() != nil {}
        #expect(parser.metadata.map(\.family) == ["a", "b"])
    }

    @Test func errorIsSticky() {
        var parser = TextParser(Array("a 1\nb{ 2\nc 3\n# EOF\n".utf8), format: .openMetrics)
        #expect(throws: Never.self) { _ = try parser.next() }
        let first = #expect(throws: ExpositionError.self) { _ = try parser.next() }
        let second = #expect(throws: ExpositionError.self) { _ = try parser.next() }
        #expect(first == second)
        #expect(first?.line == 2)
    }

    @Test func endIsSticky() throws {
        var parser = TextParser(Array("a 1\n# EOF\n".utf8), format: .openMetrics)
        #expect(try parser.next() != nil)
        #expect(try parser.next() == nil)
        #expect(try parser.next() == nil)
    }

    @Test func textFormatRulesDoNotApply() throws {
        // Valid 0.0.4 that OpenMetrics rejects, and the other way round.
        for text in ["a 1\n", "a\t1\n# EOF\n", "a{b=\"c\",} 1\n# EOF\n", "# comment\n# EOF\n", "a 1 1500\n\n# EOF\n"] {
            #expect(omError(bytes: Array(text.utf8)) != nil, "\(text.debugDescription)")
        }
        #expect(parseError("a 1 1520879607.789\n") != nil)  // 0.0.4 timestamps are integers
        #expect(try parseOM("a 1 1520879607.789\n# EOF\n").first?.timestamp == 1_520_879_607_789)
        // "# EOF" in 0.0.4 is a comment.
        #expect(try parse("a 1\n# EOF\nb 2\n").count == 2)
    }
}

@Suite struct ExpositionFormatTests {
    @Test func defaultParserFormat() {
        #expect(TextParser([]).format == .prometheusText)
        #expect(TextParser([], format: .openMetrics).format == .openMetrics)
    }
}

@Suite struct TextFormatMetadataTests {
    @Test(arguments: [
        ("# HELP m Some \\\\ help \\n and \\\" kept.\n# TYPE m gauge\nm 1\n",
         [MetricMetadata(family: "m", type: .gauge, help: "Some \\ help \n and \\\" kept.", unit: "")]),
        ("# TYPE a counter\na 1\n# HELP b B.\nb 1\n# TYPE u untyped\n",
         [MetricMetadata(family: "a", type: .counter, help: "", unit: ""),
          MetricMetadata(family: "b", type: .unknown, help: "B.", unit: ""),
          MetricMetadata(family: "u", type: .unknown, help: "", unit: "")]),
        ("# HELP a first\n# HELP b x\n# HELP a second\n",
         [MetricMetadata(family: "a", type: .unknown, help: "second", unit: ""),
          MetricMetadata(family: "b", type: .unknown, help: "x", unit: "")]),
        ("a 1\n# just a comment\n", []),
    ] as [(String, [MetricMetadata])])
    func metadata(_ text: String, _ expected: [MetricMetadata]) throws {
        var parser = TextParser(Array(text.utf8))
        while try parser.next() != nil {}
        #expect(parser.metadata == expected)
    }
}
