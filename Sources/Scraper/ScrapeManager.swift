import AgentConfig
import Curl
import Discovery
import Logging
import Model
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Keeps one scrape loop running per target of the current configuration. Targets come from
/// the ``DiscoveryManager`` (static configs, file and Kubernetes discovery), group by group; a
/// configuration applied later (a reload) keeps the loops of targets whose job did not change,
/// stops those of removed targets (their series get staleness markers) and starts new ones.
///
/// A discovery update costs in proportion to the groups it changes: only those groups are
/// relabeled, and only their targets' loops are started or stopped.
///
/// Per job, as Prometheus: more active targets than `target_limit` fail every scrape of the job
/// (counted in `prometheus_target_scrape_pool_exceeded_target_limit_total` each time discovery or
/// a reload leaves the job over its limit); at most `keep_dropped_targets` dropped targets are
/// kept for the targets API; `scrape_failure_log_file`s are opened anew at every configuration
/// applied.
///
/// Every loop and discovery provider is a child of the task group in ``run()``, stopped one by
/// one through its ``StopHandle``; stopping the service stops them all (scrapes in flight are
/// aborted, no staleness markers are written, as in Prometheus) and returns once every one has
/// returned. Reloads (``apply(_:)``) and discovery results reach the group's owner through one
/// command stream, so only ``run()`` starts and stops children.
public final class ScrapeManager: Service {
    private let wal: WriteAheadLog
    private let transport: HTTPTransport
    private let clock: any AgentClock
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let duplicates: Counter
    private let exceededTargetLimit: Counter
    private let pool: BlockingIOPool
    private let discovery: DiscoveryManager
    private let scheduler: ScrapeScheduler
    private let initialConfiguration: Configuration
    private let state = Mutex(State())
    private let reports = Mutex<[String: ScrapeReport]>([:])
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation

    private enum Command: Sendable {
        case apply(Configuration)
        case discovered([DiscoveryManager.Update])
    }

    /// A group of one of a pool's providers.
    private struct GroupKey: Hashable {
        var provider: DiscoveryManager.ProviderID
        var source: String
    }

    /// What relabeling made of one group's targets.
    private struct GroupTargets {
        var active: [Target] = []
        /// The first of the dropped targets, at most `keep_dropped_targets` (all if 0).
        var dropped: [DiscoveredTarget] = []
        var droppedCount = 0
    }

    /// One job's targets.
    private struct Pool {
        var config: ScrapeConfig
        var client: ScrapeClient
        var metrics: ScrapeMetrics
        /// Shared with the pool's loops: the `target_limit` verdict and the failure log.
        var control: ScrapePoolControl
        var targetsGauge: Gauge
        /// `prometheus_sd_discovered_targets`: active and dropped targets.
        var discoveredGauge: Gauge
        var groups: [GroupKey: GroupTargets] = [:]
        /// How many of the pool's groups have each active target (by id): a target is active while
        /// one group has it.
        var targetRefs: [String: Int] = [:]
        var droppedCount = 0

        var active: [Target] {
            var seen: Set<String> = []
            return groups.values.flatMap(\.active).filter { seen.insert($0.id).inserted }
        }

        /// The dropped targets kept for the targets API: at most `keep_dropped_targets` (all if 0).
        var dropped: [DiscoveredTarget] {
            let all = groups.values.lazy.flatMap(\.dropped)
            let keep = config.limits.keepDroppedTargets
            return keep > 0 ? Array(all.prefix(keep)) : Array(all)
        }

        /// Prometheus's `refreshTargetLimitErr`: with more active targets than `target_limit`,
        /// every scrape of the pool fails (and `exceeded` counts this verdict); otherwise none does.
        func refreshTargetLimit(exceeded: Counter) {
            let limit = config.limits.targetLimit
            guard limit > 0, targetRefs.count > limit else {
                control.forcedFailure = nil
                return
            }
            exceeded.increment()
            control.forcedFailure = "target_limit exceeded (number of targets: \(targetRefs.count), limit: \(limit))"
        }

        /// Replaces the targets of group `key` with `group`'s (none: the group is gone) and
        /// returns the targets that stopped and started being active in the pool.
        mutating func set(_ key: GroupKey, to group: TargetGroup?) -> (removed: [Target], added: [Target]) {
            var next = GroupTargets()
            let keep = config.limits.keepDroppedTargets
            if let group, !group.targets.isEmpty {
                for outcome in Target.targets(for: config, groups: [group]) {
                    switch outcome {
                    case .active(let target): next.active.append(target)
                    case .dropped(let target):
                        if keep == 0 || next.dropped.count < keep { next.dropped.append(target) }
                        next.droppedCount += 1
                    }
                }
            }
            let previous = groups[key] ?? GroupTargets()
            groups[key] = next.active.isEmpty && next.droppedCount == 0 ? nil : next
            droppedCount += next.droppedCount - previous.droppedCount
            var removed: [Target] = []
            var added: [Target] = []
            for target in previous.active {
                let count = targetRefs[target.id, default: 0] - 1
                targetRefs[target.id] = count > 0 ? count : nil
                if count <= 0 { removed.append(target) }
            }
            for target in next.active {
                let count = targetRefs[target.id, default: 0] + 1
                targetRefs[target.id] = count
                if count == 1 { added.append(target) }
            }
            targetsGauge.set(Double(targetRefs.count))
            discoveredGauge.set(Double(targetRefs.count + droppedCount))
            return (removed, added)
        }
    }

