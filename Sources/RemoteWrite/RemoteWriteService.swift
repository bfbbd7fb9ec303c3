import AgentConfig
import Curl
import Foundation
import Logging
import Model
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Runs one ``RemoteEndpoint`` per `remote_write` entry, each independent of the others (its own
/// watcher, shards and progress; connections come from the shared ``HTTPTransport``), and keeps
/// the WAL in bounds with ``WALMaintenance``.
///
/// Endpoints are children of the service's task group. A configuration applied later
/// (``apply(_:)``, a reload) keeps endpoints whose config did not change, stops removed ones at
/// once and starts new ones from the current end of the WAL; a changed endpoint's replacement
/// starts only after the old instance has returned, so the two never write the same progress
/// file. At graceful shutdown every endpoint drains until the flush deadline (or stops at once
/// when its receiver is failing).
public final class RemoteWriteService: Service {
    private let wal: WriteAheadLog
    private let pool: BlockingIOPool
    private let transport: HTTPTransport
    private let cursorDirectory: String
    private let flushDeadline: Duration
    private let registry: PrometheusCollectorRegistry
    private let clock: any AgentClock
    private let logger: Logger
    private let maintenance: WALMaintenance
    private let state: Mutex<State>
    private let commands: AsyncStream<Configuration>
    private let commandSink: AsyncStream<Configuration>.Continuation

    private struct State {
        var initial: Configuration
        var running: [String: RemoteEndpoint] = [:]
    }

    /// How often the WAL's caps and acknowledged segments are checked.
    static let maintenanceInterval: Duration = .milliseconds(250)

    /// - Parameters:
    ///   - storagePath: the agent's `--storage.path`; progress files live in its `remote/` folder.
    ///   - flushDeadline: how long a graceful shutdown keeps sending what is queued.
    public init(
        configuration: Configuration, wal: WriteAheadLog, pool: BlockingIOPool, transport: HTTPTransport, storagePath: String,
        flushDeadline: Duration, registry: PrometheusCollectorRegistry, clock: any AgentClock = SystemClock(), logger: Logger
    ) throws {
        cursorDirectory = "\(storagePath)/remote"
        try FileManager.default.createDirectory(atPath: cursorDirectory, withIntermediateDirectories: true)
        self.wal = wal
        self.pool = pool
        self.transport = transport
        self.flushDeadline = flushDeadline
        self.registry = registry
        self.clock = clock
        self.logger = logger
        maintenance = WALMaintenance(wal: wal, pool: pool, registry: registry, logger: logger, caps: configuration.wal)
        state = Mutex(State(initial: configuration))
        (commands, commandSink) = AsyncStream.makeStream(of: Configuration.self)
    }

    var walHead: WALPosition { wal.head }

    /// The running endpoints, by name.
    var endpoints: [String: RemoteEndpoint] { state.withLock { $0.running } }

    public func run() async throws {
        wal.onSegmentStart { [maintenance] _ in maintenance.trigger() }
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask { [self] in await maintenance.run(clock: clock, interval: Self.maintenanceInterval) { self.endpoints } }
            outer.addTask { [commandSink] in
                try? await gracefulShutdown()
                commandSink.finish()
            }
            await withDiscardingTaskGroup { group in
                let initial = state.withLock { $0.initial }
                for config in initial.remoteWrite {
                    start(config, externalLabels: initial.global.externalLabels, atHead: false, after: nil, in: &group)
                }
                for await configuration in commands {
                    reconfigure(configuration, in: &group)
                }
                // Graceful shutdown: every endpoint sends what the WAL holds until the deadline.
                let deadline = clock.now + flushDeadline
                let head = wal.head
                for endpoint in state.withLock({ Array($0.running.values) }) {
                    endpoint.beginShutdown(deadline: deadline, head: head)
                }
            }
            outer.cancelAll()
        }
        wal.onSegmentStart { _ in }
        await maintenance.maintain(endpoints: Array(endpoints.values))
    }

    /// One maintenance round now (tests call it to control when caps apply).
    func maintain() async {
        await maintenance.maintain(endpoints: Array(endpoints.values))
    }

    /// Applies a configuration (a reload): endpoints change when the service's run loop takes it.
    public func apply(_ configuration: Configuration) {
        maintenance.setCaps(configuration.wal)
        commandSink.yield(configuration)
    }

    private func reconfigure(_ configuration: Configuration, in group: inout DiscardingTaskGroup) {
        let externalLabels = configuration.global.externalLabels
        let wanted = Dictionary(uniqueKeysWithValues: configuration.remoteWrite.map { ($0.name, $0) })
        var predecessors: [String: RemoteEndpoint] = [:]
        let toStop = state.withLock { s -> [RemoteEndpoint] in
            var stop: [RemoteEndpoint] = []
            for (name, endpoint) in s.running where wanted[name] != endpoint.config {
                stop.append(endpoint)
                predecessors[name] = endpoint
                s.running[name] = nil
            }
            return stop
        }
        // A removed or changed endpoint stops at once; its progress is kept on disk.
        for endpoint in toStop {
            endpoint.beginShutdown(deadline: clock.now, head: wal.head)
            logger.info("remote write endpoint stopped by reload", metadata: ["remote_name": "\(endpoint.config.name)"])
        }
        let running = state.withLock { Set($0.running.keys) }
        for config in configuration.remoteWrite where !running.contains(config.name) {
            start(config, externalLabels: externalLabels, atHead: true, after: predecessors[config.name], in: &group)
        }
    }

    /// Starts an endpoint as a child of `group`; without stored progress it begins at the WAL's
    /// start (`atHead` false: the first start sends everything the WAL holds) or its current end
    /// (a reload). With `predecessor`, it starts once that instance has returned.
    private func start(
        _ config: RemoteWriteConfig, externalLabels: Labels, atHead: Bool, after predecessor: RemoteEndpoint?,
        in group: inout DiscardingTaskGroup
    ) {
        let endpoint = RemoteEndpoint(
            config: config, externalLabels: externalLabels, wal: wal, pool: pool, transport: transport,
            cursorDirectory: cursorDirectory, registry: registry, clock: clock, logger: logger)
        let startAt = atHead ? wal.head : nil
        state.withLock { $0.running[config.name] = endpoint }
        group.addTask {
            if let predecessor { await predecessor.finished.wait() }
            await endpoint.run(startingAt: startAt)
        }
    }
}
