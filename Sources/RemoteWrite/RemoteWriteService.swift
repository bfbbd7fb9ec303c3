import AgentConfig
import Foundation
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Runs one sender per `remote_write` endpoint, each independent of the others (its own thread,
/// connection and cursor), and removes WAL segments once every endpoint has acknowledged them.
/// A configuration applied later keeps endpoints whose config did not change, stops removed
/// ones and starts new ones from the current end of the WAL.
public final class RemoteWriteService: Service {
    private let wal: WriteAheadLog
    private let cursorDirectory: String
    private let flushDeadline: Duration
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let state: Mutex<State>

    private struct Running {
        var endpoint: RemoteEndpoint
        var task: Task<Void, Never>
    }

    private struct State {
        var pending: [(RemoteWriteConfig, Labels)] = []
        var running: [String: Running] = [:]
        var started = false
        var stopped = false
    }

    /// - Parameters:
    ///   - storagePath: the agent's `--storage.path`; cursors live in its `remote/` folder.
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
        state = Mutex(State(pending: configuration.remoteWrite.map { ($0, configuration.global.externalLabels) }))
    }

    public func run() async throws {
        let initial = state.withLock { state -> [(RemoteWriteConfig, Labels)] in
            state.started = true
            return state.pending
        }
        for (config, externalLabels) in initial {
            start(config, externalLabels: externalLabels, atHead: false)
        }
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in await truncateWhileRunning() }
            // Runs (even with no endpoints) until shutdown; then every endpoint sends what the
            // WAL holds until the flush deadline.
            try? await gracefulShutdown()
            let running = state.withLock { state -> [Running] in
                state.stopped = true
                return Array(state.running.values)
            }
            let deadline = ContinuousClock.now + flushDeadline
            for entry in running { entry.endpoint.beginShutdown(deadline: deadline) }
            for entry in running { await entry.task.value }
            group.cancelAll()
        }
        truncate()
    }

    /// Applies a configuration (a reload).
    public func apply(_ configuration: Configuration) {
        let externalLabels = configuration.global.externalLabels
        let (toStop, toStart) = state.withLock { state -> ([Running], [RemoteWriteConfig]) in
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
        // A removed or changed endpoint stops at once; its cursor is kept on disk.
        for entry in toStop {
            entry.endpoint.beginShutdown(deadline: .now)
            logger.info("remote write endpoint stopped by reload", metadata: ["remote_name": "\(entry.endpoint.config.name)"])
        }
        for config in toStart {
            start(config, externalLabels: externalLabels, atHead: true)
        }
    }

    /// Starts an endpoint; without a stored cursor it begins at the WAL's start (`atHead`
    /// false: the first start sends everything the WAL holds) or its current end (a reload).
    private func start(_ config: RemoteWriteConfig, externalLabels: Labels, atHead: Bool) {
        let endpoint = RemoteEndpoint(
            config: config, walDirectory: wal.directory, cursorDirectory: cursorDirectory, externalLabels: externalLabels,
            registry: registry, logger: logger)
        let wal = self.wal
        let logger = self.logger
        let startAt = atHead ? wal.head : nil
        let task = Task {
            let threadPool = NIOThreadPool(numberOfThreads: 1)
            threadPool.start()
            do {
                try await endpoint.run(threadPool: threadPool, walHead: { wal.head }, startingAt: startAt)
            } catch {
                logger.error("remote write stopped on an error", metadata: ["remote_name": "\(config.name)", "error": "\(error)"])
            }
            try? await threadPool.shutdownGracefully()
        }
        state.withLock { $0.running[config.name] = Running(endpoint: endpoint, task: task) }
    }

    private func truncateWhileRunning() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(10))
            truncate()
        }
    }

    /// Removes the segments every endpoint is past.
    private func truncate() {
        var oldest = wal.head.segment
        for entry in state.withLock({ Array($0.running.values) }) {
            guard let cursor = entry.endpoint.acknowledged.withLock({ $0 }) else { return }
            oldest = min(oldest, cursor.position.segment)
        }
        do {
            try wal.removeSegments(before: oldest)
        } catch {
            logger.error("cannot remove old WAL segments", metadata: ["error": "\(error)"])
        }
    }
}
