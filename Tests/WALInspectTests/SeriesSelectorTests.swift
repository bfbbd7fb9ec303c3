import Testing
import WAL
@testable import WALInspect

@Suite("series selectors")
struct SeriesSelectorTests {
    let cpu = labels("node_cpu_seconds_total", ("cpu", "0"), ("job", "node"), ("mode", "idle"))

    func parse(_ text: String) throws -> SeriesSelector { try SeriesSelector(parsing: text) }

    func parseError(_ text: String) -> SelectorParseError? {
        do {
            _ = try SeriesSelector(parsing: text)
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesEveryOperator() throws {
        let selector = try parse(#"{job="node", mode!="user", __name__=~"node_cpu.*", cpu!~"1|2"}"#)
        #expect(selector.matchers.map(\.description) == [
            #"job="node""#, #"mode!="user""#, #"__name__=~"node_cpu.*""#, #"cpu!~"1|2""#,
        ])
        #expect(selector.matches(cpu))
        #expect(!selector.matches(cpu.setting("cpu", to: "2")))
        #expect(!selector.matches(cpu.setting("mode", to: "user")))
    }

    @Test func aMetricNameBeforeTheBracesIsANameMatcher() throws {
        #expect(try parse("node_cpu_seconds_total").matchers.map(\.description) == [#"__name__="node_cpu_seconds_total""#])
        #expect(try parse(#"node_cpu_seconds_total{mode="idle",}"#).matches(cpu))
        #expect(try parse(#"  job:up:sum { job = "node" }  "#).matchers.count == 2)
        #expect(try parse(#"{"node_cpu_seconds_total", mode="idle"}"#).matches(cpu))
    }

    @Test func regexesAreAnchoredRE2AndDotMatchesNewlines() throws {
        #expect(try parse(#"{mode=~"id"}"#).matches(cpu) == false)
        #expect(try parse(#"{mode=~"id.*"}"#).matches(cpu))
        #expect(try parse(#"{mode=~"i\\w+"}"#).matches(cpu))
        let multiline = labels("x", ("text", "a\nb"))
        #expect(try parse(#"{text=~"a.b"}"#).matches(multiline))
    }

    @Test func quotedValuesTakeGoEscapesAndBackticksAreRaw() throws {
        let value = { (text: String) throws -> String in try self.parse("{a=\(text)}").matchers[0].value }
        #expect(try value(#""x\"y\\z\n\t\u00e9\x41\101""#) == "x\"y\\z\n\té\u{41}A")
        #expect(try value(#"'it\'s'"#) == "it's")
        #expect(try value(#"`C:\path\n`"#) == #"C:\path\n"#)
    }

    @Test func aMissingLabelIsTheEmptyValue() throws {
        #expect(try parse(#"{job="node", team=""}"#).matches(cpu))
        #expect(try parse(#"{job="node", team!=""}"#).matches(cpu) == false)
        #expect(try parse(#"{job="node", team=~"a|"}"#).matches(cpu))
    }

    @Test func errorsNameTheColumn() {
        #expect(parseError(#"{job="node",mode}"#) == SelectorParseError(
            selector: #"{job="node",mode}"#, column: 17, message: #"expected "=", "!=", "=~" or "!~", found "}""#))
        #expect(parseError(#"{job=node}"#)?.column == 6)
        #expect(parseError(#"{job="node""#)?.message == #"unclosed "{": expected "," or "}""#)
        #expect(parseError(#"{job="node}"#) == SelectorParseError(
            selector: #"{job="node}"#, column: 6, message: "unterminated quoted string"))
        #expect(parseError(#"{job="node"} x"#)?.column == 14)
        #expect(parseError(#"{1job="a"}"#)?.column == 2)
        #expect(parseError(#"{a="\q"}"#)?.column == 5)
        #expect(parseError("")?.message == #"expected a metric name or "{", found end of input"#)
    }

    @Test func anInvalidRegexIsAnErrorAtItsValue() throws {
        let error = try #require(parseError(#"{job="node", path=~"(?=x)"}"#))
        #expect(error.column == 20)
        #expect(error.message.hasPrefix(#"invalid regular expression "(?=x)": "#), "\(error)")
        #expect(error.description.hasPrefix(#"invalid selector {job="node", path=~"(?=x)"}: column 20: "#))
    }

    @Test func selectorsThatMatchEverythingAreRejectedAsInPrometheus() {
        #expect(parseError("{}")?.message == "vector selector must contain at least one non-empty matcher")
        #expect(parseError(#"{job=~".*"}"#)?.message == "vector selector must contain at least one non-empty matcher")
        #expect(parseError(#"{job!="x"}"#)?.message == "vector selector must contain at least one non-empty matcher")
    }

    @Test func theMetricNameMayBeGivenOnlyOnce() {
        #expect(parseError(#"up{__name__="x"}"#) == SelectorParseError(
            selector: #"up{__name__="x"}"#, column: 4, message: "metric name must not be set twice"))
        #expect(parseError(#"up{"x"}"#)?.message == "metric name must not be set twice")
    }

    @Test func familyMatchingUsesOnlyNameMatchers() throws {
        #expect(try parse(#"{__name__=~"node_cpu.*", job="node"}"#).matchesFamily("node_cpu_seconds"))
        #expect(try parse(#"up{job="node"}"#).matchesFamily("node_cpu_seconds") == false)
        #expect(try parse(#"{job="node"}"#).matchesFamily("anything"))
        // An OpenMetrics counter family `x` holds the series `x_total`; a histogram's `x_bucket`.
        #expect(try parse("node_cpu_seconds_total").matchesFamily("node_cpu_seconds"))
        #expect(try parse("node_cpu_seconds_total").matchesFamily("node_cpu_seconds_total"))
        #expect(try parse("http_duration_seconds_bucket").matchesFamily("http_duration_seconds"))
        #expect(try parse("node_cpu_seconds_total").matchesFamily("node_cpu") == false)
    }
}
