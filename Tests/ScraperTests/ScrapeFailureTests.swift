import AgentConfig
import Foundation
import Logging
import TestSupport
import Testing
import WAL

@testable import Scraper

/// What a failed scrape reports: the counts reached (partial counts), the failure log, and
/// target_limit's forced failure.
@Suite struct ScrapeFailureTests {
    @Test func aScrapeThatFailsPartWayReportsTheCountsReachedAsPrometheusDoes() async throws {
        let h = try await LoopHarness { _ in text("ok 1\nother 2\nbad{a=\"1\",a=\"2\"} 1\nafter 4\n") }
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 0)
        #expect(samples[h.series("ok")] == nil, "nothing of a failed scrape is stored")
        #expect(samples[h.series("scrape_samples_scraped")]?.value == 3, "two lines and the refused one")
        #expect(samples[h.series("scrape_samples_post_metric_relabeling")]?.value == 2)
        #expect(samples[h.series("scrape_series_added")]?.value == 2)
        #expect(h.reports.value.first?.samples == 3)
    }

    @Test func aSampleLimitReportsEverySampleOfTheBody() async throws {
        let h = try await LoopHarness(configure: { $0.limits.sampleLimit = 2 }) { _ in text("a 1\nb 2\nc 3\nd 4\n") }
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 0)
        #expect(samples[h.series("scrape_samples_scraped")]?.value == 4)
        #expect(samples[h.series("scrape_samples_post_metric_relabeling")]?.value == 4)
        #expect(samples[h.series("scrape_series_added")]?.value == 2)
    }

    @Test func aForcedFailureSkipsTheRequestAndMakesTheLastSeriesStale() async throws {
        let h = try await LoopHarness { _ in text("a 1\n") }
        _ = try await h.scrape()
        h.control.forcedFailure = "target_limit exceeded (number of targets: 3, limit: 2)"
        let failed = try await h.scrape()
        #expect(h.requests.value.count == 1, "no request while the job is over its target limit")
        #expect(failed[h.series("up")]?.value == 0)
        #expect(isStale(failed[h.series("a")]?.value))
        #expect(h.reports.value.last?.error == "target_limit exceeded (number of targets: 3, limit: 2)")
        h.control.forcedFailure = nil
        let recovered = try await h.scrape()
        #expect(recovered[h.series("up")]?.value == 1 && h.requests.value.count == 2)
    }

    @Test func failedFetchesAreLoggedAsJSONLinesAndBodyFailuresAreNot() async throws {
        let status = Locked(500)
        let h = try await LoopHarness { _ in
            var response = text("a 1\nbroken{\n")
            response.status = status.value
            return response
        }
        let pool = try BlockingIOPool(threads: 1, name: "failure-log-test")
        let path = h.directory.appendingPathComponent("failures.log").path
        h.control.failureLog = try await ScrapeFailureLog.open(path: path, pool: pool, logger: Logger(label: "test"))
        _ = try await h.scrape()
        status.withLock { $0 = 200 }
        _ = try await h.scrape()  // fails to parse: not logged, as in Prometheus
        await pool.shutdown()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        try #require(lines.count == 1, "\(lines)")
        let entry = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String])
        #expect(entry["level"] == "ERROR")
        #expect(entry["msg"] == "server returned HTTP status 500 Internal Server Error")
        #expect(entry["job_name"] == "test")
        #expect(entry["target"] == h.loop.target.url)
        #expect(entry["time"]?.hasPrefix("20") == true)
        #expect(lines[0].hasPrefix(#"{"time":"#) && lines[0].hasSuffix(#""}"#))
    }

    @Test func theLineIsWhatGoSlogWrites() {
        let utc = TimeZone(identifier: "UTC")!
        #expect(
            ScrapeFailureLog.line(
                message: "Get \"http://h:1/metrics\": EOF\tx\u{1}", job: "j", target: "http://h:1/metrics", wallMilliseconds: 1_767_225_600_120,
                timeZone: utc)
                == #"{"time":"2026-01-01T00:00:00.12Z","level":"ERROR","msg":"Get \"http://h:1/metrics\": EOF\tx\u0001","job_name":"j","target":"http://h:1/metrics"}"#
                + "\n")
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        #expect(ScrapeFailureLog.rfc3339(wallMilliseconds: 1_751_364_000_000, timeZone: berlin) == "2025-07-01T12:00:00+02:00")
        #expect(ScrapeFailureLog.rfc3339(wallMilliseconds: -1, timeZone: utc) == "1969-12-31T23:59:59.999Z")
    }
}
