import AgentConfig
import Curl
import KubernetesDiscovery
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Keeps one scrape loop running per target of the current configuration. Targets come from
/// each job's static configs and file discovery; a configuration applied later (a reload) keeps
/// the loops of targets whose job did not change, stops those of removed targets (their series
/// get staleness markers) and starts new ones.
public final class ScrapeManager: Service {
    private let wal: WriteAheadLog
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let threadPool: NIOThreadPool
    /// Carries Kubernetes discovery's lists and watches (to be shared with scrapes by the integrator).
    private let transport = HTTPTransport()
    private let duplicates: Counter
    private let kubernetesFailures: Counter
    private let state = Mutex(State())
    private let reports = Mutex<[String: ScrapeReport]>([:])

    /// One job's targets and what discovers them.
    private struct Pool {
        var config: ScrapeConfig
        var client: ScrapeClient
        var metrics: ScrapeMetrics
        var targetsGauge: Gauge
        /// `prometheus_sd_discovered_targets`: active and dropped targets.
        var discoveredGauge: Gauge
        /// Target groups by provider (0: static configs, 1…: file_sd_configs).
        var groups: [Int: [TargetGroup]] = [:]
        var discovery: [Task<Void, Never>] = []
        var active: [Target] = []
        var dropped: [Labels] = []
    }

    /// A running loop, and the flag that tells it whether its target left (stale markers) or
    /// the agent is stopping or reconfiguring it (none).
    private struct RunningLoop {
        var target: Target
        var task: Task<Void, Never>
        var removed: Atomic<Bool>.Box
    }

    private struct State {
        var pools: [String: Pool] = [:]
        var loops: [String: RunningLoop] = [:]
        var running = false
        var stopped = false
    }

