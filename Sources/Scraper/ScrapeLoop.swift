import AgentConfig
import Curl
import Exposition
import Logging
import Model
import Relabel
import Synchronization
import WAL

/// The outcome of one scrape, as `/api/v1/targets` and the logs report it.
public struct ScrapeReport: Sendable {
    /// Milliseconds since the epoch at the scrape's start.
    public var timestamp: Int64
    public var duration: Duration
    /// nil when the scrape succeeded.
    public var error: String?
    public var samples: Int
}

/// Prometheus's staleness marker: a NaN with this exact bit pattern.
public let staleMarkerBits: UInt64 = 0x7ff0_0000_0000_0002
let staleMarker = Double(bitPattern: staleMarkerBits)

/// Scrapes one target every interval and commits each scrape's samples, the synthetic series
/// Prometheus writes (`up`, `scrape_duration_seconds`, …) and staleness markers to the WAL as one
/// batch.
///
/// Scrapes start on the target's slot: wall-clock times ≡ ``Target/offset`` modulo the interval
/// (stable across restarts, spread across targets). The HTTP transfer is one of many on the
/// shared ``HTTPTransport``: a target that never answers holds no thread and delays no other
/// target. How late each scrape starts against its slot is recorded in
/// `agent_scrape_lateness_seconds`.
///
/// A class: the ``ScrapeScheduler`` keeps one per target, and a scrape's task frames hold a
/// reference to it rather than a copy (with its target, over a kilobyte).
final class ScrapeLoop: Sendable {
    static let syntheticNames = [
        "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added",
    ]

    let target: Target
    let client: ScrapeClient
    let wal: WriteAheadLog
    let transport: HTTPTransport
    let clock: any AgentClock
    let metrics: ScrapeMetrics
    /// The pool's `target_limit` verdict and failure log, read at every scrape.
    let control: ScrapePoolControl
    let logger: Logger
    let onReport: @Sendable (Target, ScrapeReport) -> Void

    init(
        target: Target, client: ScrapeClient, wal: WriteAheadLog, transport: HTTPTransport, clock: any AgentClock,
        metrics: ScrapeMetrics, control: ScrapePoolControl = ScrapePoolControl(), logger: Logger,
        onReport: @escaping @Sendable (Target, ScrapeReport) -> Void
    ) {
        self.target = target
        self.client = client
        self.control = control
        self.wal = wal
        self.transport = transport
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        self.onReport = onReport
    }

    /// What one loop remembers between scrapes.
    struct State {
        var cache = ScrapeCache()
        var metadata = MetadataCache()
        /// The byte path from body to batch, with its reusable buffers.
        var appender: ScrapeAppender
        var syntheticRefs: [String: SeriesRef] = [:]
        /// Refs the cache forgot, to release in the next committed batch.
        var pendingReleases: [SeriesRef] = []
        var wasUp: Bool? = nil
        /// The last commit failed (the WAL could not write).
        var walFailing = false
        var lastTimestamp: Int64 = 0

        init(target: Target) {
            appender = ScrapeAppender(target: target)
        }
    }

    // MARK: One scrape

    func scrapeOnce(state: inout State) async {
        let started = clock.now
        let timestamp = max(clock.wallMilliseconds, state.lastTimestamp + 1)
        state.lastTimestamp = timestamp
        state.cache.beginAttempt()

        var batch = AppendBatch()
        let outcome: ScrapeOutcome
        // Why the target could not be fetched: what the failure log records.
        var fetchFailure: String?
        if let forced = control.forcedFailure {
            // target_limit exceeded: no request; the previous scrape's series go stale.
            outcome = failed(forced, counts: ScrapeAppender.Counts(), timestamp: timestamp, state: &state, batch: &batch)
        } else {
            do {
                let response = try await fetch(state: state)
                outcome = ingest(response, timestamp: timestamp, state: &state, batch: &batch)
            } catch {
                if Task.isCancelled {
                    // Aborted (shutdown, reload, target removed): not a failure of the target. Nothing
                    // of it is stored; the loop's owner decides about staleness markers.
                    state.cache.rollBackPending()
                    state.metadata.dropStaged()
                    return
                }
                let failure = Self.describe(error, target: target)
                fetchFailure = failure
                outcome = failed(failure, counts: ScrapeAppender.Counts(), timestamp: timestamp, state: &state, batch: &batch)
            }
        }
        let duration = clock.now - started
        let newSynthetic = appendSynthetic(outcome, duration: duration, timestamp: timestamp, state: &state, batch: &batch)
        await commit(&batch, newSynthetic: newSynthetic, state: &state)
        finish(outcome, duration: duration, timestamp: timestamp, state: &state)
        // As Prometheus: only failures to fetch are logged (not bodies that fail to parse or
        // exceed a limit, nor target_limit).
        if let fetchFailure, let log = control.failureLog {
            await log.record(fetchFailure, job: target.job, target: target.url, wallMilliseconds: clock.wallMilliseconds)
        }
    }

