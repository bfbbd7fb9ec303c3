import AgentConfig
import Testing

@testable import Scraper

/// The job's `http_config` reaches its scrapes.
@Suite struct ScrapeHTTPClientTests {
    @Test func httpHeadersAreSentWithEveryScrapeBesideTheScrapeHeaders() async throws {
        let h = try await LoopHarness(configure: {
            $0.httpClient.httpHeaders = [HTTPHeaderConfig(name: "X-Scope-OrgID", values: ["tenant-a"])]
            $0.httpClient.enableHTTP2 = false
        }) { _ in text("a 1\n") }
        _ = try await h.scrape()
        _ = try await h.scrape()
        #expect(h.requests.value.map { $0.header("X-Scope-OrgID") } == ["tenant-a", "tenant-a"])
        #expect(h.requests.value.first?.header("X-Prometheus-Scrape-Timeout-Seconds") == "5")
    }
}
