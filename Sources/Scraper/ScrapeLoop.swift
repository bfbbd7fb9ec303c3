import AgentConfig
import Curl
import Exposition
import Logging
import NIOPosix
import WAL

/// The outcome of one scrape, as `/api/v1/targets` and the logs report it.
public struct ScrapeReport: Sendable {
    public var timestamp: Int64
    public var duration: Duration
    /// nil when the scrape succeeded.
    public var error: String?
    public var samples: Int
}

/// Scrapes one target every interval and commits each scrape's samples, with the synthetic
/// series Prometheus writes (`up`, `scrape_duration_seconds`, ...), to the WAL as one batch.
struct ScrapeLoop: Sendable {
    /// Prometheus's Accept header for the text format 0.0.4 alone.
    static let acceptHeader = "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    static let userAgent = "metrics-agent/\(AgentVersion.current)"

    let target: Target
    let wal: WriteAheadLog
    let threadPool: NIOThreadPool
    let metrics: ScrapeMetrics
    let logger: Logger
    let onReport: @Sendable (Target, ScrapeReport) -> Void

    /// Runs until the task is cancelled.
    func run() async {
        let connection = HTTPConnection()
        var state = State()
        let clock = ContinuousClock()
        // Fire at wall-clock times ≡ offset (mod interval): stable across restarts, spread across targets.
        let intervalMs = max(1, target.interval.milliseconds)
        let offsetMs = target.offset.milliseconds
        let now = WallClock.nowMilliseconds()
        let firstDelay = ((offsetMs - now % intervalMs) % intervalMs + intervalMs) % intervalMs
        var next = clock.now.advanced(by: .milliseconds(firstDelay))
        while !Task.isCancelled {
            do {
                try await Task.sleep(until: next, clock: clock)
            } catch {
                return
            }
            await scrapeOnce(connection: connection, state: &state)
            // Skip ticks missed by a scrape that ran long; never scrape twice back to back.
            next = next.advanced(by: target.interval)
            while next < clock.now { next = next.advanced(by: target.interval) }
        }
    }

    /// What one loop remembers between scrapes.
    struct State {
        var cache = ScrapeCache()
        var syntheticRefs: [String: SeriesRef] = [:]
        var wasUp: Bool? = nil
    }

    func scrapeOnce(connection: HTTPConnection, state: inout State) async {
        let clock = ContinuousClock()
        let started = clock.now
        let timestamp = WallClock.nowMilliseconds()
        var request = HTTPRequest(
            method: .get,
            url: target.url,
            headers: [
                ("Accept", Self.acceptHeader),
                ("User-Agent", Self.userAgent),
                ("X-Prometheus-Scrape-Timeout-Seconds", String(target.timeout.seconds)),
            ],
            timeout: target.timeout
        )
        request.acceptEncoding = "gzip"

        var batch = AppendBatch()
        var pending: [(range: Range<Int>, hash: UInt64, index: Int)] = []
        var scraped = 0
        var failure: String?
        var body: [UInt8] = []
        do {
            let pendingRequest = request
            let response = try await threadPool.runIfActive { try connection.perform(pendingRequest) }
            if response.status != 200 {
                throw ScrapeFailure("server returned HTTP status \(response.status)")
            }
            body = response.body
            state.cache.beginScrape()
            (scraped, pending) = try appendSamples(of: body, timestamp: timestamp, cache: &state.cache, to: &batch)
        } catch let error as ExpositionError {
            failure = "parsing the scrape body: \(error)"
        } catch {
            failure = "\(error)"
        }
        if failure != nil {
            // A failed scrape stores none of its samples, as in Prometheus.
            batch = AppendBatch()
            pending = []
            scraped = 0
        }
        let duration = clock.now - started
        let up = failure == nil
        let newSeries = pending.count
        let newSynthetic = appendSynthetic(
            [("up", up ? 1 : 0), ("scrape_duration_seconds", duration.seconds),
             ("scrape_samples_scraped", Double(scraped)), ("scrape_samples_post_metric_relabeling", Double(scraped)),
             ("scrape_series_added", Double(newSeries))],
            timestamp: timestamp, state: &state, batch: &batch
        )
        do {
            let refs = try wal.commit(batch)
            remember(refs: refs, pending: pending, synthetic: newSynthetic, body: body, state: &state)
            metrics.samplesAppended.increment(by: Int64(batch.sampleCount))
        } catch {
            metrics.appendFailures.increment()
            logger.error("cannot append scrape to the WAL", metadata: ["target": "\(target.url)", "error": "\(error)"])
        }
        // Series gone for 10 scrapes are forgotten, so churn does not grow the cache.
        if state.cache.generation % 10 == 0 { state.cache.evict(olderThan: 10) }

        metrics.scrapes.increment()
        if let failure {
            metrics.failures.increment()
            if state.wasUp != false {
                logger.warning("scrape failed", metadata: ["target": "\(target.url)", "job": "\(target.job)", "error": "\(failure)"])
            }
        } else if state.wasUp == false {
            logger.info("scrape recovered", metadata: ["target": "\(target.url)", "job": "\(target.job)"])
        }
        state.wasUp = up
        onReport(target, ScrapeReport(timestamp: timestamp, duration: duration, error: failure, samples: scraped))
    }

