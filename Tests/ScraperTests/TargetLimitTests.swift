import AgentConfig
import Model
import Relabel
import TestSupport
import Testing

@testable import Scraper

/// `target_limit` and `keep_dropped_targets`, per job, as Prometheus's scrape pool applies them.
@Suite struct TargetLimitTests {
    /// A job whose `count` targets are one server under distinct `shard` labels.
    func job(_ address: String, count: Int, configure: (inout ScrapeConfig) -> Void) -> ScrapeConfig {
        var job = ScrapeConfig(jobName: "limited", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        job.staticConfigs = (0..<count).map { StaticConfig(targets: [address], labels: Labels(["shard": "\($0)"])) }
        configure(&job)
        return job
    }

    @Test func moreTargetsThanTheLimitFailEveryScrapeOfTheJobWithoutARequest() async throws {
        let requests = Locked(0)
        var servers: [TestHTTPServer] = []
        for _ in 0..<3 {
            servers.append(try await TestHTTPServer { _ in
                requests.withLock { $0 += 1 }
                return text("a 1\n")
            })
        }
        var limited = ScrapeConfig(jobName: "limited", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        limited.staticConfigs = [StaticConfig(targets: servers.map(\.address))]
        limited.limits.targetLimit = 2
        let h = try ManagerHarness(limited)
        await h.scrapeEveryTargetOnce()
        let errors = h.manager.targetStatus.map { $0.lastScrape?.error }
        #expect(errors == Array(repeating: "target_limit exceeded (number of targets: 3, limit: 2)", count: 3))
        #expect(requests.value == 0)
        #expect(h.metric("prometheus_target_scrape_pool_exceeded_target_limit_total") == 1)
        #expect(h.metric(#"prometheus_target_scrape_pool_target_limit{scrape_job="limited"}"#) == 2)
        #expect(try h.samples().filter { $0.series.hasPrefix("up{") }.map(\.value) == [0, 0, 0])
        #expect(await h.stop())
        for server in servers { try await server.stop() }
    }

    @Test func aJobWithinItsLimitScrapes() async throws {
        let server = try await TestHTTPServer { _ in text("a 1\n") }
        var job = ScrapeConfig(jobName: "limited", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        job.staticConfigs = [StaticConfig(targets: [server.address])]
        job.limits.targetLimit = 1
        let h = try ManagerHarness(job)
        await h.scrapeEveryTargetOnce()
        #expect(h.manager.targetStatus.map { $0.lastScrape?.error } == [nil])
        #expect(h.metric("prometheus_target_scrape_pool_exceeded_target_limit_total") == 0)
        #expect(await h.stop())
        try await server.stop()
    }

    @Test(arguments: [(0, 4), (2, 2)])
    func keepDroppedTargetsBoundsTheDroppedTargetsKept(keep: Int, kept: Int) async throws {
        let h = try ManagerHarness(job("127.0.0.1:1", count: 5) {
            $0.limits.keepDroppedTargets = keep
            $0.relabelConfigs = [try! RelabelConfig(sourceLabels: ["shard"], regex: "0", action: .keep)]
        })
        #expect(await eventually(timeout: .seconds(20)) { h.manager.targetStatus.count == 1 })
        #expect(h.manager.droppedTargets.count == kept)
        #expect(h.metric(#"prometheus_sd_discovered_targets{config="limited",name="scrape"}"#) == 5, "every dropped target is still counted")
        #expect(await h.stop())
    }
}
