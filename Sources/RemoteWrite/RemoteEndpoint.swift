import AgentConfig
import AgentHTTP
import Foundation
import Curl
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Sends everything the WAL holds to one `remote_write` endpoint, in order, starting from the
/// endpoint's persisted cursor. A batch is acknowledged (and the cursor advanced) only when the
/// receiver accepted it, or rejected it for good with a 4xx other than 429; anything else is
/// retried with exponential backoff, so a receiver that is down loses nothing the WAL holds.
final class RemoteEndpoint: Sendable {
    static let userAgent = "metrics-agent/\(AgentVersion.current)"
    /// Longest receiver message logged for a rejected batch.
    static let maxLoggedResponse = 512

    let config: RemoteWriteConfig
    private let walDirectory: String
    private let encoderSeed: Labels
    private let cursorFile: EndpointProgressFile
    private let http: HTTPClient
    private let metrics: RemoteWriteMetrics
    private let logger: Logger
    /// The endpoint's acknowledged cursor, for WAL truncation; nil until it has started.
    let acknowledged = Mutex<Cursor?>(nil)
    private let shutdown = Mutex<ContinuousClock.Instant?>(nil)

    init(
        config: RemoteWriteConfig, walDirectory: String, cursorDirectory: String, externalLabels: Labels,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.config = config
        self.walDirectory = walDirectory
        self.encoderSeed = externalLabels
        self.cursorFile = EndpointProgressFile(directory: cursorDirectory, endpointName: config.name)
        self.http = HTTPClient(config: config.httpClient)
        self.metrics = RemoteWriteMetrics(registry: registry, name: config.name, url: config.url)
        var logger = logger
        logger[metadataKey: "remote_name"] = "\(config.name)"
        logger[metadataKey: "url"] = "\(config.url)"
        self.logger = logger
    }

    /// Asks the endpoint to send what the WAL holds up to now and stop, giving up at `deadline`.
    func beginShutdown(deadline: ContinuousClock.Instant) {
        shutdown.withLock { $0 = deadline }
    }

    private var shutdownDeadline: ContinuousClock.Instant? { shutdown.withLock { $0 } }

    private func pastDeadline() -> Bool {
        guard let deadline = shutdownDeadline else { return false }
        return ContinuousClock.now >= deadline
    }

    /// A batch on its way: the samples and the cursor that sending it acknowledges.
    private struct Batch {
        var samples: [SampleRecord] = []
        var acknowledges: Cursor?
        var started: ContinuousClock.Instant?
    }

