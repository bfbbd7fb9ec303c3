import AgentConfig
import AgentHTTP
import Curl
import Foundation
import Logging
import NIOPosix
import Prometheus
import Synchronization
import WAL

/// Sends everything the WAL holds to one `remote_write` endpoint, from the endpoint's persisted
/// progress, through a set of shards.
///
/// One watcher task reads the WAL in order, looks each sample's series up in the
/// ``SeriesCache`` and routes it to shard `ref % n`, so a series always goes through one shard and
/// stays in timestamp order. Each shard has a bounded ``ShardQueue`` (a full queue makes the
/// watcher wait: backpressure, never loss) and a sender task that batches, encodes, compresses and
/// POSTs, retrying what may succeed later. What a shard has sent, or the receiver refused for
/// good, is acknowledged; the endpoint's ``EndpointProgress`` (per-shard cursors) is stored
/// after acknowledgements, so a restart resumes exactly there.
///
/// Resharding never stops reading: the watcher routes new samples to a new set of shards while
/// the old set sends what it holds; the new set starts sending once the old one has drained, so a
/// series' samples never overtake each other.
final class RemoteEndpoint: Sendable {
    static let userAgent = "metrics-agent/\(AgentVersion.current)"

    let config: RemoteWriteConfig
    private let walDirectory: String
    private let externalLabels: Labels
    private let progressFile: EndpointProgressFile
    private let http: HTTPClient
    private let metrics: RemoteWriteMetrics
    private let retryRules: RetryRules
    private let logger: Logger
    private let state = Mutex(EndpointState())
    private let storeState = Mutex<(last: EndpointProgress?, pendingDurable: Bool)>((nil, false))
    private let progressChanged: AsyncStream<Void>.Continuation
    private let progressChanges: AsyncStream<Void>

