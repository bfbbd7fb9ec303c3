import AgentConfig
import Curl
import KubernetesDiscovery
import Logging
import Model
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Keeps one scrape loop running per target of the current configuration. Targets come from
/// each job's static configs, file discovery and Kubernetes discovery; a configuration applied
/// later (a reload) keeps the loops of targets whose job did not change, stops those of removed
/// targets (their series get staleness markers) and starts new ones.
///
/// Every loop and discovery provider is a child of the task group in ``run()``, stopped one by
/// one through its ``StopHandle``; stopping the service stops them all (scrapes in flight are
/// aborted, no staleness markers are written, as in Prometheus) and returns once every one has
/// returned. Reloads (``apply(_:)``) and discovery results reach the group's owner through one
/// command stream, so only ``run()`` starts and stops children.
public final class ScrapeManager: Service {
    private let wal: WriteAheadLog
    private let transport: HTTPTransport
    private let pool: BlockingIOPool
    private let clock: any AgentClock
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let duplicates: Counter
    private let kubernetesFailures: Counter
    private let initialConfiguration: Configuration
    private let state = Mutex(State())
    private let reports = Mutex<[String: ScrapeReport]>([:])
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation

    private enum Command: Sendable {
        case apply(Configuration)
        /// New target groups from provider `provider` of the pool instance `pool`.
        case discovered(job: String, pool: Int, provider: Int, groups: [TargetGroup])
    }

    /// One job's targets and what discovers them.
    private struct Pool {
        /// Tells this instance of the job's pool from one a reload replaced.
        var id: Int
        var config: ScrapeConfig
        var client: ScrapeClient
        var metrics: ScrapeMetrics
        var targetsGauge: Gauge
        /// `prometheus_sd_discovered_targets`: active and dropped targets.
        var discoveredGauge: Gauge
        /// Target groups by provider (0: static configs, 1…: file_sd_configs, then kubernetes_sd_configs).
        var groups: [Int: [TargetGroup]] = [:]
        var discovery: [StopHandle] = []
        var active: [Target] = []
        var dropped: [Labels] = []
    }

    /// A running loop, and the flag that tells it whether its target left (staleness markers)
    /// or the agent is stopping or reconfiguring it (none).
    private struct RunningLoop {
        var target: Target
        var handle: StopHandle
        var removed: Atomic<Bool>.Box
    }

    private struct State {
        var pools: [String: Pool] = [:]
        var loops: [String: RunningLoop] = [:]
        var nextPoolID = 0
    }

