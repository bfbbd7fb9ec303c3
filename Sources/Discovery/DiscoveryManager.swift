import AgentConfig
import Logging
import Model
import Synchronization
import Curl
import WAL

/// Runs the discovery providers of every job and hands their target groups to the scrape side,
/// as Prometheus's `discovery.Manager` does:
///
/// - One provider per distinct ``DiscoveryConfig``, shared by every job that uses it; a reload
///   keeps the providers of unchanged configs running (no relist) and stops those no job uses.
/// - Kubernetes providers share informers (``SharedInformers``): one LIST/WATCH per distinct API
///   server, credentials, resource, namespace and selectors.
/// - Updates go out per job and per group (only the groups that changed). A provider's first
///   report goes out at once; after that, changes are coalesced and delivered at most once per
///   `updateInterval` (Prometheus: 5 s), so a rollout does not restart loops one by one.
///
/// Providers run as children of the task group given to ``apply(_:in:)`` (the scrape manager's),
/// the informers and the coalescing loop in ``run()``, which the owner runs alongside.
public final class DiscoveryManager: Sendable {
    /// Identifies a provider for as long as it runs.
    public struct ProviderID: Hashable, Comparable, Sendable {
        public let value: Int
        public static func < (lhs: ProviderID, rhs: ProviderID) -> Bool { lhs.value < rhs.value }
    }

    /// Groups of one provider for one job: the groups that changed (an empty group: its source is gone).
    public struct Update: Sendable, Equatable {
        public var job: String
        public var provider: ProviderID
        public var groups: [TargetGroup]
    }

    private struct Provider {
        var config: DiscoveryConfig
        var jobs: Set<String>
        var handle = StopHandle()
        /// The provider's current groups by source (none empty), for jobs that join later.
        var groups: [String: TargetGroup] = [:]
        /// Whether it has reported once (later reports are coalesced).
        var hasReported = false
    }

    private struct State {
        var providers: [ProviderID: Provider] = [:]
        var nextID = 0
        /// Changed groups not yet delivered, by provider and source.
        var pending: [ProviderID: [String: TargetGroup]] = [:]
    }

    public let informers: SharedInformers
    private let transport: HTTPTransport
    private let dnsEventLoop = DNSEventLoop()
    private let counters: DiscoveryCounters
    private let pool: BlockingIOPool
    private let clock: any AgentClock
    private let updateInterval: Duration
    private let logger: Logger
    private let onKubernetesFailure: @Sendable () -> Void
    private let deliver: @Sendable ([Update]) -> Void
    private let state = Mutex(State())
    private let flushes: AsyncStream<Void>
    private let flushSink: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - deliver: Receives the updates, one call at a time, in order; must return quickly.
    ///   - onKubernetesEvent, onKubernetesFailure: For `prometheus_sd_kubernetes_events_total`
    ///     and `prometheus_sd_kubernetes_failures_total`.
    ///   - counters: For the HTTP and DNS providers' counters.
    public init(
        transport: HTTPTransport, pool: BlockingIOPool, clock: any AgentClock, updateInterval: Duration = .seconds(5),
        logger: Logger,
        onKubernetesEvent: @escaping @Sendable (_ kind: String, InformerEventKind) -> Void = { _, _ in },
        onKubernetesFailure: @escaping @Sendable () -> Void = {},
        counters: DiscoveryCounters = DiscoveryCounters(),
        deliver: @escaping @Sendable ([Update]) -> Void
    ) {
        self.transport = transport
        self.counters = counters
        self.pool = pool
        self.clock = clock
        self.updateInterval = updateInterval
        self.logger = logger
        self.onKubernetesFailure = onKubernetesFailure
        self.deliver = deliver
        informers = SharedInformers(
            transport: transport, logger: logger, onEvent: onKubernetesEvent, onFailure: { _, _ in onKubernetesFailure() })
        (flushes, flushSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// How many providers run.
    public var providerCount: Int { state.withLock { $0.providers.count } }

    /// How many changed groups wait for the next coalesced delivery.
    var pendingGroupCount: Int { state.withLock { $0.pending.values.reduce(0) { $0 + $1.count } } }

    /// Runs the shared informers and delivers coalesced updates until the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.informers.run() }
            group.addTask {
                for await _ in self.flushes {
                    self.flush()
                    // At most one coalesced delivery per interval.
                    guard (try? await self.clock.sleep(for: self.updateInterval)) != nil else { return }
                }
            }
        }
    }

    // MARK: Configuration

