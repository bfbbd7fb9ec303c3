import AgentConfig
import Exposition
import TestSupport
import Testing

@testable import Scraper

/// `scrape_protocols` → the Accept header; the response's Content-Type (or
/// `fallback_scrape_protocol`) → the parser, as Prometheus 3.
@Suite struct ContentNegotiationTests {
    // Prometheus's own expectations (scrape/scrape_test.go, TestTargetScraperScrapeOK's
    // headers): q-values from the protocol list, `escaping=` on the 1.0.0 formats only.
    @Test func theAcceptHeaderCarriesPrometheusQValuesAndTheEscapingScheme() {
        #expect(
            AcceptHeader(protocols: ScrapeProtocol.defaults, escaping: .allowUTF8).value
                == "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
        #expect(
            AcceptHeader(protocols: ScrapeProtocol.defaults, escaping: .underscores).value
                == "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
        #expect(
            AcceptHeader(protocols: [.prometheusProto] + ScrapeProtocol.defaults, escaping: .values).value
                == "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=values;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=values;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1")
        #expect(AcceptHeader(protocols: [.prometheusText0_0_4], escaping: .dots).value == "text/plain;version=0.0.4;q=0.6,*/*;q=0.5")
    }

    // Go's mime.ParseMediaType: the media type, lower-cased, or an error (nil).
    @Test(arguments: [
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", "application/openmetrics-text"),
        ("Application/OpenMetrics-Text;version=1.0.0", "application/openmetrics-text"),
        ("  application/openmetrics-text ; charset=\"utf-8\"", "application/openmetrics-text"),
        ("application/openmetrics-text;", "application/openmetrics-text"),
        ("text/plain; version=0.0.4; charset=utf-8; escaping=underscores", "text/plain"),
        ("text/plain", "text/plain"),
        ("text", "text"),
        ("application/json", "application/json"),
        ("", nil),
        ("garbage/", nil),
        (";;;", nil),
        ("text/plain x", nil),
        ("application/openmetrics-text; version", nil),
        ("application/openmetrics-text; version=1; version=2", nil),
        ("application/openmetrics-text; charset=\"utf-8", nil),
        ("application/openmetrics-text; charset=\"\"", nil),
        ("text/plain; ;", nil),
    ] as [(String, String?)])
    func mediaTypes(_ contentType: String, _ mediaType: String?) {
        #expect(MediaType.parse(contentType) == mediaType)
    }

    @Test func theContentTypeChoosesTheParser() throws {
        #expect(try ResponseFormat.choose(contentType: "application/openmetrics-text; version=0.0.1", fallback: nil) == .openMetrics)
        #expect(try ResponseFormat.choose(contentType: "text/plain; version=1.0.0; escaping=underscores", fallback: nil) == .prometheusText)
        #expect(try ResponseFormat.choose(contentType: "text/plain", fallback: .openMetricsText1_0_0) == .prometheusText, "a known type wins over the fallback")
    }

    @Test(arguments: [
        (nil, "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"),
        ("", "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"),
        ("text/plain; version", "cannot parse Content-Type \"text/plain; version\" and no fallback_scrape_protocol for target"),
        ("application/json", "received unsupported Content-Type \"application/json\" and no fallback_scrape_protocol specified for target"),
    ] as [(String?, String)])
    func withoutAFallbackAnUnusableContentTypeFails(_ contentType: String?, _ message: String) throws {
        let error = #expect(throws: ScrapeFailure.self) { try ResponseFormat.choose(contentType: contentType, fallback: nil) }
        #expect(error?.description == message)
        #expect(try ResponseFormat.choose(contentType: contentType, fallback: .prometheusText0_0_4) == .prometheusText)
        #expect(try ResponseFormat.choose(contentType: contentType, fallback: .openMetricsText1_0_0) == .openMetrics)
    }

    @Test func aProtobufResponseFailsTheScrape() {
        let error = #expect(throws: ScrapeFailure.self) {
            try ResponseFormat.choose(
                contentType: "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
                fallback: .prometheusText0_0_4)
        }
        #expect(error?.description.contains("protobuf exposition format is not supported") == true)
    }

    // Through a scrape loop.

    @Test func aScrapeAsksForTheJobsProtocols() async throws {
        let h = try await LoopHarness(configure: { $0.scrapeProtocols = [.prometheusText0_0_4, .openMetricsText1_0_0] }) { _ in text("a 1\n") }
        _ = try await h.scrape()
        #expect(
            h.requests.value.first?.header("Accept")
                == "text/plain;version=0.0.4;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,*/*;q=0.4")
    }

    @Test func aResponseWithoutContentTypeFailsUnlessTheJobHasAFallback() async throws {
        let body = "# TYPE a counter\na_total 1\n# EOF\n"
        let strict = try await LoopHarness { _ in CannedResponse(body: Array(body.utf8)) }
        let failed = try await strict.scrape()
        #expect(failed[strict.series("up")]?.value == 0)
        #expect(failed[strict.series("a_total")] == nil)
        #expect(strict.reports.value.first?.error?.contains("blank Content-Type and no fallback_scrape_protocol") == true)

        let lenient = try await LoopHarness(configure: { $0.fallbackScrapeProtocol = .openMetricsText1_0_0 }) { _ in
            CannedResponse(body: Array(body.utf8))
        }
        let parsed = try await lenient.scrape()
        #expect(parsed[lenient.series("up")]?.value == 1)
        #expect(parsed[lenient.series("a_total")]?.value == 1, "parsed as OpenMetrics, the fallback")
    }

    @Test func anEmptyBodyIsAnEmptyScrapeWhateverItsContentType() async throws {
        let h = try await LoopHarness { _ in CannedResponse(body: []) }
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 1)
        #expect(samples[h.series("scrape_samples_scraped")]?.value == 0)
    }
}
