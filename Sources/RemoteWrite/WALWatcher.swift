import Logging
import Model
import WAL

/// Reads the WAL in order, from the endpoint's stored progress, and routes every sample to its
/// shard (`ref % n`), so a series always goes through one shard and stays in timestamp order.
///
/// Series records go into the endpoint's ``SeriesCache`` (write relabeling applied once per
/// series); samples whose stored progress says they were acknowledged are skipped; the rest are
/// pushed, as plain values (ref, timestamp, value, place), into the current shard set, waiting
/// for room when a queue is full (backpressure: the WAL holds what does not fit). Between
/// records it applies reshards and the WAL cap's skip requests. Records come from a
/// ``WALInput``: from memory when the endpoint has caught up and the WAL still holds them there,
/// else from the segment files, read on the ``BlockingIOPool``; at the WAL's end the watcher
/// waits for the next commit.
///
/// Returns when it has read everything up to the drain head (graceful shutdown), or when its
/// task is cancelled (stop now).
struct WALWatcher {
    let context: EndpointContext
    let wal: WriteAheadLog
    let pool: BlockingIOPool
    /// What was acknowledged when the endpoint started: those samples are not sent again.
    let resume: EndpointProgress
    /// The records the WAL holds in memory (caught-up endpoints read those).
    var committed: any CommittedRecordSource = NoCommittedRecords()

