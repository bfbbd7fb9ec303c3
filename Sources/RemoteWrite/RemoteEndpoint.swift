import AgentConfig
import Curl
import Logging
import Model
import Prometheus
import Synchronization
import WAL

/// Sends everything the WAL holds to one `remote_write` endpoint, from the endpoint's stored
/// progress, through a set of shards.
///
/// ``run(startingAt:)`` runs the endpoint's parts as children of one task group:
/// - a ``WALWatcher`` reading the WAL and routing each sample to shard `ref % n`;
/// - a ``ShardSender`` per shard of each ``ShardSet`` (a reshard starts a new set while the old
///   one drains; the new one sends once the old is empty, so a series' samples never overtake
///   each other);
/// - the ``EndpointProgressStore`` loop, the ``Resharder`` and (Remote Write 1.0) the
///   ``MetadataSender``.
///
/// Shutdown follows ``EndpointLifecycle``: while requests succeed the endpoint drains up to the
/// WAL's end until the flush deadline; if they fail (or the deadline passes, or a reload removed
/// the endpoint) it stops at once by cancelling the group, which aborts transfers in flight and
/// every wait. What was not acknowledged stays in the WAL; the stored progress says where to
/// resume. ``finished`` fires when everything the endpoint started has returned, so a
/// replacement (a reload that changed the endpoint) starts only after its predecessor is gone.
final class RemoteEndpoint: Sendable {
    let config: RemoteWriteConfig
    private let externalLabels: Labels
    private let wal: WriteAheadLog
    /// The records the WAL keeps in memory, for the watcher once it has caught up (the WAL's
    /// own window unless a test gives another source).
    private let committed: any CommittedRecordSource
    private let pool: BlockingIOPool
    private let transport: HTTPTransport
    private let clock: any AgentClock
    private let metrics: RemoteWriteMetrics
    private let logger: Logger
    private let progress: EndpointProgressStore
    /// The running endpoint's shared state (nil before it started and after it stopped), and a
    /// shutdown request that came before it started.
    private let state = Mutex<(context: EndpointContext?, pendingShutdown: (ContinuousClock.Instant, WALPosition)?)>((nil, nil))
    /// Fired when ``run(startingAt:)`` begins (before it reads the stored progress).
    let started = OneShotEvent()
    /// Fired when ``run(startingAt:)`` has returned.
    let finished = OneShotEvent()

    init(
        config: RemoteWriteConfig, externalLabels: Labels, wal: WriteAheadLog, pool: BlockingIOPool, transport: HTTPTransport,
        cursorDirectory: String, registry: PrometheusCollectorRegistry, clock: any AgentClock, logger: Logger,
        committed: (any CommittedRecordSource)? = nil
    ) {
        self.config = config
        self.externalLabels = externalLabels
        self.wal = wal
        self.committed = committed ?? wal
        self.pool = pool
        self.transport = transport
        self.clock = clock
        // The URL is shown redacted everywhere: metric labels, log lines, the progress file.
        let shownURL = config.redactedURL.description
        self.metrics = RemoteWriteMetrics(registry: registry, name: config.name, url: shownURL)
        var logger = logger
        logger[metadataKey: "remote_name"] = "\(config.name)"
        logger[metadataKey: "url"] = "\(shownURL)"
        self.logger = logger
        progress = EndpointProgressStore(
            file: EndpointProgressFile(directory: cursorDirectory, endpointName: config.name), pool: pool, url: shownURL,
            logger: logger)
        metrics.shardsMin.set(Double(config.queueConfig.minShards))
        metrics.shardsMax.set(Double(config.queueConfig.maxShards))
        metrics.shardCapacity.set(Double(config.queueConfig.capacity))
    }

    // MARK: Control from the service

    /// Asks the endpoint to send what the WAL holds up to `head` and stop, giving up at
    /// `deadline`; a deadline that has passed (a reload removed the endpoint) stops it at once.
    func beginShutdown(deadline: ContinuousClock.Instant, head: WALPosition) {
        let context = state.withLock { s -> EndpointContext? in
            if s.context == nil { s.pendingShutdown = (deadline, head) }
            return s.context
        }
        guard let context else { return }
        context.perform(context.lifecycle.withLock { $0.shutdownRequested(deadline: deadline, head: head, now: clock.now) })
    }

