import AgentConfig
import Foundation
import Logging
import Model
import Curl
import Prometheus
import PrometheusProto
import ServiceLifecycle
import Snappy
import Testing
import TestSupport
import WAL

@testable import RemoteWrite

// Helpers for QueueBehaviourTests: a real WAL in a temporary directory, a real
// RemoteWriteService in a ServiceGroup, and an in-process receiver that decodes every request.

/// One sample as the receiver decoded it (or as the test committed it). `series` is the label
/// set in Prometheus's notation (`Labels.description`), so committed and received compare.
struct SeenSample: Hashable, Sendable, CustomStringConvertible {
    var series: String
    var timestamp: Int64
    var value: Double

    var description: String { "\(series)@\(timestamp)=\(value)" }
}

/// One request the receiver got, decoded, with what it answered.
struct Arrival: Sendable {
    /// When it arrived, on the receiver's clock (the test's ``ManualClock`` when it has one).
    var at: ContinuousClock.Instant
    var request: ReceivedRequest
    var status: Int
    /// The gate holding the answer back (``HeldResponses``), if any.
    var gate: ResponseGate?
    var v1: WriteRequest?
    var v2: WriteRequestV2?
    /// The samples in the request, series by series as encoded.
    var samples: [SeenSample]
    /// The label sets of the request's series (each as `Labels`).
    var series: [Labels]

    /// Answered 2xx (a held answer only once released: one never released was not given).
    var accepted: Bool { (200..<300).contains(status) && (gate?.isOpen ?? true) }
    var isV2: Bool { request.header("Content-Type")?.contains("io.prometheus.write.v2.Request") ?? false }
    var isMetadataOnly: Bool { (v1?.timeseries.isEmpty ?? false) && !(v1?.metadata.isEmpty ?? true) }
}

/// Decodes a Remote Write request body (v1 or v2 by Content-Type).
func decode(_ request: ReceivedRequest) -> (v1: WriteRequest?, v2: WriteRequestV2?, samples: [SeenSample], series: [Labels]) {
    guard let raw = try? Snappy.decompress(request.body) else { return (nil, nil, [], []) }
    if request.header("Content-Type")?.contains("io.prometheus.write.v2.Request") ?? false {
        guard let message = try? WriteRequestV2(serializedBytes: raw) else { return (nil, nil, [], []) }
        var samples: [SeenSample] = []
        var series: [Labels] = []
        for ts in message.timeseries {
            let labels = Labels((message.labels(ts.labelsRefs) ?? []).map { Label($0.name, $0.value) })
            series.append(labels)
            for s in ts.samples { samples.append(SeenSample(series: labels.description, timestamp: s.timestamp, value: s.value)) }
        }
        return (nil, message, samples, series)
    }
    guard let message = try? WriteRequest(serializedBytes: raw) else { return (nil, nil, [], []) }
    var samples: [SeenSample] = []
    var series: [Labels] = []
    for ts in message.timeseries {
        let labels = Labels(ts.labels.map { Label($0.name, $0.value) })
        series.append(labels)
        for s in ts.samples { samples.append(SeenSample(series: labels.description, timestamp: s.timestamp, value: s.value)) }
    }
    return (message, nil, samples, series)
}

/// An in-process Remote Write receiver: records and decodes every request (in the order the
/// requests came in) and answers with a behaviour the test may change while it runs.
final class Receiver: Sendable {
    typealias Behaviour = @Sendable (_ request: ReceivedRequest, _ index: Int) -> CannedResponse

    let server: TestHTTPServer
    private let log: Locked<[Arrival]>
    private let behaviour: Locked<Behaviour>

    /// - Parameter clock: stamps each arrival (``Arrival/at``); the real clock by default.
    init(clock: (any AgentClock)? = nil, _ behaviour: @escaping Behaviour = { _, _ in CannedResponse(status: 204) }) async throws {
        let log = Locked<[Arrival]>([])
        let current = Locked<Behaviour>(behaviour)
        self.log = log
        self.behaviour = current
        server = try await TestHTTPServer { request in
            let answer = current.value
            return log.withLock { arrivals in
                let response = answer(request, arrivals.count)
                let decoded = decode(request)
                arrivals.append(Arrival(
                    at: clock?.now ?? .now, request: request, status: response.status, gate: response.gate, v1: decoded.v1,
                    v2: decoded.v2, samples: decoded.samples, series: decoded.series))
                return response
            }
        }
    }