    /// What one scrape gave: its counts (those reached before a failure part-way), and why it
    /// failed if it did.
    private struct ScrapeOutcome {
        var counts = ScrapeAppender.Counts()
        var failure: String?
    }

    // The synchronous steps of a scrape are functions of their own (not inlined): their locals
    // then live on the thread's stack while they run, not in the scrape task's async frames.

    /// Parses and appends a successful response in the format its `Content-Type` names (or the
    /// job's `fallback_scrape_protocol`); a body that fails (unknown format, parse error, limit)
    /// fails the scrape with the counts reached. An empty body is an empty scrape whatever its
    /// `Content-Type`: Prometheus does not parse it.
    @inline(never)
    private func ingest(_ response: HTTPResponse, timestamp: Int64, state: inout State, batch: inout AppendBatch) -> ScrapeOutcome {
        let format: ExpositionFormat
        do throws(ScrapeFailure) {
            format = response.body.isEmpty
                ? .prometheusText
                : try ResponseFormat.choose(contentType: response.header("content-type"), fallback: target.config.fallbackScrapeProtocol)
        } catch {
            return failed(error.description, counts: ScrapeAppender.Counts(), timestamp: timestamp, state: &state, batch: &batch)
        }
        do throws(ScrapeAppender.Failure) {
            let counts = try state.appender.append(
                body: response.body, format: format, timestamp: timestamp, now: clock.now, cache: &state.cache,
                metadata: &state.metadata, to: &batch)
            let vanished = state.cache.finishSuccessfulAttempt(trackTimestamps: target.config.trackTimestampsStaleness)
            for ref in vanished { batch.append(ref: ref, timestamp: timestamp, value: staleMarker) }
            return ScrapeOutcome(counts: counts)
        } catch {
            return failed(Self.describe(error.reason, target: target), counts: error.counts, timestamp: timestamp, state: &state, batch: &batch)
        }
    }

    /// A failed scrape stores none of its samples; every series of the previous scrape goes
    /// stale. `counts` are those reached before the failure, which the synthetic series report.
    @inline(never)
    private func failed(
        _ failure: String, counts: ScrapeAppender.Counts, timestamp: Int64, state: inout State, batch: inout AppendBatch
    ) -> ScrapeOutcome {
        batch = AppendBatch()
        state.metadata.dropStaged()
        let previous = state.cache.finishFailedAttempt(trackTimestamps: target.config.trackTimestampsStaleness)
        for ref in previous { batch.append(ref: ref, timestamp: timestamp, value: staleMarker) }
        return ScrapeOutcome(counts: counts, failure: failure)
    }

    /// The scrape's own series (`up`, `scrape_duration_seconds`, …).
    @inline(never)
    private func appendSynthetic(
        _ outcome: ScrapeOutcome, duration: Duration, timestamp: Int64, state: inout State, batch: inout AppendBatch
    ) -> [(name: String, index: Int)] {
        appendSynthetic(
            [
                ("up", outcome.failure == nil ? 1 : 0), ("scrape_duration_seconds", duration.seconds),
                ("scrape_samples_scraped", Double(outcome.counts.scraped)),
                ("scrape_samples_post_metric_relabeling", Double(outcome.counts.appended)),
                ("scrape_series_added", Double(outcome.counts.seriesAdded)),
            ],
            timestamp: timestamp, state: &state, batch: &batch)
    }

