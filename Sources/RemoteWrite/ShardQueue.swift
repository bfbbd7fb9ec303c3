import DequeModule
import Model
import Synchronization
import WAL

/// What a shard's sender takes for one request.
struct ShardBatch {
    var samples: [QueuedSample] = []
    var exemplars: [QueuedExemplar] = []
    /// The batch that was in flight when the agent last stopped, sent again as it was.
    var isResend = false
    var isEmpty: Bool { samples.isEmpty && exemplars.isEmpty }
    var count: Int { samples.count + exemplars.count }

    /// The place just after the batch's last item.
    var endPlace: Cursor? {
        let last = [samples.last?.place, exemplars.last?.place].compactMap { $0 }.max()
        return last.map { Cursor(position: $0.position, samplesDone: $0.samplesDone + 1) }
    }

    /// The earliest WAL place in the batch.
    var firstPlace: Cursor? { earlier(samples.first?.place, exemplars.first?.place) }
}

/// The earlier of two optional places.
private func earlier(_ a: Cursor?, _ b: Cursor?) -> Cursor? {
    guard let a else { return b }
    guard let b else { return a }
    return min(a, b)
}

/// One shard's bounded queue between the WAL watcher (one producer) and the shard's sender (one
/// consumer).
///
/// The producer pushes what fits and waits for room (backpressure: a full queue slows reading
/// the WAL, it never drops). Queued items and the batch in flight together never exceed
/// `capacity`. The consumer takes a batch when `maxPerBatch` are queued, when the
/// oldest queued item has waited `deadline`, or at once when the queue is closed (flushing).
/// The queue remembers the batch in flight until ``completeBatch()``, so that ``firstPending``
/// is the place of the oldest item not yet acknowledged.
///
/// Both waits (the producer's for room, the consumer's for items or the deadline) end at once
/// when the waiting task is cancelled. Deadlines are measured on the endpoint's clock.
final class ShardQueue: Sendable {
    let capacity: Int
    private let clock: any AgentClock
    private let state: Mutex<State>

    private struct State {
        var samples = Deque<QueuedSample>()
        var exemplars = Deque<QueuedExemplar>()
        var inFlightFirst: Cursor?
        /// The place just after the batch in flight.
        var inFlightEnd: Cursor?
        /// After a restart: where the batch that was in flight when the agent stopped ended. The
        /// first batch ends there too, so it is resent exactly as it was (a receiver that stored
        /// it rejects it as a whole, and no newer sample goes down with it).
        var firstBatchEnd: Cursor?
        /// Sizes of the batch in flight.
        var inFlight = (samples: 0, exemplars: 0)
        var closed = false
        /// When the oldest queued item arrived (for the batch deadline).
        var oldestArrival: ContinuousClock.Instant?
        var producer: CheckedContinuation<Void, Never>?
        /// A wake-up that came while the producer was not waiting: its next wait returns at once.
        var producerInterrupted = false
        var consumer: CheckedContinuation<Void, Never>?
        /// The consumer waits for this many items (or the deadline).
        var consumerWants = 1

        var count: Int { samples.count + exemplars.count }
    }

    init(capacity: Int, firstBatchEnd: Cursor? = nil, clock: any AgentClock) {
        self.capacity = max(1, capacity)
        self.clock = clock
        var state = State()
        state.firstBatchEnd = firstBatchEnd
        self.state = Mutex(state)
    }

    /// The place just after the batch in flight; nil when none is.
    var inFlightEnd: Cursor? { state.withLock { $0.inFlightEnd } }

    /// Queued items, the batch in flight excluded.
    var count: Int { state.withLock { $0.count } }

    /// Whether the producer is parked in ``waitForRoom()`` (for tests and debugging).
    var isProducerWaiting: Bool { state.withLock { $0.producer != nil } }

    /// Samples and exemplars queued or in flight.
    var pendingCounts: (samples: Int, exemplars: Int) {
        state.withLock { ($0.samples.count + $0.inFlight.samples, $0.exemplars.count + $0.inFlight.exemplars) }
    }

    /// The place of the oldest item not acknowledged yet (in flight or queued), nil when none.
    var firstPending: Cursor? {
        state.withLock { s in
            s.inFlightFirst ?? earlier(s.samples.first?.place, s.exemplars.first?.place)
        }
    }

    /// Pushes samples from `items[from...]` while there is room; returns the index after the last
    /// one pushed (`items.count` when all fit).
    func push(_ items: [QueuedSample], from: Int) -> Int {
        let (end, wake) = state.withLock { s -> (Int, CheckedContinuation<Void, Never>?) in
            // The batch in flight counts against the capacity: it is memory the shard holds.
            let room = capacity - s.count - s.inFlight.samples - s.inFlight.exemplars
            guard room > 0 else { return (from, nil) }
            let end = min(items.count, from + room)
            if s.count == 0 { s.oldestArrival = clock.now }
            s.samples.append(contentsOf: items[from..<end])
            return (end, takeConsumerIfReady(&s))
        }
        wake?.resume()
        return end
    }