    /// A one-line summary of the running endpoint's state, for logs and failed tests.
    var debugState: String {
        guard let context = state.withLock({ $0.context }) else { return "not running" }
        let reading = context.reading.withLock { $0 }
        let lifecycle = context.lifecycle.withLock { $0 }
        let sets = context.sets.all.map { set in set.queues.map { "\($0.count)+\($0.pendingCounts.samples)" }.joined(separator: ",") }
        return "read=\(reading.position) skip=\(reading.skip.map { "\($0.segment)(\($0.waiters.count))" } ?? "-") watcherDone=\(reading.watcherDone) "
            + "lifecycle=\(lifecycle.state) failing=\(lifecycle.isFailing) sets=\(sets)"
    }

    /// Whether the endpoint is running (started and not yet stopped).
    var isRunning: Bool { state.withLock { $0.context != nil } }

    /// The running endpoint's shared state; nil before it started and after it stopped.
    var context: EndpointContext? { state.withLock { $0.context } }

    /// The acknowledged low-water mark (for WAL truncation); nil until the endpoint has started.
    var acknowledged: Cursor? { progress.current()?.acknowledged }

    /// The segment the watcher reads; nil until started.
    var readSegment: Int? { state.withLock { $0.context }?.reading.withLock { $0.position.position.segment } }