    public init(configuration: Configuration, wal: WriteAheadLog, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.wal = wal
        self.registry = registry
        self.logger = logger
        self.duplicates = ScrapeMetrics.duplicatesCounter(registry: registry)
        self.kubernetesFailures = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "prometheus_sd_kubernetes_failures_total", unitName: "",
                helpText: "The number of failed Kubernetes lists and watches (each is retried)."),
            labels: [])
        let targetCount = configuration.scrapeConfigs.reduce(0) { $0 + $1.staticConfigs.reduce(0) { $0 + $1.targets.count } }
        // Scrapes block a thread for their HTTP transfer, so they run on a pool of their own.
        self.threadPool = NIOThreadPool(numberOfThreads: max(4, min(64, targetCount)))
        state.withLock { $0.pools = [:] }
        pendingConfiguration = configuration
    }

    private let pendingConfiguration: Configuration

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

    public func run() async throws {
        threadPool.start()
        state.withLock { $0.running = true }
        apply(pendingConfiguration)
        try? await gracefulShutdown()
        // Shutdown: no staleness markers (as in Prometheus); every loop ends after its current scrape.
        let (loops, discovery) = state.withLock { state -> ([RunningLoop], [Task<Void, Never>]) in
            state.stopped = true
            defer { state.loops = [:] }
            return (Array(state.loops.values), state.pools.values.flatMap(\.discovery))
        }
        for task in discovery { task.cancel() }
        for loop in loops { loop.task.cancel() }
        for loop in loops { await loop.task.value }
        try await threadPool.shutdownGracefully()
        logger.info("scraping stopped")
    }

    /// Applies a configuration: unchanged jobs keep their pools (and loops); changed, new and
    /// removed jobs are rebuilt, started and stopped.
    public func apply(_ configuration: Configuration) {
        var started: [(job: String, index: Int, discovery: FileDiscovery)] = []
        var kubernetes: [(job: String, index: Int, discoverer: KubernetesDiscoverer)] = []
        state.withLock { state in
            guard !state.stopped else { return }
            let wanted = Dictionary(uniqueKeysWithValues: configuration.scrapeConfigs.map { ($0.jobName, $0) })
            for (job, pool) in state.pools where wanted[job]?.fingerprint != pool.config.fingerprint || wanted[job] == nil {
                for task in pool.discovery { task.cancel() }
                pool.targetsGauge.set(0.0)
                pool.discoveredGauge.set(0.0)
                state.pools[job] = nil
            }
            for config in configuration.scrapeConfigs where state.pools[config.jobName] == nil {
                var pool = Pool(
                    config: config, client: ScrapeClient(config: config),
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
                pool.groups[0] = Target.staticGroups(of: config)
                for (index, fileSD) in config.fileSDConfigs.enumerated() {
                    started.append((config.jobName, index + 1, FileDiscovery(files: fileSD.files, refreshInterval: fileSD.refreshInterval, logger: logger)))
                }
                for (index, sd) in config.kubernetesSDConfigs.enumerated() {
                    do {
                        kubernetes.append((config.jobName, Self.kubernetesProviderBase + index, try makeDiscoverer(sd)))
                    } catch {
                        kubernetesFailures.increment()
                        logger.error(
                            "cannot start kubernetes discovery", metadata: ["job": "\(config.jobName)", "role": "\(sd.role.rawValue)", "error": "\(error)"])
                    }
                }
                state.pools[config.jobName] = pool
            }
            for (job, var pool) in state.pools {
                // File discovery's first read happens here, so a new job starts with its targets.
                for entry in started where entry.job == job {
                    pool.groups[entry.index] = entry.discovery.refresh()
                }
                recompute(&pool)
                state.pools[job] = pool
            }
            sync(&state)
        }
        for entry in started {
            track(job: entry.job) { [self] in
                await entry.discovery.run { groups in self.update(job: entry.job, provider: entry.index, groups: groups) }
            }
        }
        for entry in kubernetes {
            track(job: entry.job) { [self] in
                await entry.discoverer.run { groups in
                    self.update(
                        job: entry.job, provider: entry.index,
                        groups: groups.map { TargetGroup(source: $0.source, targetLabels: $0.targets, labels: $0.labels) })
                }
            }
        }
    }

    /// Provider numbers of Kubernetes discovery (after static 0 and file discovery 1…).
    private static let kubernetesProviderBase = 10_000

    /// Runs a discovery task for as long as its job's pool exists.
    private func track(job: String, _ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        let kept = state.withLock { state -> Bool in
            guard state.pools[job] != nil, !state.stopped else { return false }
            state.pools[job]!.discovery.append(task)
            return true
        }
        if !kept { task.cancel() }
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

    /// New target groups from a discovery provider.
    private func update(job: String, provider: Int, groups: [TargetGroup]) {
        state.withLock { state in
            guard var pool = state.pools[job], !state.stopped else { return }
            guard pool.groups[provider] != groups else { return }
            pool.groups[provider] = groups
            recompute(&pool)
            state.pools[job] = pool
            sync(&state)
        }
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

    /// Starts and stops loops so that exactly the pools' active targets are scraped.
    private func sync(_ state: inout State) {
        guard state.running, !state.stopped else { return }
        var wanted: [String: (Target, Pool)] = [:]
        for pool in state.pools.values {
            for target in pool.active { wanted[target.id] = (target, pool) }
        }
        for (id, loop) in state.loops {
            if let (target, _) = wanted[id], target.config.fingerprint == loop.target.config.fingerprint,
                target.interval == loop.target.interval, target.timeout == loop.target.timeout
            { continue }
            // Gone from discovery: its series go stale. Same target under a changed config: it
            // restarts and keeps its series, without markers.
            loop.removed.value.store(wanted[id] == nil, ordering: .relaxed)
            loop.task.cancel()
            state.loops[id] = nil
            if wanted[id] == nil { reports.withLock { $0[id] = nil } }
        }
        for (id, (target, pool)) in wanted where state.loops[id] == nil {
            let loop = ScrapeLoop(
                target: target, client: pool.client, wal: wal, threadPool: threadPool, metrics: pool.metrics, logger: logger,
                onReport: { [weak self] target, report in self?.reports.withLock { $0[target.id] = report } })
            let removed = Atomic<Bool>.Box(false)
            let task = Task { await loop.run(targetRemoved: { removed.value.load(ordering: .relaxed) }) }
            state.loops[id] = RunningLoop(target: target, task: task, removed: removed)
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
