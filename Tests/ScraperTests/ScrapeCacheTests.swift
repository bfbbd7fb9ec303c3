import Exposition
import Model
import Testing

@testable import Scraper

@Suite struct ScrapeCacheTests {
    let a = Array(#"node_load1{cpu="0"}"#.utf8)
    let b = Array(#"node_load1{cpu="1"}"#.utf8)

    func key(_ cache: ScrapeCache, _ bytes: [UInt8], format: ExpositionFormat = .prometheusText) -> ScrapeCache.Key {
        bytes.withUnsafeBytes { cache.key($0, format: format) }
    }

    func lookup(_ cache: inout ScrapeCache, _ bytes: [UInt8], explicit: Bool = false) -> ScrapeCache.Lookup {
        cache.lookup(key(cache, bytes), explicitTimestamp: explicit)
    }

    func insert(_ cache: inout ScrapeCache, _ bytes: [UInt8], index: Int, explicit: Bool = false) {
        cache.insertPending(key(cache, bytes), index: index, explicitTimestamp: explicit)
    }

    @Test func newSeriesGetTheirRefsAfterCommitAndHitByTheirTextAfterwards() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .miss)
        insert(&cache, a, index: 0)
        #expect(lookup(&cache, a) == .duplicate, "a second line for the same series in one scrape")
        insert(&cache, b, index: 1)
        #expect(cache.finishSuccessfulAttempt(trackTimestamps: false).isEmpty)
        cache.resolvePending(refs: [7, 8])
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .hit(7))
        #expect(lookup(&cache, b) == .hit(8))
        #expect(lookup(&cache, a) == .duplicate)
        #expect(lookup(&cache, Array("other".utf8)) == .miss)
    }

    @Test func aTextValidatedInOneFormatIsUnknownInTheOther() {
        let cache = ScrapeCache()
        #expect(key(cache, a) == key(cache, a))
        #expect(key(cache, a, format: .prometheusText) != key(cache, a, format: .openMetrics))
    }

    @Test func keysTellApartTextsThatDifferInAnyByteOrInLength() {
        let cache = ScrapeCache()
        var keys = Set<ScrapeCache.Key>()
        let text = Array(#"http_requests_total{code="200",method="get"}"#.utf8)
        // Every prefix (lengths 0 through 45 cover empty, partial and whole words) and every
        // one-byte change of the whole text.
        for n in 0...text.count { keys.insert(key(cache, Array(text[0..<n]))) }
        for i in text.indices {
            var changed = text
            changed[i] ^= 1
            keys.insert(key(cache, changed))
        }
        keys.insert(key(cache, text + [0]))
        #expect(keys.count == (text.count + 1) + text.count + 1)
        // Two caches draw different seeds.
        #expect(key(ScrapeCache(), text) != key(ScrapeCache(), text))
    }

    @Test func seriesDroppedByRelabelingAreSkippedAndNeverStale() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        cache.insertDropped(key(cache, a))
        insert(&cache, b, index: 0)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: [3])
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .dropped)
        #expect(lookup(&cache, a) == .duplicate)
        #expect(lookup(&cache, b) == .hit(3))
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.beginAttempt()
        #expect(cache.finishSuccessfulAttempt(trackTimestamps: false) == [3], "only the stored series goes stale")
        #expect(cache.allRefs() == [3])
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
        failing.beginAttempt()
        #expect(lookup(&failing, a) == .hit(5), "still known after failures")
        #expect(failing.finishSuccessfulAttempt(trackTimestamps: false).isEmpty, "a success after a failure reports nothing stale again")
    }

    @Test func anAbandonedAttemptLeavesNoSeriesMarkedSeen() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        insert(&cache, a, index: 0)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: [4])
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .hit(4))
        cache.rollBackPending()  // cancelled: never finished
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .hit(4), "not a duplicate of the abandoned attempt's line")
    }

    @Test func newSeriesWithoutARefAfterTheCommitAreForgotten() {
        var cache = ScrapeCache()
        cache.beginAttempt()
        insert(&cache, a, index: 0)
        insert(&cache, b, index: 1)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: [9])
        cache.beginAttempt()
        #expect(lookup(&cache, a) == .hit(9))
        #expect(lookup(&cache, b) == .miss)
        #expect(cache.count == 1)
    }

    @Test func theTableGrowsAndKeepsEverySeries() {
        var cache = ScrapeCache()
        let texts = (0..<5000).map { Array("m{i=\"\($0)\"}".utf8) }
        cache.beginAttempt()
        for (i, text) in texts.enumerated() { insert(&cache, text, index: i) }
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: texts.indices.map { SeriesRef($0 + 100) })
        cache.beginAttempt()
        for (i, text) in texts.enumerated() { #expect(lookup(&cache, text) == .hit(SeriesRef(i + 100))) }
        #expect(cache.count == 5000)
        #expect(cache.memoryBytes <= 5000 * 32 * 8 / 3, "at least 3/8 full")
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
        #expect(cache.evict(olderThan: 2) == [1])
        #expect(cache.count == 1)
        cache.beginAttempt()
        #expect(lookup(&cache, b) == .hit(2))
    }
}