    public init(
        configuration: Configuration, wal: WriteAheadLog, transport: HTTPTransport, pool: BlockingIOPool,
        registry: PrometheusCollectorRegistry, clock: any AgentClock = SystemClock(), logger: Logger
    ) {
        self.wal = wal
        self.transport = transport
        self.pool = pool
        self.clock = clock
        self.registry = registry
        self.logger = logger
        self.duplicates = ScrapeMetrics.duplicatesCounter(registry: registry)
        self.kubernetesFailures = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "prometheus_sd_kubernetes_failures_total", unitName: "",
                helpText: "The number of failed Kubernetes lists and watches (each is retried)."),
            labels: [])
        initialConfiguration = configuration
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
    }

    /// Every active target with its last scrape, if it has been scraped.
    public var targetStatus: [(target: Target, lastScrape: ScrapeReport?)] {
        let reports = self.reports.withLock { $0 }
        let targets = state.withLock { $0.pools.values.flatMap(\.active) }.sorted { $0.job == $1.job ? $0.url < $1.url : $0.job < $1.job }
        return targets.map { ($0, reports[$0.id]) }
    }

    /// The discovered labels of targets relabeling dropped, by job.
    public var droppedTargets: [(job: String, discoveredLabels: Labels)] {
        state.withLock { state in state.pools.values.flatMap { pool in pool.dropped.map { (pool.config.jobName, $0) } } }
    }

    /// Applies a configuration (a reload): unchanged jobs keep their pools and loops; changed,
    /// new and removed jobs are rebuilt, started and stopped by the run loop.
    public func apply(_ configuration: Configuration) {
        commandSink.yield(.apply(configuration))
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [commandSink] in
                try? await gracefulShutdown()
                commandSink.finish()
            }
            await apply(initialConfiguration, in: &group)
            for await command in commands {
                switch command {
                case .apply(let configuration):
                    await apply(configuration, in: &group)
                case .discovered(let job, let poolID, let provider, let groups):
                    update(job: job, poolID: poolID, provider: provider, groups: groups, in: &group)
                }
            }
            // Shutdown: no staleness markers (as in Prometheus); scrapes in flight are aborted.
            let handles = state.withLock { state -> [StopHandle] in
                defer { state.loops = [:] }
                return state.loops.values.map(\.handle) + state.pools.values.flatMap(\.discovery)
            }
            for handle in handles { handle.stop() }
        }
        logger.info("scraping stopped")
    }

    // MARK: Applying configurations

    private func apply(_ configuration: Configuration, in group: inout DiscardingTaskGroup) async {
        var fileDiscovery: [(job: String, pool: Int, provider: Int, discovery: FileDiscovery)] = []
        var kubernetes: [(job: String, pool: Int, provider: Int, discoverer: KubernetesDiscoverer)] = []
        let removedDiscovery = state.withLock { state -> [StopHandle] in
            let wanted = Dictionary(uniqueKeysWithValues: configuration.scrapeConfigs.map { ($0.jobName, $0) })
            var stopped: [StopHandle] = []
            for (job, pool) in state.pools where wanted[job]?.fingerprint != pool.config.fingerprint {
                stopped += pool.discovery
                pool.targetsGauge.set(0.0)
                pool.discoveredGauge.set(0.0)
                state.pools[job] = nil
            }
            for config in configuration.scrapeConfigs where state.pools[config.jobName] == nil {
                let id = state.nextPoolID
                state.nextPoolID += 1
                var pool = makePool(config, id: id)
                pool.groups[0] = Target.staticGroups(of: config)
                for (index, fileSD) in config.fileSDConfigs.enumerated() {
                    fileDiscovery.append((config.jobName, id, index + 1, FileDiscovery(
                        files: fileSD.files, refreshInterval: fileSD.refreshInterval, logger: logger)))
                }
                for (index, sd) in config.kubernetesSDConfigs.enumerated() {
                    do {
                        kubernetes.append((config.jobName, id, config.fileSDConfigs.count + 1 + index, try makeDiscoverer(sd)))
                    } catch {
                        kubernetesFailures.increment()
                        logger.error("cannot start kubernetes discovery", metadata: [
                            "job": "\(config.jobName)", "role": "\(sd.role.rawValue)", "error": "\(error)",
                        ])
                    }
                }
                state.pools[config.jobName] = pool
            }
            return stopped
        }
        for handle in removedDiscovery { handle.stop() }
        // File discovery's first read happens here, so a new job starts with its targets (and a
        // changed job keeps its loops without a gap).
        var firstReads: [(job: String, pool: Int, provider: Int, groups: [TargetGroup])] = []
        for entry in fileDiscovery {
            let groups = (try? await pool.run { entry.discovery.refresh() }) ?? []
            firstReads.append((entry.job, entry.pool, entry.provider, groups))
        }
        state.withLock { state in
            for read in firstReads where state.pools[read.job]?.id == read.pool {
                state.pools[read.job]!.groups[read.provider] = read.groups
            }
            for job in Array(state.pools.keys) { recompute(&state.pools[job]!) }
        }
        for (entry, read) in zip(fileDiscovery, firstReads) {
            let handle = StopHandle()
            let (job, poolID, provider) = (entry.job, entry.pool, entry.provider)
            guard attach(handle, job: job, poolID: poolID) else { continue }
            let (clock, pool, sink) = (clock, pool, commandSink)
            group.addTask {
                await handle.run {
                    await entry.discovery.run(initial: read.groups, clock: clock, pool: pool) { groups in
                        sink.yield(.discovered(job: job, pool: poolID, provider: provider, groups: groups))
                    }
                }
            }
        }
        for entry in kubernetes {
            let handle = StopHandle()
            let (job, poolID, provider) = (entry.job, entry.pool, entry.provider)
            guard attach(handle, job: job, poolID: poolID) else { continue }
            let sink = commandSink
            group.addTask {
                await handle.run {
                    await entry.discoverer.run { groups in
                        sink.yield(.discovered(
                            job: job, pool: poolID, provider: provider,
                            groups: groups.map { TargetGroup(source: $0.source, targetLabels: $0.targets, labels: $0.labels) }))
                    }
                }
            }
        }
        syncLoops(in: &group)
    }

    /// Records a discovery provider's handle with its pool; false if the pool is gone already.
    private func attach(_ handle: StopHandle, job: String, poolID: Int) -> Bool {
        state.withLock { state in
            guard state.pools[job]?.id == poolID else { return false }
            state.pools[job]!.discovery.append(handle)
            return true
        }
    }

    private func makePool(_ config: ScrapeConfig, id: Int) -> Pool {
        Pool(
            id: id, config: config, client: ScrapeClient(config: config),
            metrics: ScrapeMetrics(registry: registry, job: config.jobName, duplicates: duplicates),
            targetsGauge: registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "prometheus_target_scrape_pool_targets", unitName: "",
                    helpText: "Current number of targets in this scrape pool."),
                labels: [("scrape_job", config.jobName)]),
            discoveredGauge: registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "prometheus_sd_discovered_targets", unitName: "",
                    helpText: "Current number of discovered targets."),
                labels: [("config", config.jobName), ("name", "scrape")]))
    }

    private func makeDiscoverer(_ sd: KubernetesSDConfig) throws -> KubernetesDiscoverer {
        let registry = self.registry
        let role = sd.role.rawValue
        let failures = kubernetesFailures
        return try KubernetesDiscoverer(
            config: sd, transport: transport, logger: logger,
            onEvent: { event in
                registry.makeCounter(
                    descriptor: MetricNameDescriptor(
                        metricName: "prometheus_sd_kubernetes_events_total", unitName: "",
                        helpText: "The number of Kubernetes events handled."),
                    labels: [("role", role), ("event", event.rawValue)]
                ).increment()
            },
            onFailure: { _ in failures.increment() })
    }

    // MARK: Discovery results

    private func update(job: String, poolID: Int, provider: Int, groups: [TargetGroup], in group: inout DiscardingTaskGroup) {
        let changed = state.withLock { state -> Bool in
            guard var pool = state.pools[job], pool.id == poolID, pool.groups[provider] != groups else { return false }
            pool.groups[provider] = groups
            recompute(&pool)
            state.pools[job] = pool
            return true
        }
        if changed { syncLoops(in: &group) }
    }

    private func recompute(_ pool: inout Pool) {
        let groups = pool.groups.keys.sorted().flatMap { pool.groups[$0]! }
        pool.active = []
        pool.dropped = []
        var seen: Set<String> = []
        for outcome in Target.targets(for: pool.config, groups: groups) {
            switch outcome {
            case .active(let target):
                if seen.insert(target.id).inserted { pool.active.append(target) }
            case .dropped(let labels):
                pool.dropped.append(labels)
            }
        }
        pool.targetsGauge.set(Double(pool.active.count))
        pool.discoveredGauge.set(Double(pool.active.count + pool.dropped.count))
    }

    // MARK: Loops

    /// Starts and stops loops so that exactly the pools' active targets are scraped.
    private func syncLoops(in group: inout DiscardingTaskGroup) {
        var started: [(ScrapeLoop, RunningLoop)] = []
        let stopped = state.withLock { state -> [StopHandle] in
            var wanted: [String: (Target, Pool)] = [:]
            for pool in state.pools.values {
                for target in pool.active { wanted[target.id] = (target, pool) }
            }
            var stopped: [StopHandle] = []
            for (id, loop) in state.loops {
                if let (target, _) = wanted[id], target.config.fingerprint == loop.target.config.fingerprint,
                    target.interval == loop.target.interval, target.timeout == loop.target.timeout
                { continue }
                // Gone from discovery: its series go stale. Same target under a changed config: it
                // restarts and keeps its series, without markers.
                loop.removed.value.store(wanted[id] == nil, ordering: .relaxed)
                stopped.append(loop.handle)
                state.loops[id] = nil
                if wanted[id] == nil { reports.withLock { $0[id] = nil } }
            }
            for (id, (target, pool)) in wanted where state.loops[id] == nil {
                let loop = ScrapeLoop(
                    target: target, client: pool.client, wal: wal, transport: transport, clock: clock, metrics: pool.metrics,
                    logger: logger,
                    onReport: { [weak self] target, report in self?.reports.withLock { $0[target.id] = report } })
                let running = RunningLoop(target: target, handle: StopHandle(), removed: Atomic<Bool>.Box(false))
                state.loops[id] = running
                started.append((loop, running))
            }
            return stopped
        }
        for handle in stopped { handle.stop() }
        for (loop, running) in started {
            let (handle, removed) = (running.handle, running.removed)
            group.addTask {
                await handle.run { await loop.run(targetRemoved: { removed.value.load(ordering: .relaxed) }) }
            }
        }
    }
}

extension Atomic where Value == Bool {
    /// A shareable atomic flag.
    final class Box: Sendable {
        let value: Atomic<Bool>
        init(_ initial: Bool) { value = Atomic(initial) }
    }
}