    private struct State {
        var pools: [String: Pool] = [:]
        /// The target of each scheduled loop, by id.
        var loops: [String: Target] = [:]
    }

    public init(
        configuration: Configuration, wal: WriteAheadLog, transport: HTTPTransport, pool: BlockingIOPool,
        registry: PrometheusCollectorRegistry, clock: any AgentClock = SystemClock(), logger: Logger
    ) {
        self.wal = wal
        self.transport = transport
        self.clock = clock
        self.registry = registry
        self.logger = logger
        self.duplicates = ScrapeMetrics.duplicatesCounter(registry: registry)
        self.pool = pool
        exceededTargetLimit = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "prometheus_target_scrape_pool_exceeded_target_limit_total", unitName: "",
                helpText: "Total number of times scrape pools hit the target limit, during sync or config reload."),
            labels: [])
        let kubernetesFailures = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "prometheus_sd_kubernetes_failures_total", unitName: "",
                helpText: "The number of failed Kubernetes lists and watches (each is retried)."),
            labels: [])
        initialConfiguration = configuration
        scheduler = ScrapeScheduler(clock: clock)
        let (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
        (self.commands, self.commandSink) = (commands, commandSink)
        discovery = DiscoveryManager(
            transport: transport, pool: pool, clock: clock, logger: logger,
            onKubernetesEvent: { kind, event in
                registry.makeCounter(
                    descriptor: MetricNameDescriptor(
                        metricName: "prometheus_sd_kubernetes_events_total", unitName: "",
                        helpText: "The number of Kubernetes events handled."),
                    labels: [("role", kind), ("event", event.rawValue)]
                ).increment()
            },
            onKubernetesFailure: { kubernetesFailures.increment() },
            counters: DiscoveryCounters(registry: registry),
            deliver: { commandSink.yield(.discovered($0)) })
    }

    /// Every active target with its last scrape, if it has been scraped.
    public var targetStatus: [(target: Target, lastScrape: ScrapeReport?)] {
        let reports = self.reports.withLock { $0 }
        let targets = state.withLock { $0.pools.values.flatMap(\.active) }.sorted { $0.job == $1.job ? $0.url < $1.url : $0.job < $1.job }
        return targets.map { ($0, reports[$0.id]) }
    }

    /// The targets relabeling dropped (their discovered labels are built when read), at most
    /// `keep_dropped_targets` per job.
    public var droppedTargets: [DiscoveredTarget] {
        state.withLock { state in state.pools.values.flatMap(\.dropped) }
    }

    /// Applies a configuration (a reload): unchanged jobs keep their pools and loops; changed,
    /// new and removed jobs are rebuilt, started and stopped by the run loop.
    public func apply(_ configuration: Configuration) {
        commandSink.yield(.apply(configuration))
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            let discoveryHandle = StopHandle()
            let schedulerHandle = StopHandle()
            group.addTask { [discovery] in await discoveryHandle.run { await discovery.run() } }
            group.addTask { [scheduler] in await schedulerHandle.run { await scheduler.run() } }
            group.addTask { [commandSink] in
                try? await gracefulShutdown()
                commandSink.finish()
            }
            await apply(initialConfiguration, in: &group)
            for await command in commands {
                switch command {
                case .apply(let configuration):
                    await apply(configuration, in: &group)
                case .discovered(let updates):
                    update(updates)
                }
            }
            // Shutdown: no staleness markers (as in Prometheus); scrapes in flight are aborted.
            // Stopping the providers' jobs stops the providers.
            _ = await discovery.apply([], in: &group)
            discoveryHandle.stop()
            schedulerHandle.stop()
            state.withLock { $0.loops = [:] }
        }
        logger.info("scraping stopped")
    }

    // MARK: Applying configurations

    private func apply(_ configuration: Configuration, in group: inout DiscardingTaskGroup) async {
        let failureLogs = await openFailureLogs(for: configuration)
        let newJobs = state.withLock { state -> Set<String> in
            let wanted = Dictionary(uniqueKeysWithValues: configuration.scrapeConfigs.map { ($0.jobName, $0) })
            for (job, pool) in state.pools where wanted[job]?.fingerprint != pool.config.fingerprint {
                pool.targetsGauge.set(0.0)
                pool.discoveredGauge.set(0.0)
                state.pools[job] = nil
            }
            var created: Set<String> = []
            for config in configuration.scrapeConfigs where state.pools[config.jobName] == nil {
                state.pools[config.jobName] = makePool(config)
                created.insert(config.jobName)
            }
            // Every job, changed or not, writes to the files opened for this configuration.
            for pool in state.pools.values { pool.control.failureLog = pool.config.scrapeFailureLogFile.flatMap { failureLogs[$0] } }
            return created
        }
        let known = await discovery.apply(
            configuration.scrapeConfigs.map { ($0.jobName, DiscoveryConfig.configs(of: $0)) }, in: &group)
        state.withLock { state in
            for job in newJobs {
                for (provider, groups) in known[job] ?? [:] {
                    for group in groups { _ = state.pools[job]!.set(GroupKey(provider: provider, source: group.source), to: group) }
                }
                state.pools[job]!.refreshTargetLimit(exceeded: exceededTargetLimit)
            }
        }
        syncLoops()
    }

    /// Opens each `scrape_failure_log_file` of `configuration` once (jobs naming the same file
    /// share it), on the blocking-I/O pool. A file that cannot be opened is logged as an error
    /// and its jobs' failures go unlogged.
    private func openFailureLogs(for configuration: Configuration) async -> [String: ScrapeFailureLog] {
        var logs: [String: ScrapeFailureLog] = [:]
        for path in Set(configuration.scrapeConfigs.compactMap(\.scrapeFailureLogFile)) {
            do {
                logs[path] = try await ScrapeFailureLog.open(path: path, pool: pool, logger: logger)
            } catch {
                logger.error("cannot open the scrape failure log; failures of its jobs are not logged", metadata: [
                    "file": "\(path)", "error": "\(error)",
                ])
            }
        }
        return logs
    }

    private func makePool(_ config: ScrapeConfig) -> Pool {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "prometheus_target_scrape_pool_target_limit", unitName: "",
                helpText: "Maximum number of targets allowed in this scrape pool."),
            labels: [("scrape_job", config.jobName)]
        ).set(Double(config.limits.targetLimit))
        return Pool(
            config: config, client: ScrapeClient(config: config, transport: transport, clock: clock),
            metrics: ScrapeMetrics(registry: registry, job: config.jobName, duplicates: duplicates), control: ScrapePoolControl(),
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

    // MARK: Discovery results

    /// Applies changed groups: only their targets are relabeled, and only loops of targets that
    /// left or arrived are stopped or started.
    private func update(_ updates: [DiscoveryManager.Update]) {
        var removed: [Target] = []
        var added: [Target] = []
        state.withLock { state in
            var touched: Set<String> = []
            for update in updates {
                guard state.pools[update.job] != nil else { continue }
                touched.insert(update.job)
                for changed in update.groups {
                    let key = GroupKey(provider: update.provider, source: changed.source)
                    let (gone, new) = state.pools[update.job]!.set(key, to: changed)
                    removed += gone
                    added += new
                }
            }
            for job in touched { state.pools[job]!.refreshTargetLimit(exceeded: exceededTargetLimit) }
        }
        guard !removed.isEmpty || !added.isEmpty else { return }
        startAndStop(removed: removed, added: added)
    }

    // MARK: Loops

    /// Starts and stops loops so that exactly the pools' active targets are scraped (after a
    /// configuration was applied).
    private func syncLoops() {
        state.withLock { state in
            var wanted: [String: Target] = [:]
            for pool in state.pools.values {
                for target in pool.active where wanted[target.id] == nil { wanted[target.id] = target }
            }
            for id in state.loops.keys where wanted[id] == nil { stopLoop(id, targetLeft: true, in: &state) }
            for target in wanted.values { reconcile(target, in: &state) }
        }
    }

    /// Stops the loops of targets that left their pool and starts those of targets that arrived.
    private func startAndStop(removed: [Target], added: [Target]) {
        state.withLock { state in
            let arrived = Set(added.map(\.id))
            for target in removed where !arrived.contains(target.id) { stopLoop(target.id, targetLeft: true, in: &state) }
            for target in added { reconcile(target, in: &state) }
        }
    }

    /// Stops a target's loop: with staleness markers when the target left discovery, without
    /// when the same target restarts under a changed configuration (it keeps its series).
    private func stopLoop(_ id: String, targetLeft: Bool, in state: inout State) {
        guard state.loops.removeValue(forKey: id) != nil else { return }
        scheduler.remove(id, stale: targetLeft)
        if targetLeft { reports.withLock { $0[id] = nil } }
    }

    /// Makes `target`'s loop run with its current configuration: kept if it does, restarted if
    /// its configuration, interval or timeout changed, started if there is none.
    private func reconcile(_ target: Target, in state: inout State) {
        if let running = state.loops[target.id] {
            if target.config.fingerprint == running.config.fingerprint, target.interval == running.interval,
                target.timeout == running.timeout
            { return }
            stopLoop(target.id, targetLeft: false, in: &state)
        }
        guard let pool = state.pools[target.job] else { return }
        scheduler.add(
            ScrapeLoop(
                target: target, client: pool.client, wal: wal, transport: transport, clock: clock, metrics: pool.metrics,
                control: pool.control, logger: logger,
                onReport: { [weak self] target, report in self?.reports.withLock { $0[target.id] = report } }))
        state.loops[target.id] = target
    }
}