    /// Sends until shut down. Without a stored cursor it starts at `startingAt` (a reload adds
    /// the endpoint: from now on) or at the beginning of the WAL.
    func run(threadPool: NIOThreadPool, walHead: @Sendable () -> WALPosition, startingAt: WALPosition? = nil) async throws {
        let connection = HTTPConnection()
        var encoder = RequestEncoder(externalLabels: encoderSeed, writeRelabelConfigs: config.writeRelabelConfigs)
        let start = ((try? cursorFile.load()) ?? nil)?.acknowledged ?? Cursor(position: startingAt ?? WALPosition(segment: 0, offset: 0))
        var reader = try WALReader(directory: walDirectory, from: WALPosition(segment: start.position.segment, offset: 0))
        // The cursor's segment is gone (truncated under a later cursor, or a fresh WAL): start
        // wherever the reader landed.
        let resumeAt = reader.position.segment == start.position.segment ? start : Cursor(position: reader.position)
        acknowledged.withLock { $0 = resumeAt }
        logger.info("remote write starting", metadata: ["cursor": "\(resumeAt.position)+\(resumeAt.samplesDone)"])

        var batch = Batch()
        var lastStored = resumeAt
        var lastStoreTime = ContinuousClock.now
        var unknownRefWarned = false
        let clock = ContinuousClock()

        while !Task.isCancelled {
            if shutdownDeadline != nil {
                let drained = reader.position >= walHead()
                if pastDeadline() || (drained && batch.samples.isEmpty) { break }
            }
            let position = reader.position
            guard let (record, next) = try reader.next() else {
                // Caught up with the writer: send a partial batch once its deadline passed (or now,
                // when shutting down), otherwise wait for more.
                if let started = batch.started,
                    shutdownDeadline != nil || clock.now - started >= config.queueConfig.batchSendDeadline
                {
                    if await send(&batch, encoder: encoder, connection: connection, threadPool: threadPool) {
                        advance(to: batch.acknowledges)
                    }
                    batch = Batch()
                    continue
                }
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            switch record {
            case .series(let series):
                for entry in series { encoder.addSeries(entry) }
            case .exemplars:
                // Kept in the WAL; sending them (`send_exemplars`) comes with the queue's rework.
                break
            case .samples(let samples):
                // Records before the cursor were acknowledged already: only their series matter.
                if position < resumeAt.position { continue }
                var index = position == resumeAt.position ? min(resumeAt.samplesDone, samples.count) : 0
                while index < samples.count {
                    let sample = samples[index]
                    index += 1
                    guard encoder.knows(sample.ref) else {
                        metrics.samplesDropped.increment()
                        if encoder.isDropped(sample.ref) { continue }
                        if !unknownRefWarned {
                            unknownRefWarned = true
                            logger.warning("WAL sample refers to an unknown series; dropped", metadata: ["ref": "\(sample.ref)"])
                        }
                        continue
                    }
                    if batch.started == nil { batch.started = clock.now }
                    batch.samples.append(sample)
                    if batch.samples.count >= config.queueConfig.maxSamplesPerSend {
                        batch.acknowledges = index == samples.count ? Cursor(position: next) : Cursor(position: position, samplesDone: index)
                        if await send(&batch, encoder: encoder, connection: connection, threadPool: threadPool) {
                            advance(to: batch.acknowledges)
                        } else {
                            // Shutting down with the receiver unreachable: what is unsent stays in the WAL.
                            break
                        }
                        batch = Batch()
                    }
                }
                if shutdownDeadline != nil, pastDeadline() { break }
                if batch.samples.isEmpty {
                    if index == samples.count { advance(to: Cursor(position: next)) }
                } else {
                    batch.acknowledges = Cursor(position: next)
                }
            }
            let now = clock.now
            if let current = acknowledged.withLock({ $0 }), current != lastStored, now - lastStoreTime >= .seconds(1) {
                persist(current)
                lastStored = current
                lastStoreTime = now
            }
        }
        if let current = acknowledged.withLock({ $0 }) { persist(current) }
        metrics.pendingSamples.set(0.0)
        logger.info("remote write stopped", metadata: ["cursor": "\(acknowledged.withLock { $0 }.map { "\($0.position)+\($0.samplesDone)" } ?? "-")"])
    }

    private func advance(to cursor: Cursor?) {
        guard let cursor else { return }
        acknowledged.withLock { current in
            if current == nil || current! < cursor { current = cursor }
        }
    }

    private func persist(_ cursor: Cursor) {
        do {
            try cursorFile.store(EndpointProgress(acknowledged: cursor, url: config.url), durable: true)
        } catch {
            logger.error("cannot store the remote write cursor", metadata: ["error": "\(error)"])
        }
    }

    /// Sends the batch until the receiver accepts or rejects it for good. Returns false only
    /// when the shutdown deadline passed first (the batch stays unacknowledged).
    private func send(
        _ batch: inout Batch, encoder: RequestEncoder, connection: HTTPConnection, threadPool: NIOThreadPool
    ) async -> Bool {
        let body = encoder.encode(batch.samples)
        let count = batch.samples.count
        metrics.pendingSamples.set(Double(count))
        var request = HTTPRequest(
            method: .post,
            url: config.url,
            headers: [
                ("Content-Encoding", "snappy"),
                ("Content-Type", "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ("User-Agent", Self.userAgent),
            ],
            body: body,
            timeout: config.remoteTimeout
        )
        request.headers += config.headers
        var backoff = config.queueConfig.minBackoff
        var attempt = 0
        while true {
            if attempt > 0 { request.headers.append(("Retry-Attempt", "\(attempt)")) }
            let outcome: Outcome
            do {
                var pending = request
                // Credentials are applied per attempt: a 401 re-reads credential files.
                try http.apply(to: &pending, refreshCredentials: attempt > 0 && http.hasCredentialFile)
                let response = try await threadPool.runIfActive { [pending] in try connection.perform(pending) }
                outcome = Self.classify(response, retryOn429: config.queueConfig.retryOnHTTP429)
            } catch {
                outcome = .retry(reason: "\(error)", after: nil)
            }
            if attempt > 0 { request.headers.removeLast() }
            switch outcome {
            case .accepted:
                metrics.samplesSent.increment(by: Int64(count))
                metrics.bytesSent.increment(by: Int64(body.count))
                if let highest = batch.samples.map(\.timestamp).max() {
                    metrics.highestSentTimestamp.set(Double(highest) / 1000)
                }
                if attempt > 0 { logger.info("remote write recovered", metadata: ["attempts": "\(attempt + 1)"]) }
                return true
            case .rejected(let status, let message):
                metrics.requestFailures.increment()
                metrics.samplesFailed.increment(by: Int64(count))
                logger.error(
                    "remote write rejected a batch; dropped",
                    metadata: ["status": "\(status)", "samples": "\(count)", "response": "\(message)"])
                return true
            case .retry(let reason, let after):
                metrics.requestFailures.increment()
                metrics.samplesRetried.increment(by: Int64(count))
                if attempt == 0 {
                    logger.warning("remote write failed; retrying", metadata: ["error": "\(reason)", "samples": "\(count)"])
                }
                attempt += 1
                let wait = after.map { max($0, backoff) } ?? backoff
                backoff = min(backoff * 2, config.queueConfig.maxBackoff)
                if Task.isCancelled { return false }
                if let deadline = shutdownDeadline, ContinuousClock.now + wait >= deadline {
                    logger.warning("shutdown deadline reached; unsent samples stay in the WAL", metadata: ["samples": "\(count)"])
                    return false
                }
                try? await Task.sleep(for: wait)
            }
        }
    }

    enum Outcome: Equatable {
        case accepted
        case rejected(status: Int, message: String)
        case retry(reason: String, after: Duration?)
    }

    /// 2xx is accepted; 5xx and 429 (unless `retry_on_http_429: false`) are retried (honouring `Retry-After` in seconds); any other
    /// status is a rejection of the batch that retrying cannot fix.
    static func classify(_ response: HTTPResponse, retryOn429: Bool = true) -> Outcome {
        switch response.status {
        case 200..<300:
            return .accepted
        case 429 where !retryOn429:
            return .rejected(status: response.status, message: message(of: response))
        case 429, 500..<600:
            let retryAfter = response.header("Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { Duration.seconds($0) }
            return .retry(reason: "server returned HTTP status \(response.status): \(message(of: response))", after: retryAfter)
        default:
            return .rejected(status: response.status, message: message(of: response))
        }
    }

    static func message(of response: HTTPResponse) -> String {
        let text = String(decoding: response.body.prefix(maxLoggedResponse), as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return response.body.count > maxLoggedResponse ? trimmed + "…" : trimmed
    }
}