    /// Answers every request with `status` from now on.
    static func answering(_ status: Int, headers: [(name: String, value: String)] = []) -> Behaviour {
        { _, _ in CannedResponse(status: status, headers: headers, body: status >= 400 ? Array("simulated \(status)\n".utf8) : []) }
    }

    func answer(_ behaviour: @escaping Behaviour) { self.behaviour.withLock { $0 = behaviour } }

    var url: String { "http://\(server.address)/api/v1/write" }
    var arrivals: [Arrival] { log.value }
    /// Samples of the requests answered 2xx, in arrival order.
    var accepted: [SeenSample] { log.value.filter(\.accepted).flatMap(\.samples) }

    /// Polls until `condition` holds for the arrivals; false when `timeout` passed first.
    @discardableResult
    func wait(timeout: Duration = .seconds(15), until condition: ([Arrival]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(log.value) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(log.value)
    }

    /// Polls until at least `count` samples were accepted.
    @discardableResult
    func waitForAccepted(_ count: Int, timeout: Duration = .seconds(15)) async -> Bool {
        await wait(timeout: timeout) { $0.filter(\.accepted).reduce(0) { $0 + $1.samples.count } >= count }
    }

    func stop() async { try? await server.stop() }
}

/// Answers a receiver holds back until the test releases them: requests that hang exactly as
/// long as the test wants (while it moves the manual clock, or forever).
final class HeldResponses: Sendable {
    private let gates = Locked<[ResponseGate]>([])

    /// `response`, held until ``releaseAll()``.
    func hold(_ response: CannedResponse = CannedResponse(status: 204)) -> CannedResponse {
        let gate = ResponseGate()
        gates.withLock { $0.append(gate) }
        var held = response
        held.gate = gate
        return held
    }

    /// Sends every answer held so far.
    func releaseAll() {
        for gate in gates.withLock({ g -> [ResponseGate] in defer { g = [] }; return g }) { gate.open() }
    }