    func run(from start: WALReader) async throws {
        var input = WALInput(reader: start, pool: pool, committed: committed)
        var routing = Routing()

        while !Task.isCancelled {
            let headBefore = wal.head
            let countsBefore = input.counts
            let batch = try await input.read()
            context.metrics.recordsFromMemory.increment(by: Int64(input.counts.memory - countsBefore.memory))
            context.metrics.recordsFromFiles.increment(by: Int64(input.counts.files - countsBefore.files))
            var index = 0
            while index < batch.entries.count {
                if Task.isCancelled { return }
                let entry = batch.entries[index]
                if let request = context.reading.withLock({ $0.skip }) {
                    // Read on from this record: the skip counts what it passes.
                    input.move(to: entry.start)
                    try await skip(&input, to: request)
                    break
                }
                if let head = context.lifecycle.withLock({ $0.drainHead }), entry.start >= head { return }
                applyReshard(at: Cursor(position: entry.start))
                if await !process(entry, routing: &routing) { return }
                index += 1
            }
            if index < batch.entries.count { continue }  // a skip moved the input
            if let corruption = batch.corruption {
                context.metrics.drop(0, reason: .walCorruption)
                context.logger.error("corrupt WAL record; skipping the rest of the segment", metadata: [
                    "segment": "\(corruption.segment)", "offset": "\(corruption.offset)", "reason": "\(corruption.reason)",
                ])
                input.move(to: WALPosition(segment: corruption.segment + 1, offset: 0))
                continue
            }
            if !batch.entries.isEmpty { continue }
            // At the WAL's end.
            if let request = context.reading.withLock({ $0.skip }) {
                try await skip(&input, to: request)
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
        var exemplars: [QueuedExemplar] = []
        var segment = -1
        var unknownRefWarned = false
    }

    /// Series records are added to the cache this many at a time, so that write relabeling many
    /// new series never holds the senders' lookups up for long.
    private static let seriesChunk = 1024

    /// Handles one record; false when the endpoint is stopping.
    private func process(_ entry: WALReadAhead.Entry, routing: inout Routing) async -> Bool {
        let position = entry.start
        // Everything before the record is routed: the read position is its start (in its own
        // segment, not the end of the previous one), which the cap enforcement looks at while
        // this record waits for room.
        context.reading.withLock { $0.position = Cursor(position: position) }
        if position.segment != routing.segment {
            routing.segment = position.segment
            context.series.withLock { $0.beginSegment(position.segment) }
        }
        var samplesIn = 0
        var highest = Int64.min
        switch entry.record {
        case .series(let list):
            addSeries(list)
        case .samples(let samples):
            let set = context.sets.current
            let n = set.count
            if routing.routed.count != n { routing.routed = Array(repeating: [], count: n) }
            let ageLimit = context.config.queueConfig.sampleAgeLimit
            let oldest = ageLimit > .zero ? context.clock.wallMilliseconds - ageLimit.milliseconds : Int64.min
            let resume = self.resume
            // Nothing at or after the stored progress's highest place was acknowledged: a record
            // that starts there (every record once past the restart's backlog) needs no check.
            let checkResume = Cursor(position: position) < resume.highest
            var tooOld = 0, droppedSeries = 0, unknownSeries = 0
            var firstUnknown: SeriesRef?
            let hasRetired = context.series.withLock { cache -> Bool in
                cache.endHead()
                for index in samples.indices {
                    let sample = samples[index]
                    let place = Cursor(position: position, samplesDone: index)
                    if checkResume && resume.isAcknowledged(ref: sample.ref, at: place) { continue }
                    switch cache.status(of: sample.ref) {
                    case .live:
                        if sample.timestamp < oldest {
                            tooOld += 1
                            continue
                        }
                        routing.routed[Int(sample.ref % UInt64(n))].append(
                            QueuedSample(ref: sample.ref, timestamp: sample.timestamp, value: sample.value, place: place))
                        samplesIn += 1
                        if sample.timestamp > highest { highest = sample.timestamp }
                    case .dropped:
                        droppedSeries += 1
                    case .unknown:
                        unknownSeries += 1
                        if firstUnknown == nil { firstUnknown = sample.ref }
                    }
                }
                return cache.hasRetired
            }
            if tooOld > 0 { context.metrics.drop(tooOld, reason: .tooOld) }
            if droppedSeries > 0 { context.metrics.drop(droppedSeries, reason: .droppedSeries) }
            if unknownSeries > 0 { context.metrics.drop(unknownSeries, reason: .unknownSeries) }
            if let ref = firstUnknown, !routing.unknownRefWarned {
                routing.unknownRefWarned = true
                context.logger.warning("WAL sample refers to an unknown series; dropped", metadata: ["ref": "\(ref)"])
            }
            let outcome = await push(&routing.routed, into: set, segment: position.segment)
            context.updatePendingGauges()
            if hasRetired { dropRetiredSeries() }
            switch outcome {
            case .pushed: break
            case .skipped(let unpushed):
                context.metrics.drop(unpushed, reason: context.reading.withLock { $0.skip?.reason } ?? .walMaxSize)
            case .stopped: return false
            }
        case .exemplars(let exemplars):
            let send = context.config.sendExemplars
            let resume = self.resume
            routing.exemplars.removeAll(keepingCapacity: true)
            context.series.withLock { cache in
                cache.endHead()
                guard send else { return }
                for index in exemplars.indices {
                    let exemplar = exemplars[index]
                    let place = Cursor(position: position, samplesDone: index)
                    if resume.isAcknowledged(ref: exemplar.ref, at: place) { continue }
                    guard cache.status(of: exemplar.ref) == .live else { continue }
                    routing.exemplars.append(QueuedExemplar(
                        ref: exemplar.ref, timestamp: exemplar.timestamp, value: exemplar.value, labels: exemplar.labels, place: place))
                }
            }
            let set = context.sets.current
            for item in routing.exemplars {
                let queue = set.queue(for: item.ref)
                while !queue.push(item) {
                    await queue.waitForRoom()
                    if Task.isCancelled { return false }
                    if shouldStopPushing(segment: position.segment) { break }
                }
            }
        case .metadata(let entries):
            let table = context.series.withLock { cache in
                cache.setMetadata(entries)
                return cache.metadata
            }
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

    /// Lets the cache forget the labels of series the WAL forgot, once no sample of theirs is
    /// queued or in flight in any shard. Only the watcher pushes, so nothing older can come.
    private func dropRetiredSeries() {
        var oldest: Cursor?
        for set in context.sets.all {
            for queue in set.queues {
                if let first = queue.firstPending, oldest.map({ first < $0 }) ?? true { oldest = first }
            }
        }
        context.series.withLock { $0.dropRetired(oldestPending: oldest) }
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

    /// Whether a skip request asks the watcher, pushing a record of `segment`, to stop and skip
    /// that segment. A request for no later segment than `segment` is answered here instead (the
    /// watcher is already past what it asks to skip): it may have come after the watcher looked
    /// for requests before this record, and waiting for room would leave it unanswered.
    private func shouldStopPushing(segment: Int) -> Bool {
        let (stop, satisfied) = context.reading.withLock { s -> (Bool, SkipRequest?) in
            guard let skip = s.skip else { return (false, nil) }
            if segment < skip.segment { return (true, nil) }
            s.skip = nil
            return (false, skip)
        }
        satisfied?.answer()
        return stop
    }

    /// Reads on to `request.segment`, keeping series and metadata, counting the samples not yet
    /// acknowledged as dropped; then answers the request.
    /// Adds series to the endpoint's cache, ``seriesChunk`` at a time.
    private func addSeries(_ list: [SeriesRecord]) {
        var start = 0
        while start < list.count {
            let end = min(list.count, start + Self.seriesChunk)
            context.series.withLock { cache in
                for index in start..<end { cache.add(list[index]) }
            }
            start = end
        }
    }

    private func skip(_ input: inout WALInput, to request: SkipRequest) async throws {
        let directory = wal.directory
        let resume = self.resume
        let (moved, dropped, series, metadata) = try await pool.run { [input] in
            try Self.skipBlocking(input.fileReader(), to: request.segment, directory: directory, resume: resume)
        }
        input.adopt(moved)
        addSeries(series)
        if !metadata.isEmpty {
            let table = context.series.withLock { cache in
                cache.setMetadata(metadata)
                return cache.metadata
            }
            context.metadata.withLock { $0 = table }
        }
        context.reading.withLock { $0.position = Cursor(position: moved.position) }
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

    /// The blocking part of ``skip(_:to:)``: returns the reader at the first record of
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