    /// Parses `body` and adds each sample to `batch`: by ref when the series line is cached,
    /// otherwise with its full label set (to be resolved by the WAL). Returns the sample count
    /// and the series lines still to be cached once their refs are known.
    private func appendSamples(
        of body: [UInt8], timestamp: Int64, cache: inout ScrapeCache, to batch: inout AppendBatch
    ) throws -> (Int, [(range: Range<Int>, hash: UInt64, index: Int)]) {
        var parser = TextParser(body)
        var pending: [(range: Range<Int>, hash: UInt64, index: Int)] = []
        var count = 0
        try body.withUnsafeBytes { bytes in
            while let sample = try parser.next() {
                count += 1
                let series = UnsafeRawBufferPointer(rebasing: bytes[sample.series])
                let hash = ScrapeCache.hash(series)
                let sampleTime = sample.timestamp ?? timestamp
                if let ref = cache.ref(for: series, hash: hash) {
                    batch.append(ref: ref, timestamp: sampleTime, value: sample.value)
                } else {
                    let labels = target.seriesLabels(exposed: try parser.labels(of: sample))
                    let index = batch.append(labels: labels, timestamp: sampleTime, value: sample.value)
                    pending.append((sample.series, hash, index))
                }
            }
        }
        return (count, pending)
    }

    /// Adds the synthetic series; returns those without a cached ref and their new-series index.
    private func appendSynthetic(
        _ values: [(String, Double)], timestamp: Int64, state: inout State, batch: inout AppendBatch
    ) -> [(name: String, index: Int)] {
        var added: [(name: String, index: Int)] = []
        for (name, value) in values {
            if let ref = state.syntheticRefs[name] {
                batch.append(ref: ref, timestamp: timestamp, value: value)
            } else {
                let index = batch.append(labels: target.labels.setting("__name__", to: name), timestamp: timestamp, value: value)
                added.append((name, index))
            }
        }
        return added
    }

    /// Caches the refs the WAL assigned to this scrape's new series.
    private func remember(
        refs: [SeriesRef],
        pending: [(range: Range<Int>, hash: UInt64, index: Int)],
        synthetic: [(name: String, index: Int)],
        body: [UInt8],
        state: inout State
    ) {
        body.withUnsafeBytes { bytes in
            for entry in pending where entry.index < refs.count {
                state.cache.insert(UnsafeRawBufferPointer(rebasing: bytes[entry.range]), hash: entry.hash, ref: refs[entry.index])
            }
        }
        for entry in synthetic where entry.index < refs.count {
            state.syntheticRefs[entry.name] = refs[entry.index]
        }
    }
}

struct ScrapeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
