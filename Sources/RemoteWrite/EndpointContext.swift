import AgentConfig
import Logging
import Model
import Synchronization
import WAL

/// What the parts of one running endpoint share (watcher, shard senders, progress store,
/// resharder, metadata sender): its configuration and instruments, and the few pieces of state
/// they hand each other, each under its own lock. Created when the endpoint starts; gone when
/// it stops.
final class EndpointContext: Sendable {
    let config: RemoteWriteConfig
    let metrics: RemoteWriteMetrics
    let logger: Logger
    let clock: any AgentClock
    let client: RemoteWriteClient
    let sets: ShardSets
    /// The series the watcher has read, by ref; the senders look each request's series up here.
    let series: SharedSeriesCache

    /// The lifecycle (``EndpointLifecycle``); change it only through ``perform(_:)``'s callers
    /// so that every returned action is carried out.
    let lifecycle = Mutex(EndpointLifecycle())
    /// Fired by a `.stopNow` action: the endpoint cancels everything it runs.
    let stopRequested = OneShotEvent()
    /// Fired when draining begins (for the deadline watch).
    let drainRequested = OneShotEvent()
    /// Wakes the watcher when it idles at the WAL's end: a skip request, shutdown, a reshard.
    let attention = WakeSignal()

    let reading: Mutex<ReadState>
    let measurements = Mutex(SendMeasurements())
    /// The protocol the senders use (a 415 with `protobuf_message_fallback` switches it to 1.0).
    let protocolVersion: Mutex<RemoteWriteConfig.ProtobufMessage>
    /// Every metric family's metadata read from the WAL, for Remote Write 1.0 metadata requests.
    let metadata = Mutex<[String: MetricMetadata]>([:])

    /// Yielded after acknowledgements; the progress loop stores the progress then.
    let progressChanges: AsyncStream<Void>
    let progressChanged: AsyncStream<Void>.Continuation

    init(
        config: RemoteWriteConfig, metrics: RemoteWriteMetrics, logger: Logger, clock: any AgentClock, client: RemoteWriteClient,
        sets: ShardSets, series: SeriesCache, readPosition: Cursor
    ) {
        self.config = config
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.client = client
        self.sets = sets
        self.series = SharedSeriesCache(series)
        reading = Mutex(ReadState(position: readPosition))
        protocolVersion = Mutex(config.protobufMessage)
        (progressChanges, progressChanged) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Carries out what a lifecycle transition asked for.
    func perform(_ action: EndpointLifecycle.Action) {
        switch action {
        case .none:
            return
        case .drain:
            drainRequested.fire()
        case .stopNow:
            stopRequested.fire()
        }
        attention.notify()
        for set in sets.all { set.wakeProducer() }
    }

    /// Samples and exemplars queued or in flight, over every shard, into the pending gauges.
    func updatePendingGauges() {
        var samples = 0, exemplars = 0
        for set in sets.all {
            let pending = set.pendingCounts
            samples += pending.samples
            exemplars += pending.exemplars
        }
        metrics.samplesPending.set(Double(samples))
        metrics.exemplarsPending.set(Double(exemplars))
    }
}

/// Where the watcher is, and what it has been asked to skip.
struct ReadState: Sendable {
    /// Everything before this was read and routed to a shard (or dropped).
    var position: Cursor
    /// A request from the WAL's cap enforcement to skip segments.
    var skip: SkipRequest?
    /// The watcher has returned: it answers no more skip requests.
    var watcherDone = false
}

/// A request from the WAL's cap enforcement to skip every segment before `segment`. Requests
/// that arrive before the watcher took the previous one merge into it (the furthest segment
/// wins), and every requester's event fires when the watcher is past it.
struct SkipRequest: Sendable {
    var segment: Int
    var reason: DropReason
    var waiters: [OneShotEvent]

    /// Fires every requester's event.
    func answer() { for waiter in waiters { waiter.fire() } }
}

/// What the reshard policy measures, reset every interval (rates), and the newest timestamps
/// read and sent (how far sending is behind).
struct SendMeasurements: Sendable {
    var samplesIn = 0
    var samplesOut = 0
    var sendTime: Duration = .zero
    var failures = 0
    var highestRead = Int64.min
    var highestSent: Int64 = 0

    /// Seconds between the newest sample read and the newest sent.
    var delaySeconds: Double {
        highestRead > highestSent && highestSent > 0 ? Double(highestRead - highestSent) / 1000 : 0
    }
}
