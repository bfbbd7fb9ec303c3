import Model
import AgentConfig
import Testing
import WAL

@testable import Scraper

@Suite struct TargetTests {
    func target(honorLabels: Bool) -> Target {
        var config = ScrapeConfig(jobName: "node", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        config.honorLabels = honorLabels
        config.staticConfigs = [StaticConfig(targets: ["10.0.0.1:9100"], labels: Labels(["env": "prod"]))]
        return Target.targets(for: config)[0]
    }

    @Test func staticTargetsGetJobInstanceAndGroupLabels() {
        let target = target(honorLabels: false)
        #expect(target.url == "http://10.0.0.1:9100/metrics")
        #expect(target.labels == Labels(["env": "prod", "instance": "10.0.0.1:9100", "job": "node"]))
    }

    @Test func clashingExposedLabelsBecomeExportedWhenNotHonored() {
        let exposed = Labels(["__name__": "up_total", "job": "exposed-job", "exported_job": "taken", "mode": "idle"])
        let labels = target(honorLabels: false).seriesLabels(exposed: exposed)
        #expect(labels["job"] == "node")
        #expect(labels["exported_exported_job"] == "exposed-job", "prefixed again while exported_job is taken")
        #expect(labels["exported_job"] == "taken")
        #expect(labels["mode"] == "idle" && labels["instance"] == "10.0.0.1:9100" && labels["env"] == "prod")
    }

    @Test func exposedLabelsWinWhenHonored() {
        let exposed = Labels(["__name__": "up_total", "job": "exposed-job"])
        let labels = target(honorLabels: true).seriesLabels(exposed: exposed)
        #expect(labels["job"] == "exposed-job")
        #expect(labels["exported_job"] == nil)
        #expect(labels["instance"] == "10.0.0.1:9100")
    }

    @Test func offsetsAreStableAndWithinTheInterval() {
        let a = target(honorLabels: false)
        #expect(a.offset == a.offset)
        #expect(a.offset >= .zero && a.offset < a.interval)
    }
}

@Suite struct ScrapeCacheTests {
    let a = Array(#"node_load1{cpu="0"}"#.utf8)
    let b = Array(#"node_load1{cpu="1"}"#.utf8)

    func lookup(_ cache: inout ScrapeCache, _ bytes: [UInt8], hash: UInt64? = nil, explicit: Bool = false) -> ScrapeCache.Lookup {
        bytes.withUnsafeBytes { cache.lookup($0, hash: hash ?? ScrapeCache.hash($0), explicitTimestamp: explicit) }
    }

    func insert(_ cache: inout ScrapeCache, _ bytes: [UInt8], hash: UInt64? = nil, index: Int, explicit: Bool = false) {
        bytes.withUnsafeBytes { cache.insertPending($0, hash: hash ?? ScrapeCache.hash($0), index: index, explicitTimestamp: explicit) }
    }

    @Test func newSeriesGetTheirRefsAfterCommitAndHitByBytesAfterwards() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .miss)
        insert(&cache, a, index: 0)
        #expect(lookup(&cache, a) == .duplicate, "a second line for the same series in one scrape")
        // Colliding hashes are told apart by their bytes.
        insert(&cache, b, hash: ScrapeCache.hash(Array(a).withUnsafeBytes { $0 }), index: 1)
        #expect(cache.finishSuccessfulAttempt(trackTimestamps: false).isEmpty)
        cache.resolvePending(refs: [7, 8])
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .hit(7))
        #expect(lookup(&cache, b, hash: a.withUnsafeBytes { ScrapeCache.hash($0) }) == .hit(8))
        #expect(lookup(&cache, Array("other".utf8)) == .miss)
    }

    @Test func vanishedSeriesAreReportedOnceAndFailedScrapesReportAllPrevious() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        insert(&cache, a, index: 0)
        insert(&cache, b, index: 1, explicit: true)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: [1, 2])
        cache.beginAttempt()
        _ = lookup(&cache, a)
        #expect(cache.finishSuccessfulAttempt(trackTimestamps: false).isEmpty, "b carries its own timestamps: not tracked")
        cache.beginAttempt()
        #expect(cache.finishSuccessfulAttempt(trackTimestamps: true) == [1], "a vanished")
        cache.beginAttempt()
        #expect(cache.finishSuccessfulAttempt(trackTimestamps: true).isEmpty, "reported once")

        var failing = ScrapeCache()
        failing.beginAttempt()
        insert(&failing, a, index: 0)
        _ = failing.finishSuccessfulAttempt(trackTimestamps: false)
        failing.resolvePending(refs: [5])
        failing.beginAttempt()
        insert(&failing, b, index: 0)
        #expect(failing.finishFailedAttempt(trackTimestamps: false) == [5])
        failing.beginAttempt()
        #expect(lookup(&failing, b) == .miss, "a failed scrape's new series are forgotten")
        #expect(failing.finishFailedAttempt(trackTimestamps: false).isEmpty)
    }

    @Test func seriesUnseenForLongAreForgotten() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        insert(&cache, a, index: 0)
        insert(&cache, b, index: 1)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: [1, 2])
        for _ in 0..<3 {
            cache.beginAttempt()
            _ = lookup(&cache, b)
            _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        }
        cache.evict(olderThan: 2)
        #expect(cache.count == 1)
        cache.beginAttempt()
        #expect(lookup(&cache, b) == .hit(2))
    }
}
