import Logging
import Model
import WAL

/// Reads the WAL in order, from the endpoint's stored progress, and routes every sample to its
/// shard (`ref % n`), so a series always goes through one shard and stays in timestamp order.
///
/// Series records go into the ``SeriesCache`` (external labels, write relabeling, encoded
/// once); samples whose stored progress says they were acknowledged are skipped; the rest are
/// pushed into the current shard set, waiting for room when a queue is full (backpressure:
/// the WAL holds what does not fit). Between records it applies reshards and the WAL cap's skip
/// requests. Reading is file I/O and runs on the ``BlockingIOPool``; at the WAL's end the
/// watcher waits for the next commit.
///
/// Returns when it has read everything up to the drain head (graceful shutdown), or when its
/// task is cancelled (stop now).
struct WALWatcher {
    let context: EndpointContext
    let wal: WriteAheadLog
    let pool: BlockingIOPool
    /// What was acknowledged when the endpoint started: those samples are not sent again.
    let resume: EndpointProgress
    /// `global.external_labels`, added to every series that lacks the label.
    let externalLabels: Labels

    func run(from start: WALReader) async throws {
        var reader = start
        var cache = SeriesCache(
            externalLabels: externalLabels, writeRelabelConfigs: context.config.writeRelabelConfigs,
            attachMetadata: context.config.protobufMessage == .v2)
        var routing = Routing()

        while !Task.isCancelled {
            let headBefore = wal.head
            let batch = try await WALReadAhead.read(from: reader, on: pool)
            reader = batch.reader
            var index = 0
            while index < batch.entries.count {
                if Task.isCancelled { return }
                let entry = batch.entries[index]
                if let request = context.reading.withLock({ $0.skip }) {
                    // Read on from this record: the skip counts what it passes.
                    reader = try WALReader(directory: wal.directory, from: entry.start)
                    try await skip(&reader, to: request, cache: &cache)
                    break
                }
                if let head = context.lifecycle.withLock({ $0.drainHead }), entry.start >= head { return }
                applyReshard(at: Cursor(position: entry.start))
                if await !process(entry, cache: &cache, routing: &routing) { return }
                index += 1
            }
            if index < batch.entries.count { continue }  // a skip moved the reader
            if let corruption = batch.corruption {
                context.metrics.drop(0, reason: .walCorruption)
                context.logger.error("corrupt WAL record; skipping the rest of the segment", metadata: [
                    "segment": "\(corruption.segment)", "offset": "\(corruption.offset)", "reason": "\(corruption.reason)",
                ])
                reader = try WALReader(directory: wal.directory, from: WALPosition(segment: corruption.segment + 1, offset: 0))
                continue
            }
            if !batch.entries.isEmpty { continue }
            // At the WAL's end.
            if let request = context.reading.withLock({ $0.skip }) {
                try await skip(&reader, to: request, cache: &cache)
                continue
            }
            if context.lifecycle.withLock({ $0.drainHead }) != nil { return }  // caught up: nothing more is coming
            applyReshard(at: context.reading.withLock { $0.position })
            await waitForWork(after: headBefore)
        }
    }