    init(
        config: RemoteWriteConfig, walDirectory: String, cursorDirectory: String, externalLabels: Labels,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.config = config
        self.walDirectory = walDirectory
        self.externalLabels = externalLabels
        self.progressFile = EndpointProgressFile(directory: cursorDirectory, endpointName: config.name)
        self.http = HTTPClient(config: config.httpClient)
        self.metrics = RemoteWriteMetrics(registry: registry, name: config.name, url: config.url)
        self.retryRules = RetryRules(
            retryOn429: config.queueConfig.retryOnHTTP429, extraStatuses: Set(config.queueConfig.retryOnHTTPStatus),
            retryUnauthorized: http.hasCredentialFile)
        var logger = logger
        logger[metadataKey: "remote_name"] = "\(config.name)"
        logger[metadataKey: "url"] = "\(config.url)"
        self.logger = logger
        (progressChanges, progressChanged) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.protocolVersion = config.protobufMessage }
        metrics.shardsMin.set(Double(config.queueConfig.minShards))
        metrics.shardsMax.set(Double(config.queueConfig.maxShards))
        metrics.shardCapacity.set(Double(config.queueConfig.capacity))
    }

    // MARK: Control from the service

    /// Asks the endpoint to send what the WAL holds up to `head` and stop, giving up at `deadline`.
    func beginShutdown(deadline: ContinuousClock.Instant, head: WALPosition) {
        let sets = state.withLock { s -> [ShardSet] in
            s.shutdown = (deadline, head)
            return s.allSets
        }
        for set in sets { set.wakeProducer() }
        // At the deadline the senders give up; a watcher still waiting for room must see that.
        Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            for set in self?.state.withLock({ $0.allSets }) ?? [] { set.wakeProducer() }
        }
    }

    /// The acknowledged low-water mark (for WAL truncation); nil until the endpoint has started.
    var acknowledged: Cursor? { currentProgress()?.acknowledged }

    /// The segment the watcher reads; nil until started.
    var readSegment: Int? { state.withLock { $0.started ? $0.readPosition.position.segment : nil } }

    /// Makes the watcher skip every segment before `segment` (the WAL is about to remove them for a
    /// cap), counting the samples it had not read as dropped for `reason`. Returns once the
    /// watcher is past them, or after `timeout`.
    func skipSegments(before segment: Int, reason: DropReason, timeout: Duration = .seconds(30)) async {
        let event = OneShotEvent()
        let sets = state.withLock { s -> [ShardSet]? in
            // A stopped watcher reads nothing more: there is nothing to wait for.
            if s.stopped || s.watcherDone { return nil }
            s.skip = SkipRequest(segment: max(segment, s.skip?.segment ?? 0), reason: reason, done: event)
            return s.allSets
        }
        guard let sets else { return }
        for set in sets { set.wakeProducer() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await event.wait() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: Running

    /// Sends until shut down. Without stored progress it starts at `startingAt` (an endpoint added
    /// by a reload starts at the WAL's end) or at the WAL's beginning.
    func run(startingAt: WALPosition? = nil) async throws {
        let stored: EndpointProgress?
        do {
            stored = try progressFile.load()
        } catch {
            logger.error("cannot read the stored remote write progress; starting from the WAL's beginning", metadata: ["file": "\(progressFile.path)", "error": "\(error)"])
            stored = nil
        }
        let resume = stored ?? EndpointProgress(acknowledged: Cursor(position: startingAt ?? WALPosition(segment: 0, offset: 0)))
        let reader = try WALReader(directory: walDirectory, from: WALPosition(segment: resume.acknowledged.position.segment, offset: 0))
        let queue = config.queueConfig
        // Resume with the stored sharding when it is allowed, so each shard's cursor still applies.
        let storedShards = resume.shards.count
        let shardCount = (queue.minShards...queue.maxShards).contains(storedShards) ? storedShards : queue.minShards
        let sameSharding = storedShards == shardCount
        let first = ShardSet(
            count: shardCount, capacity: queue.capacity, start: Cursor(position: reader.position),
            floors: sameSharding ? resume.shards : [], firstBatchEnds: sameSharding ? resume.inFlight : [], previous: nil)
        state.withLock { s in
            s.current = first
            s.readPosition = Cursor(position: reader.position)
            s.started = true
        }
        metrics.shards.set(Double(shardCount))
        metrics.shardsDesired.set(Double(shardCount))
        logger.info("remote write starting", metadata: [
            "progress": "\(resume.acknowledged)", "shards": "\(shardCount)", "protocol": "\(config.protobufMessage.rawValue)",
        ])

        await withDiscardingTaskGroup { group in
            group.addTask { await self.persistLoop() }
            group.addTask { await self.reshardLoop() }
            if config.protobufMessage == .v1, config.metadataConfig.send {
                group.addTask { await self.metadataLoop() }
            }
            startSenders(of: first, in: &group)
            do {
                try await watch(reader: reader, resume: resume, group: &group)
            } catch {
                logger.error("remote write stopped reading the WAL", metadata: ["error": "\(error)"])
            }
            let pendingSkip = state.withLock { s -> OneShotEvent? in
                s.watcherDone = true
                defer { s.skip = nil }
                return s.skip?.done
            }
            pendingSkip?.fire()
            // Flush: every set sends what it holds (until the deadline), then the helpers stop.
            let sets = state.withLock { $0.allSets }
            for set in sets { set.close() }
            for set in sets { await set.drained.wait() }
            state.withLock { $0.stopped = true }
            progressChanged.finish()
            group.cancelAll()
        }
        metrics.samplesPending.set(0.0)
        metrics.exemplarsPending.set(0.0)
        logger.info("remote write stopped", metadata: ["progress": "\(currentProgress().map { "\($0.acknowledged)" } ?? "-")"])
    }

    private func startSenders(of set: ShardSet, in group: inout DiscardingTaskGroup) {
        for index in set.queues.indices {
            group.addTask { await self.runShard(set: set, index: index) }
        }
    }

    // MARK: The watcher

    /// Reads the WAL from `resume` and routes samples to the shards until shut down.
    private func watch(reader startReader: WALReader, resume: EndpointProgress, group: inout DiscardingTaskGroup) async throws {
        var reader = startReader
        var cache = SeriesCache(
            externalLabels: externalLabels, writeRelabelConfigs: config.writeRelabelConfigs,
            attachMetadata: config.protobufMessage == .v2)
        var segment = -1
        var routed: [[QueuedSample]] = []
        var unknownRefWarned = false
        let ageLimit = config.queueConfig.sampleAgeLimit
        let sendExemplars = config.sendExemplars

        while true {
            if let request = state.withLock({ $0.skip }) {
                try skip(&reader, to: request, cache: &cache, resume: resume)
            }
            if let stop = state.withLock({ $0.shutdown }) {
                if ContinuousClock.now >= stop.deadline || reader.position >= stop.head { return }
            }
            if let count = state.withLock({ $0.pendingReshard }) {
                reshard(to: count, group: &group)
            }

            let next: (record: WALRecord, next: WALPosition)?
            do {
                next = try reader.next()
            } catch let error as WALCorruptionError {
                metrics.drop(0, reason: .walCorruption)
                logger.error("corrupt WAL record; skipping the rest of the segment", metadata: [
                    "segment": "\(error.segment)", "offset": "\(error.offset)", "reason": "\(error.reason)",
                ])
                reader = try WALReader(directory: walDirectory, from: WALPosition(segment: error.segment + 1, offset: 0))
                continue
            }
            guard let (record, nextPosition) = next else {
                if state.withLock({ $0.shutdown }) != nil { return }  // caught up: nothing more is coming
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let position = reader.lastRecordStart
            if position.segment != segment {
                segment = position.segment
                cache.beginSegment()
            }

            var samplesIn = 0
            var highest = Int64.min
            switch record {
            case .series(let list):
                for entry in list { cache.add(entry) }
            case .samples(let samples):
                cache.endHead()
                let set = state.withLock { $0.current! }
                let n = set.queues.count
                if routed.count != n { routed = Array(repeating: [], count: n) }
                let oldest = ageLimit > .zero ? Self.nowMillis() - ageLimit.milliseconds : Int64.min
                var drops: [DropReason: Int] = [:]
                for index in samples.indices {
                    let sample = samples[index]
                    let place = Cursor(position: position, samplesDone: index)
                    if resume.isAcknowledged(ref: sample.ref, at: place) { continue }
                    switch cache.lookup(sample.ref) {
                    case .series(let series):
                        if sample.timestamp < oldest {
                            drops[.tooOld, default: 0] += 1
                            continue
                        }
                        routed[Int(sample.ref % UInt64(n))].append(
                            QueuedSample(series: series, timestamp: sample.timestamp, value: sample.value, place: place))
                        samplesIn += 1
                        highest = max(highest, sample.timestamp)
                    case .dropped:
                        drops[.droppedSeries, default: 0] += 1
                    case .unknown:
                        drops[.unknownSeries, default: 0] += 1
                        if !unknownRefWarned {
                            unknownRefWarned = true
                            logger.warning("WAL sample refers to an unknown series; dropped", metadata: ["ref": "\(sample.ref)"])
                        }
                    }
                }
                for (reason, count) in drops { metrics.drop(count, reason: reason) }
                let outcome = await push(&routed, into: set, segment: position.segment)
                updatePendingGauges()
                if case .skipped(let unpushed) = outcome { metrics.drop(unpushed, reason: state.withLock { $0.skip?.reason } ?? .walMaxSize) }
                if case .stopped = outcome { return }
            case .exemplars(let exemplars):
                cache.endHead()
                guard sendExemplars else { break }
                let set = state.withLock { $0.current! }
                for index in exemplars.indices {
                    let exemplar = exemplars[index]
                    let place = Cursor(position: position, samplesDone: index)
                    if resume.isAcknowledged(ref: exemplar.ref, at: place) { continue }
                    guard case .series(let series) = cache.lookup(exemplar.ref) else { continue }
                    let queue = set.queues[Int(exemplar.ref % UInt64(set.queues.count))]
                    let item = QueuedExemplar(series: series, timestamp: exemplar.timestamp, value: exemplar.value, labels: exemplar.labels, place: place)
                    while !queue.push(item) {
                        await queue.waitForRoom()
                        if shouldStopPushing(segment: position.segment) { break }
                    }
                }
            case .metadata(let entries):
                cache.setMetadata(entries.map(FamilyMetadata.init))
                let table = cache.metadata
                state.withLock { $0.metadata = table }
            @unknown default:
                break
            }
            state.withLock { s in
                s.readPosition = Cursor(position: nextPosition)
                s.samplesIn += samplesIn
                if highest > s.highestRead { s.highestRead = highest }
            }
            if highest != .min { metrics.highestTimestamp.set(Double(state.withLock { $0.highestRead }) / 1000) }
        }
    }

    private enum PushOutcome { case pushed, skipped(unpushed: Int), stopped }

    /// Pushes each shard's routed samples, waiting for room when a queue is full. Interrupted by a
    /// request to skip the segment (caps) or by the shutdown deadline.
    private func push(_ routed: inout [[QueuedSample]], into set: ShardSet, segment: Int) async -> PushOutcome {
        defer { for i in routed.indices { routed[i].removeAll(keepingCapacity: true) } }
        for shard in routed.indices where !routed[shard].isEmpty {
            let queue = set.queues[shard]
            var from = 0
            while true {
                from = queue.push(routed[shard], from: from)
                if from == routed[shard].count { break }
                await queue.waitForRoom()
                if shouldStopPushing(segment: segment) {
                    if let stop = state.withLock({ $0.shutdown }), ContinuousClock.now >= stop.deadline { return .stopped }
                    var unpushed = routed[shard].count - from
                    for later in routed.indices where later > shard { unpushed += routed[later].count }
                    return .skipped(unpushed: unpushed)
                }
            }
        }
        return .pushed
    }

    private func shouldStopPushing(segment: Int) -> Bool {
        state.withLock { s in
            if let skip = s.skip, segment < skip.segment { return true }
            if let stop = s.shutdown, ContinuousClock.now >= stop.deadline { return true }
            return false
        }
    }

    /// Reads on to `request.segment`, keeping series and metadata, counting the samples not yet
    /// acknowledged as dropped.
    private func skip(_ reader: inout WALReader, to request: SkipRequest, cache: inout SeriesCache, resume: EndpointProgress) throws {
        var dropped = 0
        while reader.position.segment < request.segment {
            let next: (record: WALRecord, next: WALPosition)?
            do {
                next = try reader.next()
            } catch let error as WALCorruptionError {
                reader = try WALReader(directory: walDirectory, from: WALPosition(segment: error.segment + 1, offset: 0))
                continue
            }
            guard let (record, nextPosition) = next else {
                // The segment being written: nothing to skip in it.
                reader = try WALReader(directory: walDirectory, from: WALPosition(segment: request.segment, offset: 0))
                break
            }
            let position = reader.lastRecordStart
            if position.segment >= request.segment {
                // The record is past the skipped segments: read it again in the normal loop.
                reader = try WALReader(directory: walDirectory, from: WALPosition(segment: position.segment, offset: 0))
                break
            }
            switch record {
            case .series(let list):
                for entry in list { cache.add(entry) }
            case .samples(let samples):
                for index in samples.indices
                where !resume.isAcknowledged(ref: samples[index].ref, at: Cursor(position: position, samplesDone: index)) {
                    dropped += 1
                }
            case .metadata(let entries):
                cache.setMetadata(entries.map(FamilyMetadata.init))
            default:
                break
            }
            state.withLock { $0.readPosition = Cursor(position: nextPosition) }
        }
        metrics.drop(dropped, reason: request.reason)
        if dropped > 0 {
            logger.warning("WAL cap reached before this endpoint sent the oldest samples; dropped", metadata: [
                "reason": "\(request.reason.rawValue)", "samples": "\(dropped)", "segment": "\(request.segment)",
            ])
        }
        let done = state.withLock { s -> OneShotEvent? in
            guard let current = s.skip, current.segment <= request.segment else { return nil }
            s.skip = nil
            return current.done
        }
        done?.fire()
        request.done.fire()
    }

    /// Starts a new set of `count` shards at the current read position; the old set flushes and the
    /// new one sends once the old is drained.
    private func reshard(to count: Int, group: inout DiscardingTaskGroup) {
        let (old, new) = state.withLock { s -> (ShardSet?, ShardSet?) in
            s.pendingReshard = nil
            guard let old = s.current, old.queues.count != count, s.draining == nil else { return (nil, nil) }
            let new = ShardSet(
                count: count, capacity: config.queueConfig.capacity, start: s.readPosition, floors: [], firstBatchEnds: [],
                previous: old)
            s.draining = old
            s.current = new
            return (old, new)
        }
        guard let old, let new else { return }
        logger.info("resharding", metadata: ["from": "\(old.queues.count)", "to": "\(count)"])
        old.close()
        startSenders(of: new, in: &group)
        metrics.shards.set(Double(count))
        Task {
            await old.drained.wait()
            self.state.withLock { s in if s.draining === old { s.draining = nil } }
            self.progressChanged.yield()
        }
    }

    // MARK: Shards

    private func runShard(set: ShardSet, index: Int) async {
        if let previous = set.previousDrained { await previous.wait() }
        let queue = set.queues[index]
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connection = HTTPConnection()
        var encoder = RequestEncoder()
        let limits = config.queueConfig
        while let batch = await queue.nextBatch(maxPerBatch: limits.maxSamplesPerSend, deadline: limits.batchSendDeadline) {
            if pastDeadline() { break }
            // Where this batch ends is stored before it goes out: after a crash it is resent as is.
            storeProgress(durable: false)
            let done = await send(batch, encoder: &encoder, connection: connection, threadPool: threadPool)
            if !done { break }
            queue.completeBatch()
            state.withLock { $0.samplesOut += batch.samples.count }
            updatePendingGauges()
            progressChanged.yield()
        }
        try? await threadPool.shutdownGracefully()
        set.senderFinished()
    }

    private func pastDeadline() -> Bool {
        guard let stop = state.withLock({ $0.shutdown }) else { return false }
        return ContinuousClock.now >= stop.deadline
    }

    /// Sends the batch until the receiver accepts it or rejects it for good. False only when the
    /// shutdown deadline came first (the batch stays unacknowledged, in the WAL).
    private func send(_ batch: ShardBatch, encoder: inout RequestEncoder, connection: HTTPConnection, threadPool: NIOThreadPool) async -> Bool {
        var batch = batch
        var version = state.withLock { $0.protocolVersion }
        var body = encode(batch, version: version, encoder: &encoder)
        var backoff = Backoff(minimum: config.queueConfig.minBackoff, maximum: config.queueConfig.maxBackoff)
        var attempt = 0
        while true {
            let outcome = await post(body, version: version, attempt: attempt, connection: connection, threadPool: threadPool, countDuration: true)
            switch outcome {
            case .accepted(let written):
                let sent = batch.samples.count
                let reported = written?.samples.map { min($0, sent) } ?? sent
                metrics.samplesSent.increment(by: Int64(reported))
                if reported < sent { metrics.samplesFailed.increment(by: Int64(sent - reported)) }
                metrics.exemplarsSent.increment(by: Int64(batch.exemplars.count))
                metrics.bytesSent.increment(by: Int64(body.count))
                if let highest = batch.samples.lazy.map(\.timestamp).max() {
                    let newest = state.withLock { s -> Int64 in
                        s.highestSent = max(s.highestSent, highest)
                        return s.highestSent
                    }
                    metrics.highestSentTimestamp.set(Double(newest) / 1000)
                }
                if attempt > 0 { logger.info("remote write recovered", metadata: ["attempts": "\(attempt + 1)"]) }
                return true
            case .rejected(let status, let message) where batch.isResend && status == 400:
                // Most likely the receiver stored it before the agent stopped and now refuses the
                // copy as out of order: not a loss.
                logger.info("the batch in flight when the agent last stopped was refused when resent; the receiver most likely stored it already", metadata: [
                    "status": "\(status)", "samples": "\(batch.samples.count)", "response": "\(message)",
                ])
                return true
            case .rejected(let status, let message):
                metrics.requestFailures.increment()
                metrics.samplesFailed.increment(by: Int64(batch.samples.count))
                metrics.exemplarsFailed.increment(by: Int64(batch.exemplars.count))
                logger.error("remote write rejected a batch; dropped", metadata: [
                    "status": "\(status)", "samples": "\(batch.samples.count)", "response": "\(message)",
                ])
                return true
            case .unsupportedMediaType(let message):
                if version == .v2, config.protobufMessageFallback {
                    logger.warning("receiver does not accept Remote Write 2.0 (HTTP 415); falling back to 1.0", metadata: ["response": "\(message)"])
                    state.withLock { $0.protocolVersion = .v1 }
                    version = .v1
                    body = encode(batch, version: version, encoder: &encoder)
                    continue
                }
                metrics.requestFailures.increment()
                metrics.samplesFailed.increment(by: Int64(batch.samples.count))
                logger.error("remote write rejected a batch (unsupported media type); dropped", metadata: [
                    "status": "415", "samples": "\(batch.samples.count)", "response": "\(message)",
                ])
                return true
            case .retry(let reason, let after):
                metrics.requestFailures.increment()
                metrics.samplesRetried.increment(by: Int64(batch.samples.count))
                metrics.exemplarsRetried.increment(by: Int64(batch.exemplars.count))
                state.withLock { $0.failures += 1 }
                if attempt == 0 {
                    logger.warning("remote write failed; retrying", metadata: ["error": "\(reason)", "samples": "\(batch.samples.count)"])
                } else {
                    logger.debug("remote write failed again", metadata: ["error": "\(reason)", "attempt": "\(attempt)"])
                }
                attempt += 1
                let wait = backoff.next(retryAfter: after)
                if Task.isCancelled { return false }
                if let stop = state.withLock({ $0.shutdown }), ContinuousClock.now + wait >= stop.deadline {
                    logger.warning("shutdown deadline reached; unsent samples stay in the WAL", metadata: ["samples": "\(batch.samples.count)"])
                    return false
                }
                try? await Task.sleep(for: wait)
                // Samples that grew older than sample_age_limit while retrying are dropped.
                if config.queueConfig.sampleAgeLimit > .zero {
                    let oldest = Self.nowMillis() - config.queueConfig.sampleAgeLimit.milliseconds
                    let before = batch.samples.count
                    batch.samples.removeAll { $0.timestamp < oldest }
                    if batch.samples.count < before {
                        metrics.drop(before - batch.samples.count, reason: .tooOld)
                        if batch.isEmpty { return true }
                        body = encode(batch, version: version, encoder: &encoder)
                    }
                }
            }
        }
    }

    private func encode(_ batch: ShardBatch, version: RemoteWriteConfig.ProtobufMessage, encoder: inout RequestEncoder) -> [UInt8] {
        let samples = batch.samples.map { OutgoingSample(series: $0.series, timestamp: $0.timestamp, value: $0.value) }
        let exemplars = batch.exemplars.map {
            OutgoingExemplar(series: $0.series, timestamp: $0.timestamp, value: $0.value, labels: $0.labels)
        }
        switch version {
        case .v1: return encoder.encodeV1(samples: samples, exemplars: exemplars)
        case .v2: return encoder.encodeV2(samples: samples, exemplars: exemplars)
        }
    }

    /// One POST of a compressed body; network errors become `.retry`.
    private func post(
        _ body: [UInt8], version: RemoteWriteConfig.ProtobufMessage, attempt: Int, connection: HTTPConnection,
        threadPool: NIOThreadPool, countDuration: Bool
    ) async -> SendOutcome {
        var request = HTTPRequest(
            method: .post,
            url: config.url,
            headers: [
                ("Content-Encoding", "snappy"),
                ("Content-Type", version == .v2 ? "application/x-protobuf;proto=io.prometheus.write.v2.Request" : "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", version == .v2 ? "2.0.0" : "0.1.0"),
                ("User-Agent", Self.userAgent),
            ],
            body: body,
            timeout: config.remoteTimeout
        )
        request.headers += config.headers
        if attempt > 0 { request.headers.append(("Retry-Attempt", "\(attempt)")) }
        let started = ContinuousClock.now
        do {
            // Credentials are applied per attempt: after a failure, credential files are re-read.
            try http.apply(to: &request, refreshCredentials: attempt > 0 && http.hasCredentialFile)
            let response = try await threadPool.runIfActive { [request] in try connection.perform(request) }
            let elapsed = ContinuousClock.now - started
            if countDuration {
                metrics.sentBatchDuration.recordNanoseconds(elapsed.nanoseconds)
                if (200..<300).contains(response.status) { state.withLock { $0.sendTime += elapsed } }
            }
            return retryRules.classify(response)
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }

    // MARK: Progress

    /// What is acknowledged now; nil before the endpoint started.
    func currentProgress() -> EndpointProgress? {
        // The read position first: a shard found empty afterwards has sent all it got before it.
        let (started, read, current, draining) = state.withLock { ($0.started, $0.readPosition, $0.current, $0.draining) }
        guard started, let current else { return nil }
        let cursors: [Cursor]
        let sending = draining ?? current
        if let old = draining {
            cursors = old.queues.map { $0.firstPending ?? current.start }
        } else {
            cursors = current.queues.indices.map { i in
                current.queues[i].firstPending ?? (i < current.floors.count ? max(read, current.floors[i]) : read)
            }
        }
        let low = cursors.min() ?? read
        return EndpointProgress(acknowledged: low, shards: cursors, inFlight: sending.queues.map(\.inFlightEnd), url: config.url)
    }

    /// Writes the current progress unless it is what was written last; `durable` also fsyncs
    /// (and is honoured even when nothing changed since a non-durable write). Serialized: the
    /// shards (before each request) and the persist loop (after acknowledgements) share it.
    private func storeProgress(durable: Bool) {
        storeState.withLock { stored in
            guard let progress = currentProgress() else { return }
            if progress == stored.last && !(durable && stored.pendingDurable) { return }
            do {
                try progressFile.store(progress, durable: durable)
                stored.last = progress
                stored.pendingDurable = !durable
            } catch {
                logger.error("cannot store the remote write progress", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stores the progress after acknowledgements: at once (a rename, which survives the process
    /// being killed) and fsynced at most once a second (which survives a power loss).
    private func persistLoop() async {
        var lastDurable = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            // A tick, so that the last acknowledgement of a burst becomes durable too.
            group.addTask { [progressChanged] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    progressChanged.yield()
                }
            }
            for await _ in progressChanges {
                let durable = ContinuousClock.now - lastDurable >= .seconds(1)
                storeProgress(durable: durable)
                if durable { lastDurable = .now }
            }
            group.cancelAll()
        }
        storeProgress(durable: true)
    }

    /// Samples and exemplars queued or in flight, over every shard.
    private func updatePendingGauges() {
        let sets = state.withLock { $0.allSets }
        var samples = 0, exemplars = 0
        for set in sets {
            for queue in set.queues {
                let pending = queue.pendingCounts
                samples += pending.samples
                exemplars += pending.exemplars
            }
        }
        metrics.samplesPending.set(Double(samples))
        metrics.exemplarsPending.set(Double(exemplars))
    }

    // MARK: Resharding and metadata

    private func reshardLoop() async {
        var policy = ReshardPolicy(minShards: config.queueConfig.minShards, maxShards: config.queueConfig.maxShards)
        var last = ContinuousClock.now
        while !Task.isCancelled, !state.withLock({ $0.stopped || $0.shutdown != nil }) {
            try? await Task.sleep(for: ReshardPolicy.updateInterval)
            let now = ContinuousClock.now
            let (samplesIn, samplesOut, sendTime, failures, current, delay, draining) = state.withLock { s in
                defer { s.samplesIn = 0; s.samplesOut = 0; s.sendTime = .zero; s.failures = 0 }
                let delay = s.highestRead > s.highestSent && s.highestSent > 0 ? Double(s.highestRead - s.highestSent) / 1000 : 0
                return (s.samplesIn, s.samplesOut, s.sendTime, s.failures, s.current?.queues.count ?? 1, delay, s.draining != nil)
            }
            policy.observe(interval: now - last, samplesIn: samplesIn, samplesOut: samplesOut, sendTime: sendTime)
            last = now
            let desired = policy.desiredShards(current: current, delaySeconds: delay, failing: failures > 0)
            metrics.shardsDesired.set(Double(desired))
            if desired != current, !draining {
                state.withLock { $0.pendingReshard = desired }
            }
        }
    }

    /// Remote Write 1.0 metadata: every `send_interval`, the metadata of every family known, in
    /// requests of at most `max_samples_per_send` entries.
    private func metadataLoop() async {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connection = HTTPConnection()
        var encoder = RequestEncoder()
        let meta = config.metadataConfig
        while !Task.isCancelled {
            try? await Task.sleep(for: meta.sendInterval)
            if state.withLock({ $0.stopped || $0.shutdown != nil }) { break }
            let entries = state.withLock { Array($0.metadata.values) }.sorted { $0.family < $1.family }
            var start = 0
            while start < entries.count {
                let chunk = Array(entries[start..<min(entries.count, start + max(1, meta.maxSamplesPerSend))])
                start += chunk.count
                let body = encoder.encodeV1Metadata(chunk)
                var backoff = Backoff(minimum: config.queueConfig.minBackoff, maximum: config.queueConfig.maxBackoff)
                var attempt = 0
                sending: while true {
                    switch await post(body, version: .v1, attempt: attempt, connection: connection, threadPool: threadPool, countDuration: false) {
                    case .accepted:
                        metrics.metadataSent.increment(by: Int64(chunk.count))
                        metrics.metadataBytes.increment(by: Int64(body.count))
                        break sending
                    case .rejected(let status, let message):
                        metrics.metadataFailed.increment(by: Int64(chunk.count))
                        logger.error("remote write rejected metadata; dropped", metadata: ["status": "\(status)", "response": "\(message)"])
                        break sending
                    case .unsupportedMediaType(let message):
                        metrics.metadataFailed.increment(by: Int64(chunk.count))
                        logger.error("remote write rejected metadata; dropped", metadata: ["status": "415", "response": "\(message)"])
                        break sending
                    case .retry(_, let after):
                        metrics.metadataRetried.increment(by: Int64(chunk.count))
                        attempt += 1
                        // Metadata is sent again at the next interval anyway: give up after a few tries.
                        if attempt > 3 || state.withLock({ $0.stopped || $0.shutdown != nil }) {
                            metrics.metadataFailed.increment(by: Int64(chunk.count))
                            break sending
                        }
                        try? await Task.sleep(for: backoff.next(retryAfter: after))
                    }
                }
            }
        }
        try? await threadPool.shutdownGracefully()
    }

    static func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A request from the WAL's cap enforcement to skip segments.
struct SkipRequest {
    var segment: Int
    var reason: DropReason
    var done: OneShotEvent
}

/// The endpoint's mutable state, guarded by its mutex.
struct EndpointState {
    var started = false
    var stopped = false
    /// The watcher has returned; it answers no more skip requests.
    var watcherDone = false
    var current: ShardSet?
    /// The previous set while it flushes after a reshard.
    var draining: ShardSet?
    var pendingReshard: Int?
    /// Everything before this was read and routed.
    var readPosition = Cursor(position: WALPosition(segment: 0, offset: 0))
    var shutdown: (deadline: ContinuousClock.Instant, head: WALPosition)?
    var skip: SkipRequest?
    var protocolVersion = RemoteWriteConfig.ProtobufMessage.v1
    var metadata: [String: FamilyMetadata] = [:]
    // Measurements for resharding, reset every interval.
    var samplesIn = 0
    var samplesOut = 0
    var sendTime: Duration = .zero
    var failures = 0
    var highestRead = Int64.min
    var highestSent: Int64 = 0

    var allSets: [ShardSet] { [draining, current].compactMap { $0 } }
}

/// One generation of shards: created at start and at each reshard.
final class ShardSet: Sendable {
    let queues: [ShardQueue]
    /// The read position when this set began receiving samples.
    let start: Cursor
    /// Per-shard cursors restored from the stored progress (first set only, same shard count).
    let floors: [Cursor]
    /// Fired when the set this one replaced has drained; this one sends only after that.
    let previousDrained: OneShotEvent?
    /// Fired when every sender of this set has finished.
    let drained = OneShotEvent()
    private let running: Mutex<Int>

    init(count: Int, capacity: Int, start: Cursor, floors: [Cursor], firstBatchEnds: [Cursor?], previous: ShardSet?) {
        queues = (0..<max(1, count)).map { i in
            ShardQueue(capacity: capacity, firstBatchEnd: i < firstBatchEnds.count ? firstBatchEnds[i] : nil)
        }
        self.start = start
        self.floors = floors
        self.previousDrained = previous?.drained
        running = Mutex(queues.count)
    }

    func close() { for q in queues { q.close() } }
    func wakeProducer() { for q in queues { q.wakeProducer() } }

    func senderFinished() {
        let last = running.withLock { n -> Bool in
            n -= 1
            return n == 0
        }
        if last { drained.fire() }
    }
}

extension FamilyMetadata {
    init(_ record: MetadataRecord) {
        self.init(family: record.family, type: record.type, help: record.help, unit: record.unit)
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