    /// Pushes one exemplar if there is room; false when the queue is full.
    func push(_ exemplar: QueuedExemplar) -> Bool {
        let (pushed, wake) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard s.count + s.inFlight.samples + s.inFlight.exemplars < capacity else { return (false, nil) }
            if s.count == 0 { s.oldestArrival = clock.now }
            s.exemplars.append(exemplar)
            return (true, takeConsumerIfReady(&s))
        }
        wake?.resume()
        return pushed
    }

    private func takeConsumerIfReady(_ s: inout State) -> CheckedContinuation<Void, Never>? {
        guard s.consumer != nil, s.count >= s.consumerWants || s.closed else { return nil }
        defer { s.consumer = nil }
        return s.consumer
    }

    /// Waits until there is room, until ``wakeProducer()``, or until the task is cancelled.
    func waitForRoom() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.count + s.inFlight.samples + s.inFlight.exemplars < capacity || s.closed || s.producerInterrupted
                        || Task.isCancelled
                    {
                        s.producerInterrupted = false
                        return true
                    }
                    s.producer = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            wakeProducer()
        }
    }

    /// Lets a producer waiting in ``waitForRoom()`` go on (to look at a request to stop or skip).
    func wakeProducer() {
        let producer = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.producer = nil }
            if s.producer == nil { s.producerInterrupted = true }
            return s.producer
        }
        producer?.resume()
    }

    /// No more items will come: the consumer takes what is queued without waiting for deadlines,
    /// then ``nextBatch(maxPerBatch:deadline:)`` returns nil.
    func close() {
        let (consumer, producer) = state.withLock { s in
            s.closed = true
            defer { s.consumer = nil; s.producer = nil }
            return (s.consumer, s.producer)
        }
        consumer?.resume()
        producer?.resume()
    }

    /// The next batch: up to `maxPerBatch` items, taken when that many are queued, when the
    /// oldest has waited `deadline`, or at once when closed. Nil when closed and empty, or when
    /// the task was cancelled. The batch stays "in flight" (see ``firstPending``) until
    /// ``completeBatch()``.
    func nextBatch(maxPerBatch: Int, deadline: Duration) async -> ShardBatch? {
        while !Task.isCancelled {
            enum Step { case take, finished, wait(ContinuousClock.Instant?) }
            let step = state.withLock { s -> Step in
                let count = s.count
                if count == 0 { return s.closed ? .finished : .wait(nil) }
                if count >= maxPerBatch || s.closed { return .take }
                if let end = s.firstBatchEnd,
                    (s.samples.last.map { $0.place >= end } ?? false) || (s.exemplars.last.map { $0.place >= end } ?? false)
                {
                    return .take  // the batch to resend is complete
                }
                let now = clock.now
                let due = s.oldestArrival.map { $0 + deadline } ?? now
                return due <= now ? .take : .wait(due)
            }
            switch step {
            case .finished:
                return nil
            case .take:
                return take(maxPerBatch)
            case .wait(let until):
                await waitForItems(maxPerBatch, until: until)
            }
        }
        return nil
    }

    private func take(_ maxPerBatch: Int) -> ShardBatch {
        let (batch, producer) = state.withLock { s -> (ShardBatch, CheckedContinuation<Void, Never>?) in
            var batch = ShardBatch()
            // Oldest first across both kinds, so the batch is a prefix of the queue by WAL place.
            let end = s.firstBatchEnd
            s.firstBatchEnd = nil
            if end == nil && s.exemplars.isEmpty {
                // Samples only (the usual case): the batch is their prefix, moved in one go.
                let taken = min(maxPerBatch, s.samples.count)
                batch.samples.reserveCapacity(taken)
                batch.samples.append(contentsOf: s.samples.prefix(taken))
                s.samples.removeFirst(taken)
            }
            while batch.count < maxPerBatch {
                var sample = s.samples.first?.place, exemplar = s.exemplars.first?.place
                if let end {
                    if let p = sample, p >= end { sample = nil }
                    if let p = exemplar, p >= end { exemplar = nil }
                }
                if let sp = sample, exemplar == nil || sp <= exemplar! {
                    batch.samples.append(s.samples.removeFirst())
                } else if exemplar != nil {
                    batch.exemplars.append(s.exemplars.removeFirst())
                } else {
                    break
                }
            }
            batch.isResend = end != nil
            s.inFlightFirst = batch.firstPlace
            s.inFlightEnd = batch.endPlace
            s.inFlight = (batch.samples.count, batch.exemplars.count)
            s.oldestArrival = s.count > 0 ? clock.now : nil
            defer { s.producer = nil }
            return (batch, s.producer)
        }
        producer?.resume()
        return batch
    }

    /// The batch taken last was acknowledged (or given up for good).
    func completeBatch() {
        let producer = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.inFlightFirst = nil
            s.inFlightEnd = nil
            s.inFlight = (0, 0)
            defer { s.producer = nil }
            return s.producer
        }
        producer?.resume()
    }

    /// Waits for `wanted` items, or (with `until`) until that instant, or for the first item
    /// (without `until`: its arrival starts the deadline); also ends when closed or cancelled.
    private func waitForItems(_ wanted: Int, until: ContinuousClock.Instant?) async {
        guard let until else { return await parkConsumer(wanting: 1) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.parkConsumer(wanting: wanted) }
            group.addTask { [clock] in try? await clock.sleep(until: until, tolerance: nil) }
            await group.next()
            group.cancelAll()
        }
    }

    private func parkConsumer(wanting wanted: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.closed || s.count >= wanted || Task.isCancelled { return true }
                    s.consumerWants = wanted
                    s.consumer = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            wakeConsumer()
        }
    }

    private func wakeConsumer() {
        let consumer = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.consumer = nil }
            return s.consumer
        }
        consumer?.resume()
    }
}
