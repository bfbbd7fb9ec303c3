import AgentConfig
import Foundation
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Runs one sender per `remote_write` endpoint, each independent of the others (its own
/// watcher, shards, connections and progress), and keeps the WAL in bounds: segments every
/// endpoint has acknowledged are removed, and so are the oldest ones when the WAL outgrows
/// `wal.max_size` or holds data older than `wal.max_age`, even if an endpoint is behind (its
/// samples there are counted as dropped). A configuration applied later keeps endpoints whose
/// config did not change, stops removed ones and starts new ones from the current end of the WAL.
public final class RemoteWriteService: Service {
    private let wal: WriteAheadLog
    private let cursorDirectory: String
    private let flushDeadline: Duration
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let state: Mutex<State>
    private let segmentsRemoved: [String: Counter]

    private struct Running {
        var endpoint: RemoteEndpoint
        var task: Task<Void, Never>
    }

    private struct State {
        var pending: [(RemoteWriteConfig, Labels)] = []
        var running: [String: Running] = [:]
        var walConfig = WALConfig()
        var started = false
        var stopped = false
    }

    /// How often the WAL's caps and acknowledged segments are checked.
    static let maintenanceInterval: Duration = .milliseconds(250)

    /// - Parameters:
    ///   - storagePath: the agent's `--storage.path`; progress files live in its `remote/` folder.
    ///   - flushDeadline: how long a graceful shutdown keeps sending what is queued.
    public init(
        configuration: Configuration, wal: WriteAheadLog, storagePath: String, flushDeadline: Duration,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) throws {
        cursorDirectory = "\(storagePath)/remote"
        try FileManager.default.createDirectory(atPath: cursorDirectory, withIntermediateDirectories: true)
        self.wal = wal
        self.flushDeadline = flushDeadline
        self.registry = registry
        self.logger = logger
        state = Mutex(State(pending: configuration.remoteWrite.map { ($0, configuration.global.externalLabels) }, walConfig: configuration.wal))
        var removed: [String: Counter] = [:]
        for reason in ["acknowledged", DropReason.walMaxSize.rawValue, DropReason.walMaxAge.rawValue] {
            removed[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "agent_wal_segments_removed_total", unitName: "",
                    helpText: "WAL segments removed: acknowledged by every remote endpoint, or removed by a cap (wal_max_size, wal_max_age)."),
                labels: [("reason", reason)])
        }
        segmentsRemoved = removed
    }

    public func run() async throws {
        let initial = state.withLock { state -> [(RemoteWriteConfig, Labels)] in
            state.started = true
            return state.pending
        }
        for (config, externalLabels) in initial {
            start(config, externalLabels: externalLabels, atHead: false)
        }
        // Maintenance runs on a tick and at once when the WAL starts a segment (the moment the
        // closed segments grew past a size cap, if they did).
        let (ticks, tick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wal.onSegmentStart { _ in tick.yield() }
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.maintenanceInterval)
                    tick.yield()
                }
            }
            group.addTask { [self] in
                for await _ in ticks { await maintain() }
            }
            // Runs (even with no endpoints) until shutdown; then every endpoint sends what the
            // WAL holds until the flush deadline.
            try? await gracefulShutdown()
            let running = state.withLock { state -> [Running] in
                state.stopped = true
                return Array(state.running.values)
            }
            let deadline = ContinuousClock.now + flushDeadline
            let head = wal.head
            for entry in running { entry.endpoint.beginShutdown(deadline: deadline, head: head) }
            for entry in running { await entry.task.value }
            tick.finish()
            group.cancelAll()
        }
        wal.onSegmentStart { _ in }
        await maintain()
    }

    /// Applies a configuration (a reload).
    public func apply(_ configuration: Configuration) {
        let externalLabels = configuration.global.externalLabels
        let (toStop, toStart) = state.withLock { state -> ([Running], [RemoteWriteConfig]) in
            state.walConfig = configuration.wal
            guard state.started, !state.stopped else {
                state.pending = configuration.remoteWrite.map { ($0, externalLabels) }
                return ([], [])
            }
            let wanted = Dictionary(uniqueKeysWithValues: configuration.remoteWrite.map { ($0.name, $0) })
            var stop: [Running] = []
            for (name, running) in state.running where wanted[name] != running.endpoint.config {
                stop.append(running)
                state.running[name] = nil
            }
            return (stop, configuration.remoteWrite.filter { state.running[$0.name] == nil })
        }
        // A removed or changed endpoint stops at once; its progress is kept on disk.
        for entry in toStop {
            entry.endpoint.beginShutdown(deadline: .now, head: wal.head)
            logger.info("remote write endpoint stopped by reload", metadata: ["remote_name": "\(entry.endpoint.config.name)"])
        }
        for config in toStart {
            start(config, externalLabels: externalLabels, atHead: true)
        }
    }

    /// Starts an endpoint; without stored progress it begins at the WAL's start (`atHead`
    /// false: the first start sends everything the WAL holds) or its current end (a reload).
    private func start(_ config: RemoteWriteConfig, externalLabels: Labels, atHead: Bool) {
        let endpoint = RemoteEndpoint(
            config: config, walDirectory: wal.directory, cursorDirectory: cursorDirectory, externalLabels: externalLabels,
            registry: registry, logger: logger)
        let logger = self.logger
        let startAt = atHead ? wal.head : nil
        let task = Task {
            do {
                try await endpoint.run(startingAt: startAt)
            } catch {
                logger.error("remote write stopped on an error", metadata: ["remote_name": "\(config.name)", "error": "\(error)"])
            }
        }
        state.withLock { $0.running[config.name] = Running(endpoint: endpoint, task: task) }
    }

    /// Removes the segments every endpoint has acknowledged, and the oldest ones beyond the caps
    /// (after making the endpoints still reading them skip them, counting what they lose).
    func maintain() async {
        let (endpoints, caps) = state.withLock { s in (s.running.values.map(\.endpoint), s.walConfig) }
        let segments: [WALSegmentInfo]
        do {
            segments = try wal.segmentInfo()
        } catch {
            logger.error("cannot list WAL segments", metadata: ["error": "\(error)"])
            return
        }
        let current = wal.head.segment
        let closed = segments.filter { $0.number < current }
        guard let oldest = closed.first?.number else { return }

        var acknowledgedLimit = current
        for endpoint in endpoints {
            guard let cursor = endpoint.acknowledged else { acknowledgedLimit = oldest; break }
            acknowledgedLimit = min(acknowledgedLimit, cursor.position.segment)
        }

        var capLimit = oldest
        var capReason = DropReason.walMaxSize
        if caps.maxAge > .zero {
            let cutoff = Date().addingTimeInterval(-Double(caps.maxAge.components.seconds))
            if let newestTooOld = closed.last(where: { $0.modified < cutoff }) {
                capLimit = newestTooOld.number + 1
                capReason = .walMaxAge
            }
        }
        if caps.maxSize > 0 {
            // Leave room for the segment being written to reach its full size, and for one more
            // segment to be completed before this runs again.
            let allowed = max(0, caps.maxSize - 2 * caps.segmentSize)
            var total = closed.reduce(0) { $0 + $1.size }
            for segment in closed where total > allowed {
                total -= segment.size
                if segment.number + 1 > capLimit {
                    capLimit = segment.number + 1
                    capReason = .walMaxSize
                }
            }
        }

        if capLimit > acknowledgedLimit {
            // Endpoints still reading those segments skip them first (counting what they lose);
            // what the others already queued from them is still sent.
            let behind = endpoints.filter { ($0.readSegment ?? oldest) < capLimit }
            let (limit, reason) = (capLimit, capReason)
            await withDiscardingTaskGroup { group in
                for endpoint in behind {
                    group.addTask { await endpoint.skipSegments(before: limit, reason: reason) }
                }
            }
        }
        let limit = max(acknowledgedLimit, capLimit)
        guard limit > oldest else { return }
        do {
            let removed = closed.filter { $0.number < limit }.count
            try wal.removeSegments(before: limit)
            let byCap = capLimit > acknowledgedLimit ? closed.filter { $0.number >= acknowledgedLimit && $0.number < capLimit }.count : 0
            segmentsRemoved["acknowledged"]?.increment(by: Int64(removed - byCap))
            segmentsRemoved[capReason.rawValue]?.increment(by: Int64(byCap))
            if byCap > 0 {
                logger.info("WAL cap reached; oldest segments removed", metadata: [
                    "reason": "\(capReason.rawValue)", "segments": "\(byCap)", "max_size": "\(caps.maxSize)", "max_age": "\(caps.maxAge)",
                ])
            }
        } catch {
            logger.error("cannot remove old WAL segments", metadata: ["error": "\(error)"])
        }
    }
}