    /// Makes the watcher skip every segment before `segment` (the WAL is about to remove them for a
    /// cap), counting the samples it had not read as dropped for `reason`. Returns once the
    /// watcher is past them, or after `timeout` on the endpoint's clock.
    func skipSegments(before segment: Int, reason: DropReason, timeout: Duration = .seconds(30)) async {
        guard let context = state.withLock({ $0.context }) else { return }
        let event = OneShotEvent()
        let accepted = context.reading.withLock { s -> Bool in
            // A stopped watcher reads nothing more: there is nothing to wait for.
            if s.watcherDone { return false }
            s.skip = SkipRequest(
                segment: max(segment, s.skip?.segment ?? 0), reason: reason, waiters: (s.skip?.waiters ?? []) + [event])
            return true
        }
        guard accepted else { return }
        context.attention.notify()
        for set in context.sets.all { set.wakeProducer() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await event.wait() }
            group.addTask { [clock] in try? await clock.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: Running

    /// Sends until shut down. Without stored progress it starts at `startingAt` (an endpoint added
    /// by a reload starts at the WAL's end) or at the WAL's beginning.
    func run(startingAt: WALPosition? = nil) async {
        started.fire()
        defer { finished.fire() }
        guard !Task.isCancelled else { return }
        let start: (reader: WALReader, resume: EndpointProgress)
        do {
            start = try await pool.run { [progress, walDirectory = wal.directory, logger] in
                let stored: EndpointProgress?
                do {
                    stored = try progress.file.load()
                } catch {
                    logger.error("cannot read the stored remote write progress; starting from the WAL's beginning", metadata: [
                        "file": "\(progress.file.path)", "error": "\(error)",
                    ])
                    stored = nil
                }
                let resume = stored ?? EndpointProgress(acknowledged: Cursor(position: startingAt ?? WALPosition(segment: 0, offset: 0)))
                let reader = try WALReader(directory: walDirectory, from: WALPosition(segment: resume.acknowledged.position.segment, offset: 0))
                return (reader, resume)
            }
        } catch {
            logger.error("remote write cannot start reading the WAL", metadata: ["error": "\(error)"])
            return
        }
        let context = makeContext(reader: start.reader, resume: start.resume)
        await run(context, reader: start.reader, resume: start.resume)
        context.lifecycle.withLock { $0.finished() }
        state.withLock { $0.context = nil }
        metrics.samplesPending.set(0.0)
        metrics.exemplarsPending.set(0.0)
        logger.info("remote write stopped", metadata: ["progress": "\(progress.current().map { "\($0.acknowledged)" } ?? "-")"])
    }

    /// The first shard set and the shared state, published so that control calls reach them.
    private func makeContext(reader: WALReader, resume: EndpointProgress) -> EndpointContext {
        let queue = config.queueConfig
        // Resume with the stored sharding when it is allowed, so each shard's cursor still applies.
        let storedShards = resume.shards.count
        let shardCount = (queue.minShards...queue.maxShards).contains(storedShards) ? storedShards : queue.minShards
        let sameSharding = storedShards == shardCount
        let first = ShardSet(
            count: shardCount, capacity: queue.capacity, start: Cursor(position: reader.position),
            floors: sameSharding ? resume.shards : [], firstBatchEnds: sameSharding ? resume.inFlight : [], previous: nil, clock: clock)
        let context = EndpointContext(
            config: config, metrics: metrics, logger: logger, clock: clock,
            client: RemoteWriteClient(config: config, transport: transport, clock: clock), sets: ShardSets(first: first),
            series: SeriesCache(
                externalLabels: externalLabels, writeRelabelConfigs: config.writeRelabelConfigs,
                attachMetadata: config.protobufMessage == .v2),
            readPosition: Cursor(position: reader.position))
        progress.attach(context)
        let pending = state.withLock { s -> (ContinuousClock.Instant, WALPosition)? in
            s.context = context
            defer { s.pendingShutdown = nil }
            return s.pendingShutdown
        }
        if let (deadline, head) = pending {
            context.perform(context.lifecycle.withLock { $0.shutdownRequested(deadline: deadline, head: head, now: clock.now) })
        }
        metrics.shards.set(Double(shardCount))
        metrics.shardsDesired.set(Double(shardCount))
        logger.info("remote write starting", metadata: [
            "progress": "\(resume.acknowledged)", "shards": "\(shardCount)", "protocol": "\(config.protobufMessage.rawValue)",
        ])
        return context
    }

    /// Runs the endpoint's parts until they are done (drained) or told to stop now.
    private func run(_ context: EndpointContext, reader: WALReader, resume: EndpointProgress) async {
        let watcher = WALWatcher(context: context, wal: wal, pool: pool, resume: resume, committed: committed)
        let sendsMetadata = config.protobufMessage == .v1 && config.metadataConfig.send
        await withTaskGroup(of: Void.self) { outer in
            // Stop now: the first child to return ends the group, and cancelling it stops the rest.
            outer.addTask { await context.stopRequested.wait() }
            outer.addTask { [self] in
                await withDiscardingTaskGroup { helpers in
                    helpers.addTask { await self.progress.run(changes: context.progressChanges, clock: context.clock) }
                    helpers.addTask { await Resharder(context: context).run() }
                    if sendsMetadata { helpers.addTask { await MetadataSender(context: context).run() } }
                    helpers.addTask { await Self.enforceDrainDeadline(context) }
                    await withDiscardingTaskGroup { work in
                        work.addTask { await self.runShards(context) }
                        work.addTask {
                            do {
                                try await watcher.run(from: reader)
                            } catch {
                                context.logger.error("remote write stopped reading the WAL", metadata: ["error": "\(error)"])
                            }
                            Self.watcherReturned(context)
                        }
                    }
                    helpers.cancelAll()
                }
            }
            await outer.next()
            outer.cancelAll()
        }
    }

    /// The watcher is done: no more skip requests are answered, no more sets come, and every set
    /// flushes what it holds.
    private static func watcherReturned(_ context: EndpointContext) {
        let pendingSkip = context.reading.withLock { s -> SkipRequest? in
            s.watcherDone = true
            defer { s.skip = nil }
            return s.skip
        }
        pendingSkip?.answer()
        context.sets.finish()
        for set in context.sets.all { set.close() }
    }

    /// Runs the senders of the first set and of every set a reshard starts.
    private func runShards(_ context: EndpointContext) async {
        await withDiscardingTaskGroup { group in
            let first = context.sets.current
            group.addTask { await self.runSenders(of: first, context) }
            for await set in context.sets.newSets {
                group.addTask { await self.runSenders(of: set, context) }
            }
        }
    }

    private func runSenders(of set: ShardSet, _ context: EndpointContext) async {
        let sender = ShardSender(context: context, progress: progress)
        await withDiscardingTaskGroup { group in
            for index in set.queues.indices {
                group.addTask { await sender.run(set: set, index: index) }
            }
        }
        set.drained.fire()
        context.sets.drainingFinished(set)
        context.progressChanged.yield()
    }

    /// Once draining begins, stops the endpoint at the flush deadline.
    private static func enforceDrainDeadline(_ context: EndpointContext) async {
        await context.drainRequested.wait()
        guard context.drainRequested.hasFired, let deadline = context.lifecycle.withLock({ $0.drainDeadline }) else { return }
        guard (try? await context.clock.sleep(until: deadline, tolerance: nil)) != nil else { return }
        let action = context.lifecycle.withLock { $0.tick(now: context.clock.now) }
        if action == .stopNow {
            context.logger.warning("shutdown deadline reached; unsent samples stay in the WAL")
        }
        context.perform(action)
    }
}