    /// Answers held and not released yet.
    var count: Int { gates.value.count }
}

/// Lets a sender retry after each of `backoffs` in turn, from the attempt made at `first`: waits
/// until the sender is parked until the previous attempt plus the backoff (which checks the
/// backoff exactly), moves the clock there, and waits for the retry to arrive. Records an issue
/// and returns false at the first retry that does not come as expected.
@discardableResult
func retry(
    after backoffs: [Duration], from first: ContinuousClock.Instant, clock: ManualClock, receiver: Receiver,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> Bool {
    var at = first
    for (i, backoff) in backoffs.enumerated() {
        let before = receiver.arrivals.count
        at = at + backoff
        guard await clock.waitForSleeper(until: at, timeout: .seconds(20)) else {
            Issue.record(
                "retry \(i + 1): the sender is not parked until \(at - clock.origin) (parked until \(clock.parkedDescription))",
                sourceLocation: sourceLocation)
            return false
        }
        #expect(receiver.arrivals.count == before, "retry \(i + 1) came before its backoff", sourceLocation: sourceLocation)
        clock.advance(to: at)
        guard await receiver.wait(timeout: .seconds(20), until: { $0.count > before }) else {
            Issue.record("retry \(i + 1) did not arrive", sourceLocation: sourceLocation)
            return false
        }
    }
    return true
}

/// A WAL in a temporary directory and the refs of the series committed to it.
final class WALFixture {
    let directory: String
    let wal: WriteAheadLog
    private(set) var refs: [Labels: SeriesRef] = [:]
    private(set) var labelsByRef: [SeriesRef: Labels] = [:]
    /// Every sample committed, in commit order (labels as stored, before external labels).
    private(set) var committed: [SeenSample] = []

    /// The blocking-I/O pool the WAL and the service use (one for every test, as the agent has one).
    var pool: BlockingIOPool { sharedPool }

    init(segmentSize: Int = 1 << 20, compression: WALCompression = .snappy) throws {
        directory = NSTemporaryDirectory() + "queue-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        wal = try WriteAheadLog(
            directory: directory + "/wal", segmentSize: segmentSize, compression: compression, ioPool: sharedPool, logger: quietLogger)
    }

    deinit {
        if ProcessInfo.processInfo.environment["QUEUE_TESTS_KEEP"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    var progressDirectory: String { directory + "/remote" }

    /// Commits one batch: `samples` (series by labels; a known series goes by its ref) and metadata.
    @discardableResult
    func commit(_ samples: [(labels: Labels, timestamp: Int64, value: Double)], metadata: [MetricMetadata] = []) async throws -> [SeenSample] {
        var batch = AppendBatch()
        var newIndex: [Labels: Int] = [:]
        var pending: [Labels] = []
        for m in metadata { batch.appendMetadata(m) }
        for s in samples {
            if let ref = refs[s.labels] {
                batch.append(ref: ref, timestamp: s.timestamp, value: s.value)
            } else if newIndex[s.labels] == nil {
                newIndex[s.labels] = batch.append(labels: s.labels, timestamp: s.timestamp, value: s.value)
                pending.append(s.labels)
            } else {
                // A second sample of a series new in this batch: the WAL resolves it by labels again.
                batch.append(labels: s.labels, timestamp: s.timestamp, value: s.value)
                pending.append(s.labels)
            }
        }
        let newRefs = try await wal.commit(batch)
        for (labels, ref) in zip(pending, newRefs) where refs[labels] == nil {
            refs[labels] = ref
            labelsByRef[ref] = labels
        }
        let seen = samples.map { SeenSample(series: $0.labels.description, timestamp: $0.timestamp, value: $0.value) }
        committed += seen
        return seen
    }

    /// One "scrape": a sample of each series at `timestamp`, values from `value`.
    @discardableResult
    func scrape(_ series: [Labels], at timestamp: Int64, value: (Int) -> Double = { Double($0) }) async throws -> [SeenSample] {
        try await commit(series.indices.map { (series[$0], timestamp, value($0)) })
    }

    /// Every sample in the WAL with its place (for checking stored progress).
    func samplesWithPlaces() throws -> [(sample: SeenSample, ref: SeriesRef, place: Cursor)] {
        var reader = try WALReader(directory: wal.directory, from: WALPosition(segment: 0, offset: 0))
        var out: [(SeenSample, SeriesRef, Cursor)] = []
        var position = reader.position
        while let (record, next) = try reader.next() {
            if case .samples(let list) = record {
                for (i, s) in list.enumerated() {
                    let labels = labelsByRef[s.ref]?.description ?? "ref\(s.ref)"
                    out.append((SeenSample(series: labels, timestamp: s.timestamp, value: s.value), s.ref, Cursor(position: position, samplesDone: i)))
                }
            }
            position = next
        }
        return out
    }
}

/// Checks endpoint `name`'s stored progress against what its receiver accepted: no sample that
/// was not accepted counts as acknowledged; with `exactly`, every accepted one does too.
func expectStoredProgress(
    _ fixture: WALFixture, name: String = "hub", acknowledges accepted: [SeenSample], exactly: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    guard let progress = try EndpointProgressFile(directory: fixture.progressDirectory, endpointName: name).load() else {
        Issue.record("no progress stored", sourceLocation: sourceLocation)
        return
    }
    let accepted = Set(accepted)
    for entry in try fixture.samplesWithPlaces() {
        let acknowledged = progress.isAcknowledged(ref: entry.ref, at: entry.place)
        if acknowledged && !accepted.contains(entry.sample) {
            Issue.record("unsent \(entry.sample) counted as acknowledged", sourceLocation: sourceLocation)
        }
        if exactly && !acknowledged && accepted.contains(entry.sample) {
            Issue.record("accepted \(entry.sample) not counted as acknowledged", sourceLocation: sourceLocation)
        }
    }
}

/// Holds the only thread of a one-thread ``BlockingIOPool`` until ``release()``: every job
/// submitted meanwhile (progress stores, WAL reads) waits, in order.
final class PoolHold: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let holding = Locked(false)
    private let job: Task<Void, Never>

    init(_ pool: BlockingIOPool) {
        let (semaphore, holding) = (semaphore, holding)
        job = Task {
            try? await pool.run {
                holding.withLock { $0 = true }
                semaphore.wait()
            }
        }
    }

    /// Waits until the pool's thread is held (every job submitted before has run).
    func waitUntilHeld() async -> Bool { await eventually(timeout: .seconds(20)) { self.holding.value } }

    func release() async {
        semaphore.signal()
        await job.value
    }
}

/// One transport for every test of the target, as the agent has one.
let sharedTransport = HTTPTransport()

/// One blocking-I/O pool for every test of the target, as the agent has one.
let sharedPool: BlockingIOPool = try! BlockingIOPool(threads: 2, name: "test-io")

let quietLogger: Logger = {
    if ProcessInfo.processInfo.environment["QUEUE_TESTS_LOG"] != nil {
        var logger = Logger(label: "queue-tests", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .debug
        return logger
    }
    return Logger(label: "queue-tests", factory: { _ in SwiftLogNoOpLogHandler() })
}()

/// An endpoint config with small, fast settings for tests.
func endpoint(
    _ url: String, name: String = "hub", shards: Int = 1, capacity: Int = 1000, maxPerSend: Int = 100,
    deadline: Duration = .milliseconds(100), _ tweak: (inout RemoteWriteConfig) -> Void = { _ in }
) -> RemoteWriteConfig {
    var config = RemoteWriteConfig(url: url, name: name)
    config.remoteTimeout = .seconds(10)
    config.queueConfig.capacity = capacity
    config.queueConfig.minShards = shards
    config.queueConfig.maxShards = shards
    config.queueConfig.maxSamplesPerSend = maxPerSend
    config.queueConfig.batchSendDeadline = deadline
    config.queueConfig.minBackoff = .milliseconds(10)
    config.queueConfig.maxBackoff = .milliseconds(100)
    config.metadataConfig.send = false
    tweak(&config)
    return config
}

/// A RemoteWriteService running in a ServiceGroup, stopped by graceful shutdown.
final class RunningService: Sendable {
    let service: RemoteWriteService
    let group: ServiceGroup
    let registry: PrometheusCollectorRegistry
    let startedAt = ContinuousClock.now
    private let finishedAt = Locked<ContinuousClock.Instant?>(nil)

    let clock: any AgentClock
    /// The configuration the service started with.
    let configuration: Configuration

    /// - Parameters:
    ///   - clock: the service's clock; the real one by default, a ``ManualClock`` for tests of
    ///     deadlines, backoff and resharding.
    ///   - pool: the service's blocking-I/O pool; the fixture's (shared) one by default.
    init(
        _ fixture: WALFixture, endpoints: [RemoteWriteConfig], externalLabels: Labels = .empty, walConfig: WALConfig? = nil,
        flushDeadline: Duration = .seconds(5), registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        clock: any AgentClock = SystemClock(), pool: BlockingIOPool? = nil
    ) throws {
        self.clock = clock
        var configuration = Configuration(remoteWrite: endpoints)
        configuration.global.externalLabels = externalLabels
        var caps = WALConfig()
        caps.maxSize = 0
        caps.maxAge = .zero
        configuration.wal = walConfig ?? caps
        self.configuration = configuration
        self.registry = registry
        service = try RemoteWriteService(
            configuration: configuration, wal: fixture.wal, pool: pool ?? fixture.pool, transport: sharedTransport,
            storagePath: fixture.directory, flushDeadline: flushDeadline, registry: registry, clock: clock, logger: quietLogger)
        group = ServiceGroup(services: [service], logger: quietLogger)
        let group = self.group, finishedAt = self.finishedAt
        Task {
            do { try await group.run() } catch { Issue.record("service group failed: \(error)") }
            finishedAt.withLock { $0 = .now }
        }
    }

    var hasFinished: Bool { finishedAt.value != nil }

    /// Begins a graceful shutdown without waiting for it (``waitUntilFinished(timeout:)``).
    func beginStop() async {
        await group.triggerGracefulShutdown()
    }

    /// Waits up to `timeout` (real time) until `run()` returned; false when it had not.
    func waitUntilFinished(timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.hasFinished }
    }

    /// Reloads with the same configuration but `endpoints`.
    func reload(endpoints: [RemoteWriteConfig]) {
        var changed = configuration
        changed.remoteWrite = endpoints
        service.apply(changed)
    }

    /// The endpoint `name`'s running state, nil when it is not running.
    func context(_ name: String = "hub") -> EndpointContext? { service.endpoints[name]?.context }

    /// Whether endpoint `name`'s watcher is parked waiting for room in a full queue.
    func watcherWaitsForRoom(_ name: String = "hub") -> Bool {
        context(name)?.sets.all.contains { $0.queues.contains(where: \.isProducerWaiting) } ?? false
    }

    /// Begins a graceful shutdown and waits up to `timeout` for `run()` to return. Returns how
    /// long it took, or nil when it had not returned by then (the service is left running).
    @discardableResult
    func stop(timeout: Duration = .seconds(30)) async -> Duration? {
        let began = ContinuousClock.now
        await group.triggerGracefulShutdown()
        while ContinuousClock.now - began < timeout {
            if let end = finishedAt.value { return end - began }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return finishedAt.value.map { $0 - began }
    }

    /// The sum of the values of `name`'s series whose labels include `labels`; nil when none.
    func metric(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        metricValue(registry, name, labels)
    }
}

/// Reads a metric from the registry's text exposition.
func metricValue(_ registry: PrometheusCollectorRegistry, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    var total: Double?
    for line in registry.emitToString().split(separator: "\n") where !line.hasPrefix("#") {
        let (metric, rest): (Substring, Substring)
        if let brace = line.firstIndex(of: "{") {
            metric = line[..<brace]
            guard let close = line.lastIndex(of: "}") else { continue }
            rest = line[line.index(after: brace)..<close]
        } else {
            metric = line.prefix { $0 != " " }
            rest = ""
        }
        guard metric == name else { continue }
        var found: [String: String] = [:]
        for pair in rest.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            found[String(parts[0])] = String(parts[1].dropFirst().dropLast())
        }
        guard labels.allSatisfy({ found[$0.key] == $0.value }) else { continue }
        guard let valueText = line.split(separator: " ").last, let value = Double(valueText) else { continue }
        total = (total ?? 0) + value
    }
    return total
}

/// Series with node-exporter-like labels.
func nodeSeries(_ count: Int, metric: String = "node_cpu_seconds_total", job: String = "node") -> [Labels] {
    (0..<count).map { i in
        Labels(["__name__": metric, "job": job, "instance": "10.0.\(i / 256).\(i % 256):9100", "cpu": "\(i % 8)", "mode": "user"])
    }
}

/// Counts of each element (for exact multiset comparisons).
func counts<T: Hashable>(_ items: [T]) -> [T: Int] {
    items.reduce(into: [:]) { $0[$1, default: 0] += 1 }
}

/// Per series, whether the timestamps (in the order given) are strictly increasing; returns the
/// first offending series, if any.
func firstOutOfOrder(_ samples: [SeenSample]) -> (series: String, previous: Int64, next: Int64)? {
    var last: [String: Int64] = [:]
    for s in samples {
        if let previous = last[s.series], s.timestamp <= previous { return (s.series, previous, s.timestamp) }
        last[s.series] = s.timestamp
    }
    return nil
}

let baseTimestamp: Int64 = 1_700_000_000_000

extension SeriesSource {
    /// Each ref's labels as the source resolves them for the encoder (nil for a ref it does not
    /// know) with its family's name (nil for none).
    func resolvedForTest(_ refs: [SeriesRef]) -> [(labels: Labels, family: String?)?] {
        var series = ResolvedSeries()
        let families = resolve(refs, into: &series)
        return series.entries.map { entry in
            guard entry.isKnown else { return nil }
            let labels = Labels(validating: Array(series.bytes[entry.start..<entry.end]))!
            return (labels, entry.family >= 0 ? families[Int(entry.family)].family : nil)
        }
    }
}