    /// After the commit: evictions, metrics, logs and the report.
    @inline(never)
    private func finish(_ outcome: ScrapeOutcome, duration: Duration, timestamp: Int64, state: inout State) {
        let counts = outcome.counts
        if state.cache.generation % 10 == 0 {
            // Forgotten series had their staleness marker when they vanished: the WAL may forget them too.
            state.pendingReleases += state.cache.evict(olderThan: 10)
        }
        metrics.scrapes.increment()
        if counts.duplicates > 0 { metrics.duplicates.increment(by: Int64(counts.duplicates)) }
        if counts.exemplarsDropped > 0 { metrics.exemplarsDropped.increment(by: Int64(counts.exemplarsDropped)) }
        if let failure = outcome.failure {
            metrics.failures.increment()
            if state.wasUp != false {
                logger.warning("scrape failed", metadata: ["target": "\(target.url)", "job": "\(target.job)", "error": "\(failure)"])
            }
        } else if state.wasUp == false {
            logger.info("scrape recovered", metadata: ["target": "\(target.url)", "job": "\(target.job)"])
        }
        state.wasUp = outcome.failure == nil
        onReport(target, ScrapeReport(timestamp: timestamp, duration: duration, error: outcome.failure, samples: counts.scraped))
    }

    /// GETs the target; on a 401 with credentials from files or OAuth2, refreshes them and
    /// tries once more.
    private func fetch(state: State) async throws -> HTTPResponse {
        var response = try await transport.perform(try await client.request(for: target))
        if response.status == 401, client.canRefreshCredentials {
            response = try await transport.perform(try await client.request(for: target, refreshCredentials: true))
        }
        guard response.status == 200 else {
            throw ScrapeFailure("server returned HTTP status \(response.status) \(HTTPStatus.reason(response.status))")
        }
        return response
    }

    // MARK: Storing

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

    /// Commits `batch` with the releases pending. On failure (the WAL could not write: disk
    /// full…) nothing of the batch counts: its new series keep no refs, its metadata counts as not
    /// sent, its releases wait for the next batch, and its samples are counted as dropped. The WAL
    /// logs the first failure of a streak and the recovery; each loop logs at debug.
    private func commit(_ batch: inout AppendBatch, newSynthetic: [(name: String, index: Int)], state: inout State) async {
        for ref in state.pendingReleases { batch.release(ref: ref) }
        do {
            let refs = try await wal.commit(batch)
            state.cache.resolvePending(refs: refs)
            for entry in newSynthetic where entry.index < refs.count {
                state.syntheticRefs[entry.name] = refs[entry.index]
            }
            state.pendingReleases.removeAll(keepingCapacity: true)
            state.metadata.commitStaged()
            metrics.samplesAppended.increment(by: Int64(batch.sampleCount))
            if batch.metadataCount > 0 { metrics.metadataAppended.increment(by: Int64(batch.metadataCount)) }
            if state.walFailing {
                state.walFailing = false
                logger.debug("WAL takes this target's samples again", metadata: ["target": "\(target.url)"])
            }
        } catch {
            state.cache.rollBackPending()
            state.metadata.dropStaged()
            metrics.appendFailures.increment()
            metrics.samplesDroppedWriteFailed.increment(by: Int64(batch.sampleCount))
            if !state.walFailing {
                state.walFailing = true
                logger.debug("WAL write failed; dropping this target's samples until it recovers", metadata: [
                    "target": "\(target.url)", "error": "\(error)",
                ])
            }
        }
    }

    /// Staleness markers for every series of the target, synthetic ones included: the target
    /// left discovery. Every ref of the target is released in the same batch.
    func markEverythingStale(state: inout State) async {
        let timestamp = max(clock.wallMilliseconds, state.lastTimestamp + 1)
        var batch = AppendBatch()
        for ref in state.cache.allOfLastGeneration(trackTimestamps: target.config.trackTimestampsStaleness) {
            batch.append(ref: ref, timestamp: timestamp, value: staleMarker)
        }
        for name in Self.syntheticNames {
            if let ref = state.syntheticRefs[name] { batch.append(ref: ref, timestamp: timestamp, value: staleMarker) }
        }
        for ref in state.cache.allRefs() { batch.release(ref: ref) }
        for ref in state.syntheticRefs.values { batch.release(ref: ref) }
        guard !batch.isEmpty || !state.pendingReleases.isEmpty else { return }
        await commit(&batch, newSynthetic: [], state: &state)
    }

    /// The `lastError` text for a failed scrape.
    static func describe(_ error: any Error, target: Target) -> String {
        if let error = error as? ExpositionError { return "parsing the scrape body: \(error)" }
        if let error = error as? CurlError {
            switch error.kind {
            case .timeout: return "scrape timed out after \(PrometheusDuration.format(target.timeout)): \(error.message)"
            case .responseTooLarge: return "body size limit exceeded (limit \(target.config.limits.bodySizeLimit) bytes)"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

/// Reason phrases for the statuses a target is likely to answer.
enum HTTPStatus {
    static func reason(_ status: Int) -> String {
        switch status {
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return ""
        }
    }
}
