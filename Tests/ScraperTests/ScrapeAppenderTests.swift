import AgentConfig
import Exposition
import Model
import Relabel
import Testing

@testable import Scraper
@testable import WAL

@Suite struct ScrapeAppenderTests {
    func target(honorLabels: Bool = false, relabel: [RelabelConfig] = [], sampleLimit: Int = 0, labelLimit: Int = 0) -> Target {
        var config = ScrapeConfig(jobName: "node", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        config.honorLabels = honorLabels
        config.metricRelabelConfigs = relabel
        config.limits.sampleLimit = sampleLimit
        config.limits.labelLimit = labelLimit
        config.staticConfigs = [StaticConfig(targets: ["h:1"])]
        return Target.targets(for: config)[0]
    }

    /// One scraper's state across scrapes, committing each batch with refs 1, 2, … in order.
    struct Loop {
        var appender: ScrapeAppender
        var cache = ScrapeCache()
        var metadata = MetadataCache()
        var nextRef: SeriesRef = 1
        /// The counts the last failed scrape reached.
        var failedCounts: ScrapeAppender.Counts?

        init(_ target: Target) { appender = ScrapeAppender(target: target) }

        mutating func scrape(_ text: String, format: ExpositionFormat = .prometheusText) throws -> (AppendBatch, ScrapeAppender.Counts, [SeriesRef]) {
            var batch = AppendBatch()
            cache.beginAttempt()
            do throws(ScrapeAppender.Failure) {
                let counts = try appender.append(
                    body: Array(text.utf8), format: format, timestamp: 1000, now: .now, cache: &cache, metadata: &metadata, to: &batch)
                let vanished = cache.finishSuccessfulAttempt(trackTimestamps: false)
                var refs: [SeriesRef] = []
                for _ in 0..<batch.newSeriesCount {
                    refs.append(nextRef)
                    nextRef += 1
                }
                cache.resolvePending(refs: refs)
                metadata.commitStaged()
                return (batch, counts, vanished)
            } catch {
                _ = cache.finishFailedAttempt(trackTimestamps: false)
                metadata.dropStaged()
                failedCounts = error.counts
                throw error.reason
            }
        }
    }

    @Test func aCachedSeriesIsAppendedByRefAndItsValueIsStillChecked() throws {
        var loop = Loop(target())
        let (first, _, _) = try loop.scrape("a{x=\"1\"} 1\nb 2\n")
        #expect(first.newSeriesCount == 2)
        #expect(first.newSeries[0] == Labels(["__name__": "a", "x": "1", "instance": "h:1", "job": "node"]))
        let (second, counts, _) = try loop.scrape("a{x=\"1\"} 3\nb 4\n")
        #expect(second.newSeriesCount == 0 && counts.appended == 2)
        #expect(second.entries.map(\.refOrIndex) == [1, 2] && second.entries.map(\.value) == [3, 4])
        #expect(throws: ExpositionError.self) { try loop.scrape("a{x=\"1\"} bad\n") }
        #expect(throws: ExpositionError.self) { try loop.scrape("a{x=\"1\"} 1 12x\n") }
    }

    @Test func anUnknownSeriesTextIsValidatedInFull() throws {
        var loop = Loop(target())
        _ = try loop.scrape("a{x=\"1\"} 1\n")
        #expect(throws: ExpositionError.self) { try loop.scrape("a{x=\"1\",x=\"2\"} 1\n") }
        #expect(throws: ExpositionError.self) { try loop.scrape("a{x=1} 1\n") }
        #expect(throws: ExpositionError.self) { try loop.scrape("a{x=\"1\"} 1\na{x=\"1\" 2\n") }
    }

    @Test func duplicateLinesKeepTheFirstSampleAndAreCounted() throws {
        var loop = Loop(target())
        let (first, counts, _) = try loop.scrape("a 1\na 2\nb 3\n")
        #expect(counts.scraped == 3 && counts.appended == 3 && counts.duplicates == 1, "as Prometheus, the duplicate counts as appended")
        #expect(first.entries.map(\.value) == [1, 3])
        let (second, again, _) = try loop.scrape("a 1\na 2\nb 3\n")
        #expect(again.duplicates == 1 && second.entries.map(\.value) == [1, 3])
    }

    @Test func vanishedSeriesAreReturnedForStalenessMarkers() throws {
        var loop = Loop(target())
        _ = try loop.scrape("a 1\nb 2\n")
        let (_, _, vanished) = try loop.scrape("a 1\n")
        #expect(vanished == [2])
    }

    @Test func seriesDroppedByMetricRelabelingStayDroppedWithoutRelabelingAgain() throws {
        let drop = try RelabelConfig(sourceLabels: ["__name__"], regex: "b", action: .drop)
        var loop = Loop(target(relabel: [drop]))
        let (first, counts, _) = try loop.scrape("a 1\nb 2\n")
        #expect(first.newSeriesCount == 1 && counts.scraped == 2 && counts.appended == 1)
        let (second, again, vanished) = try loop.scrape("a 1\nb 2\n")
        #expect(second.sampleCount == 1 && again.appended == 1 && vanished.isEmpty)
    }

    @Test func honorLabelsDecidesBetweenExposedAndTargetLabels() throws {
        var honoring = Loop(target(honorLabels: true))
        let (h, _, _) = try honoring.scrape("a{job=\"mine\"} 1\n")
        #expect(h.newSeries[0]["job"] == "mine" && h.newSeries[0]["exported_job"] == nil)
        var overriding = Loop(target(honorLabels: false))
        let (o, _, _) = try overriding.scrape("a{job=\"mine\"} 1\n")
        #expect(o.newSeries[0]["job"] == "node" && o.newSeries[0]["exported_job"] == "mine")
    }

    @Test func explicitTimestampsAreUsedWhenHonored() throws {
        var loop = Loop(target())
        let (batch, _, _) = try loop.scrape("a 1 42\nb 2\n")
        #expect(batch.entries.map(\.timestamp) == [42, 1000])
    }

    @Test func theSampleLimitFailsTheScrape() throws {
        var loop = Loop(target(sampleLimit: 1))
        #expect(throws: ScrapeFailure.self) { try loop.scrape("a 1\nb 2\n") }
        _ = try loop.scrape("a 1\n")
    }

    // Partial counts: what Prometheus's append returns with its error (`total`, `added`,
    // `seriesAdded`), which its report writes into the synthetic series.

    /// Expects `body` to fail and returns the counts reached.
    func countsOfFailed(_ body: String, _ loop: inout Loop, sourceLocation: SourceLocation = #_sourceLocation) throws -> ScrapeAppender.Counts {
        loop.failedCounts = nil
        #expect(throws: (any Error).self, sourceLocation: sourceLocation) { try loop.scrape(body) }
        return try #require(loop.failedCounts, sourceLocation: sourceLocation)
    }

    @Test func aParseErrorKeepsTheCountsOfTheLinesBeforeIt() throws {
        var loop = Loop(target())
        let counts = try countsOfFailed("a 1\nb 2\nc{ 3\nd 4\n", &loop)
        #expect(counts.scraped == 2 && counts.appended == 2 && counts.seriesAdded == 2)
        let bad = try countsOfFailed("a 1\nb 2\nc 3x\n", &loop)
        #expect(bad.scraped == 2 && bad.appended == 2, "a line whose value does not parse is not counted")
    }

    @Test func aDuplicateLabelNameCountsItsLineAsScrapedButNotAppended() throws {
        var loop = Loop(target())
        let counts = try countsOfFailed("a 1\nb{x=\"1\",x=\"2\"} 2\nc 3\n", &loop)
        #expect(counts.scraped == 2 && counts.appended == 1 && counts.seriesAdded == 1)
    }

    @Test func aLabelLimitCountsTheOffendingLineAsScrapedOnly() throws {
        let drop = try RelabelConfig(sourceLabels: ["__name__"], regex: "dropped", action: .drop)
        var loop = Loop(target(relabel: [drop], labelLimit: 3))
        let counts = try countsOfFailed("a 1\ndropped 1\nb{x=\"1\"} 2\nc 3\n", &loop)
        #expect(counts.scraped == 3 && counts.appended == 1 && counts.seriesAdded == 1)
    }

    @Test func theSampleLimitCountsTheWholeBodyButNoSeriesPastTheLimit() throws {
        var loop = Loop(target(sampleLimit: 2))
        let counts = try countsOfFailed("a 1\nb 2\nb 5\nc 3\nd 4\n", &loop)
        #expect(counts.scraped == 5 && counts.appended == 5 && counts.duplicates == 1)
        #expect(counts.seriesAdded == 2, "series over the limit are not added")
        #expect(loop.failedCounts?.stored == 4)
    }

    @Test func theSameTextInAnotherFormatIsNewToTheCache() throws {
        var loop = Loop(target())
        _ = try loop.scrape("a 1\n")
        let (batch, _, _) = try loop.scrape("a 1\n# EOF\n", format: .openMetrics)
        #expect(batch.newSeriesCount == 1, "validated again under OpenMetrics rules")
    }
}