    /// Makes the providers match `jobs`: each job subscribes to the provider of each of its
    /// configs (started when new); providers no job uses any more are stopped. Static groups and
    /// the first read of files are taken here, so a new job starts with them.
    ///
    /// - Returns: For every job, the groups its providers know now, by provider.
    public func apply(
        _ jobs: [(job: String, configs: [DiscoveryConfig])], in group: inout DiscardingTaskGroup
    ) async -> [String: [ProviderID: [TargetGroup]]] {
        var started: [(ProviderID, DiscoveryConfig)] = []
        let stopped = state.withLock { state -> [StopHandle] in
            var wanted: [ProviderID: Set<String>] = [:]
            for (job, configs) in jobs {
                for config in configs {
                    let id = state.providers.first { $0.value.config == config }?.key ?? {
                        let id = ProviderID(value: state.nextID)
                        state.nextID += 1
                        state.providers[id] = Provider(config: config, jobs: [])
                        started.append((id, config))
                        return id
                    }()
                    wanted[id, default: []].insert(job)
                }
            }
            var stopped: [StopHandle] = []
            for (id, provider) in state.providers {
                if let jobs = wanted[id] {
                    state.providers[id]!.jobs = jobs
                } else {
                    stopped.append(provider.handle)
                    state.providers[id] = nil
                    state.pending[id] = nil
                }
            }
            return stopped
        }
        stopped.forEach { $0.stop() }

        // Static groups and the first read of files.
        var discoverers: [(ProviderID, any Discoverer)] = []
        for (id, config) in started {
            switch config {
            case .static(let groups):
                record(initial: groups, for: id)
            case .file(let fileSD):
                let discovery = FileDiscovery(files: fileSD.files, refreshInterval: fileSD.refreshInterval, logger: logger)
                let first = (try? await pool.run { discovery.refresh() }) ?? []
                record(initial: first, for: id)
                discoverers.append((id, FileDiscoverer(discovery: discovery, initial: first, clock: clock, pool: pool)))
            case .kubernetes(let sd):
                do {
                    discoverers.append((id, try KubernetesDiscoverer(config: sd, informers: informers)))
                } catch {
                    onKubernetesFailure()
                    logger.error("cannot start kubernetes discovery", metadata: [
                        "role": "\(sd.role.rawValue)", "error": "\(error)",
                    ])
                }
            case .http(let sd):
                discoverers.append(
                    (id, HTTPDiscoverer(config: sd, transport: transport, clock: clock, logger: logger, onFailure: counters.httpFailure)))
            case .dns(let sd):
                discoverers.append((id, DNSDiscoverer(config: sd, pool: pool, eventLoop: dnsEventLoop, clock: clock, logger: logger, counters: counters)))
            }
        }
        for (id, discoverer) in discoverers {
            guard let handle = state.withLock({ $0.providers[id]?.handle }) else { continue }
            group.addTask { [self] in
                await handle.run { await discoverer.run { [self] groups in received(groups, from: id) } }
            }
        }

        return state.withLock { state in
            var known: [String: [ProviderID: [TargetGroup]]] = [:]
            for (job, _) in jobs { known[job] = [:] }
            for (id, provider) in state.providers where !provider.groups.isEmpty {
                let groups = provider.groups.values.sorted { $0.source < $1.source }
                for job in provider.jobs { known[job]![id] = groups }
            }
            return known
        }
    }

    private func record(initial groups: [TargetGroup], for id: ProviderID) {
        state.withLock { state in
            guard state.providers[id] != nil else { return }
            for group in groups where !group.targets.isEmpty { state.providers[id]!.groups[group.source] = group }
            state.providers[id]!.hasReported = true
        }
    }

    // MARK: Updates

    /// A provider's report: delivered at once if it is its first, else coalesced.
    private func received(_ groups: [TargetGroup], from id: ProviderID) {
        let signal = state.withLock { state -> Bool in
            guard var provider = state.providers[id] else { return false }
            for group in groups {
                provider.groups[group.source] = group.targets.isEmpty ? nil : group
            }
            defer { state.providers[id] = provider }
            if !provider.hasReported {
                provider.hasReported = true
                // Delivered under the lock, so that deliveries keep the order of reports.
                deliver(provider.jobs.sorted().map { Update(job: $0, provider: id, groups: groups) })
                return false
            }
            for group in groups { state.pending[id, default: [:]][group.source] = group }
            return true
        }
        if signal { flushSink.yield() }
    }

    /// Delivers every pending change.
    private func flush() {
        state.withLock { state in
            var updates: [Update] = []
            for (id, changed) in state.pending.sorted(by: { $0.key < $1.key }) {
                guard let provider = state.providers[id] else { continue }
                let groups = changed.values.sorted { $0.source < $1.source }
                for job in provider.jobs.sorted() { updates.append(Update(job: job, provider: id, groups: groups)) }
            }
            state.pending = [:]
            if !updates.isEmpty { deliver(updates) }
        }
    }
}