    /// Waits until the WAL moves past `head`, or something asks for the watcher's attention.
    private func waitForWork(after head: WALPosition) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wal] in await wal.waitForCommit(after: head) }
            group.addTask { [context] in await context.attention.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Starts the requested shard set, if a reshard was asked for.
    private func applyReshard(at position: Cursor) {
        let queue = context.config.queueConfig
        guard let (old, new) = context.sets.reshardIfRequested(at: position, capacity: queue.capacity, clock: context.clock) else {
            return
        }
        context.logger.info("resharding", metadata: ["from": "\(old.count)", "to": "\(new.count)"])
        old.close()
        context.metrics.shards.set(Double(new.count))
    }

    /// Per-shard buffers reused from record to record.
    private struct Routing {
        var routed: [[QueuedSample]] = []
        var segment = -1
        var unknownRefWarned = false
    }

    /// Handles one record; false when the endpoint is stopping.
    private func process(_ entry: WALReadAhead.Entry, cache: inout SeriesCache, routing: inout Routing) async -> Bool {
        let position = entry.start
        // Everything before the record is routed: the read position is its start (in its own
        // segment, not the end of the previous one), which the cap enforcement looks at while
        // this record waits for room.
        context.reading.withLock { $0.position = Cursor(position: position) }
        if position.segment != routing.segment {
            routing.segment = position.segment
            cache.beginSegment()
        }
        var samplesIn = 0
        var highest = Int64.min
        switch entry.record {
        case .series(let list):
            for record in list { cache.add(record) }
        case .samples(let samples):
            cache.endHead()
            let set = context.sets.current
            let n = set.count
            if routing.routed.count != n { routing.routed = Array(repeating: [], count: n) }
            let ageLimit = context.config.queueConfig.sampleAgeLimit
            let oldest = ageLimit > .zero ? context.clock.wallMilliseconds - ageLimit.milliseconds : Int64.min
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
                    routing.routed[Int(sample.ref % UInt64(n))].append(
                        QueuedSample(series: series, timestamp: sample.timestamp, value: sample.value, place: place))
                    samplesIn += 1
                    highest = max(highest, sample.timestamp)
                case .dropped:
                    drops[.droppedSeries, default: 0] += 1
                case .unknown:
                    drops[.unknownSeries, default: 0] += 1
                    if !routing.unknownRefWarned {
                        routing.unknownRefWarned = true
                        context.logger.warning("WAL sample refers to an unknown series; dropped", metadata: ["ref": "\(sample.ref)"])
                    }
                }
            }
            for (reason, count) in drops { context.metrics.drop(count, reason: reason) }
            let outcome = await push(&routing.routed, into: set, segment: position.segment)
            context.updatePendingGauges()
            switch outcome {
            case .pushed: break
            case .skipped(let unpushed):
                context.metrics.drop(unpushed, reason: context.reading.withLock { $0.skip?.reason } ?? .walMaxSize)
            case .stopped: return false
            }
        case .exemplars(let exemplars):
            cache.endHead()
            guard context.config.sendExemplars else { break }
            let set = context.sets.current
            for index in exemplars.indices {
                let exemplar = exemplars[index]
                let place = Cursor(position: position, samplesDone: index)
                if resume.isAcknowledged(ref: exemplar.ref, at: place) { continue }
                guard case .series(let series) = cache.lookup(exemplar.ref) else { continue }
                let queue = set.queue(for: exemplar.ref)
                let item = QueuedExemplar(
                    series: series, timestamp: exemplar.timestamp, value: exemplar.value, labels: exemplar.labels, place: place)
                while !queue.push(item) {
                    await queue.waitForRoom()
                    if Task.isCancelled { return false }
                    if shouldStopPushing(segment: position.segment) { break }
                }
            }
        case .metadata(let entries):
            cache.setMetadata(entries)
            let table = cache.metadata
            context.metadata.withLock { $0 = table }
        @unknown default:
            break
        }
        let next = entry.next
        context.reading.withLock { $0.position = Cursor(position: next) }
        if samplesIn > 0 || highest != .min {
            let newest = context.measurements.withLock { m -> Int64 in
                m.samplesIn += samplesIn
                if highest > m.highestRead { m.highestRead = highest }
                return m.highestRead
            }
            if highest != .min { context.metrics.highestTimestamp.set(Double(newest) / 1000) }
        }
        return true
    }

    private enum PushOutcome { case pushed, skipped(unpushed: Int), stopped }

    /// Pushes each shard's routed samples, waiting for room when a queue is full. Interrupted by
    /// a request to skip the segment (caps) or by the endpoint stopping.
    private func push(_ routed: inout [[QueuedSample]], into set: ShardSet, segment: Int) async -> PushOutcome {
        defer { for i in routed.indices { routed[i].removeAll(keepingCapacity: true) } }
        for shard in routed.indices where !routed[shard].isEmpty {
            let queue = set.queues[shard]
            var from = 0
            while true {
                from = queue.push(routed[shard], from: from)
                if from == routed[shard].count { break }
                await queue.waitForRoom()
                if Task.isCancelled { return .stopped }
                if shouldStopPushing(segment: segment) {
                    var unpushed = routed[shard].count - from
                    for later in routed.indices where later > shard { unpushed += routed[later].count }
                    return .skipped(unpushed: unpushed)
                }
            }
        }
        return .pushed
    }

    private func shouldStopPushing(segment: Int) -> Bool {
        context.reading.withLock { s in
            if let skip = s.skip, segment < skip.segment { return true }
            return false
        }
    }

    /// Reads on to `request.segment`, keeping series and metadata, counting the samples not yet
    /// acknowledged as dropped; then answers the request.
    private func skip(_ reader: inout WALReader, to request: SkipRequest, cache: inout SeriesCache) async throws {
        let directory = wal.directory
        let resume = self.resume
        let (moved, dropped, series, metadata) = try await pool.run { [reader] in
            try Self.skipBlocking(reader, to: request.segment, directory: directory, resume: resume)
        }
        reader = moved
        for record in series { cache.add(record) }
        if !metadata.isEmpty { cache.setMetadata(metadata) }
        context.reading.withLock { $0.position = Cursor(position: reader.position) }
        context.metrics.drop(dropped, reason: request.reason)
        if dropped > 0 {
            context.logger.warning("WAL cap reached before this endpoint sent the oldest samples; dropped", metadata: [
                "reason": "\(request.reason.rawValue)", "samples": "\(dropped)", "segment": "\(request.segment)",
            ])
        }
        // A request that came meanwhile for no further segment is answered too; one for a later
        // segment stays for the next round.
        let answered = context.reading.withLock { s -> SkipRequest? in
            guard let current = s.skip, current.segment <= request.segment else { return nil }
            s.skip = nil
            return current
        }
        answered?.answer()
        request.answer()
    }

    /// The blocking part of ``skip(_:to:cache:)``: returns the reader at the first record of
    /// `segment` (or later), the unacknowledged samples passed, and the series and metadata read.
    private static func skipBlocking(
        _ start: WALReader, to segment: Int, directory: String, resume: EndpointProgress
    ) throws -> (WALReader, Int, [SeriesRecord], [MetricMetadata]) {
        var reader = start
        var dropped = 0
        var series: [SeriesRecord] = []
        var metadata: [MetricMetadata] = []
        while reader.position.segment < segment {
            let next: (record: WALRecord, next: WALPosition)?
            do {
                next = try reader.next()
            } catch let error as WALCorruptionError {
                reader = try WALReader(directory: directory, from: WALPosition(segment: error.segment + 1, offset: 0))
                continue
            }
            guard let (record, _) = next else {
                // The segment being written: nothing to skip in it.
                reader = try WALReader(directory: directory, from: WALPosition(segment: segment, offset: 0))
                break
            }
            let position = reader.lastRecordStart
            if position.segment >= segment {
                // The record is past the skipped segments: read it again in the normal loop.
                reader = try WALReader(directory: directory, from: WALPosition(segment: position.segment, offset: 0))
                break
            }
            switch record {
            case .series(let list):
                series += list
            case .samples(let samples):
                for index in samples.indices
                where !resume.isAcknowledged(ref: samples[index].ref, at: Cursor(position: position, samplesDone: index)) {
                    dropped += 1
                }
            case .metadata(let entries):
                metadata += entries
            default:
                break
            }
        }
        return (reader, dropped, series, metadata)
    }
}
