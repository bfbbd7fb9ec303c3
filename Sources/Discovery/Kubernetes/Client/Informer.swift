import Logging
import Synchronization

/// Exponential backoff between failed attempts: `initial`, doubled per consecutive failure,
/// at most `maximum`. The sleep is injectable so tests need not wait.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    /// Sleeps for the given duration; throws `CancellationError` when the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(
        initial: Duration = .seconds(1), maximum: Duration = .seconds(30),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.initial = initial
        self.maximum = maximum
        self.sleep = sleep
    }

    /// The delay after `failures` consecutive failures (1 → `initial`).
    public func delay(afterFailures failures: Int) -> Duration {
        var delay = initial
        for _ in 1..<max(1, failures) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }
}

/// What an informer saw, for self-metrics: Prometheus's
/// `prometheus_sd_kubernetes_events_total{role, event="add|update|delete"}`.
public enum InformerEventKind: String, Sendable, CaseIterable {
    case add, update, delete
}

/// Keeps a local copy of a collection up to date: lists it, then watches from the list's
/// resource version, applying each event.
///
/// - A watch that ends normally (the server's timeout) is resumed at once from the last
///   resource version seen (events and bookmarks advance it).
/// - A 410 Gone (the version was compacted) lists again.
/// - Any other failure (connection refused or broken, error status, 401 after re-reading the
///   token) is retried after an exponential ``Backoff`` (1 s doubling to 30 s by default):
///   a failed watch is resumed from the last version, a failed list is listed again.
/// - A failure never empties the store: the informer keeps serving its last state,
///   records ``lastError`` and reports it to `onFailure`.
///
/// The store is keyed by `namespace/name` (`name` for cluster-scoped objects).
///
/// Callbacks (`onChange`, `onChanges`, `onEvent`, `onFailure`) are called one at a time and in
/// order, from the task running ``run()``; they must return quickly (hand the snapshot to a
/// stream or a task). After every list and every batch of watch events that changed the store
/// (bookmarks alone call neither), `onChanges` gets what changed (a list: an upsert per item and
/// a delete per key it no longer has) and `onChange` the whole store.
public final class Informer<Object: KubernetesResource>: Sendable {
    public typealias Store = [String: Object]

    private struct State {
        var store: Store = [:]
        var resourceVersion: String?
        var hasSynced = false
        var lastError: (any Error)?
        var lists = 0
    }

    private let client: KubernetesClient
    private let namespace: String?
    private let labelSelector: String?
    private let fieldSelector: String?
    private let backoff: Backoff
    private let watchTimeout: @Sendable () -> Duration
    private let logger: Logger
    private let onChange: @Sendable (Store) -> Void
    private let onChanges: @Sendable ([InformerChange<Object>]) -> Void
    private let onEvent: @Sendable (InformerEventKind) -> Void
    private let onFailure: @Sendable (any Error) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - namespace: One namespace, or `nil` for all.
    ///   - watchTimeout: The `timeoutSeconds` asked for each watch; the default is random
    ///     between 5 and 10 minutes, as client-go does, so many agents do not reconnect at once.
    ///   - onChange: The whole store after each applied list or event batch.
    ///   - onChanges: What each applied list or event batch changed.
    ///   - onEvent: One call per applied add/update/delete (a list counts as adds, updates and
    ///     deletes against the previous store), for the events counter.
    ///   - onFailure: Every failed list or watch (the informer retries by itself).
    public init(
        client: KubernetesClient, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        backoff: Backoff = Backoff(),
        watchTimeout: @escaping @Sendable () -> Duration = { .seconds(Int.random(in: 300...600)) },
        logger: Logger = Logger(label: "kubernetes.informer"),
        onChange: @escaping @Sendable (Store) -> Void = { _ in },
        onChanges: @escaping @Sendable ([InformerChange<Object>]) -> Void = { _ in },
        onEvent: @escaping @Sendable (InformerEventKind) -> Void = { _ in },
        onFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.backoff = backoff
        self.watchTimeout = watchTimeout
        self.logger = logger
        self.onChange = onChange
        self.onChanges = onChanges
        self.onEvent = onEvent
        self.onFailure = onFailure
    }

    /// The current store.
    public var store: Store { state.withLock { $0.store } }
    /// The resource version the next watch resumes from (`nil` before the first list).
    public var resourceVersion: String? { state.withLock { $0.resourceVersion } }
    /// Whether a list has succeeded at least once.
    public var hasSynced: Bool { state.withLock { $0.hasSynced } }
    /// The last failure, cleared by the next successful list or watch start.
    public var lastError: (any Error)? { state.withLock { $0.lastError } }
    /// How many lists succeeded (1 + relists).
    public var listCount: Int { state.withLock { $0.lists } }

    /// Lists and watches until the task is cancelled. Never throws: failures are retried.
    public func run() async {
        var failures = 0
        list: while !Task.isCancelled {
            // List.
            do {
                let list = try await client.list(
                    Object.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
                replace(with: list)
                failures = 0
            } catch {
                if Task.isCancelled { return }
                failures += 1
                report(error, during: "list")
                guard await pause(failures) else { return }
                continue list
            }

            // Watch until a 410 or cancellation.
            while !Task.isCancelled {
                guard let version = resourceVersion else { continue list }
                let started = ContinuousClock.now
                let delivered = Atomic<Int>(0)
                do {
                    try await client.watch(
                        Object.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
                        resourceVersion: version, timeout: watchTimeout(),
                        onOpen: { [self] in state.withLock { $0.lastError = nil } },
                        onEvents: { [self] events in
                            delivered.add(events.count, ordering: .relaxed)
                            apply(events)
                        })
                    // The server ended the watch (its timeout): resume at once, unless it ends
                    // watches straight away, which would make a busy loop.
                    if delivered.load(ordering: .relaxed) > 0 || ContinuousClock.now - started >= .seconds(1) {
                        failures = 0
                    } else {
                        failures += 1
                        guard await pause(failures) else { return }
                    }
                } catch is CancellationError {
                    return
                } catch KubernetesClientError.gone(let message) {
                    logger.debug("watch expired, listing again", metadata: ["message": "\(message)"])
                    continue list
                } catch {
                    if Task.isCancelled { return }
                    if delivered.load(ordering: .relaxed) > 0 { failures = 0 }
                    failures += 1
                    report(error, during: "watch")
                    guard await pause(failures) else { return }
                }
            }
        }
    }

    /// Sleeps the backoff for `failures`; false when cancelled.
    private func pause(_ failures: Int) async -> Bool {
        do {
            try await backoff.sleep(backoff.delay(afterFailures: failures))
            return !Task.isCancelled
        } catch {
            return false
        }
    }

    private func report(_ error: any Error, during operation: String) {
        logger.debug("Kubernetes \(operation) failed", metadata: [
            "resource": "\(Object.self)", "error": "\(error)",
        ])
        state.withLock { $0.lastError = error }
        onFailure(error)
    }

    private static func key(_ object: Object) -> String {
        let metadata = object.metadata
        if let namespace = metadata.namespace, !namespace.isEmpty { return "\(namespace)/\(metadata.name)" }
        return metadata.name
    }

    /// Replaces the store with a list's items.
    private func replace(with list: KubernetesList<Object>) {
        var kinds: [InformerEventKind] = []
        var changes: [InformerChange<Object>] = []
        changes.reserveCapacity(list.items.count)
        let snapshot = state.withLock { state -> Store in
            var store = Store(minimumCapacity: list.items.count)
            for item in list.items {
                let key = Self.key(item)
                kinds.append(state.store[key] == nil ? .add : .update)
                changes.append(.upsert(key: key, item))
                store[key] = item
            }
            for key in state.store.keys where store[key] == nil {
                kinds.append(.delete)
                changes.append(.delete(key: key))
            }
            state.store = store
            state.resourceVersion = list.metadata.resourceVersion ?? state.resourceVersion
            state.hasSynced = true
            state.lastError = nil
            state.lists += 1
            return store
        }
        kinds.forEach(onEvent)
        onChanges(changes)
        onChange(snapshot)
    }

    /// Applies a batch of watch events.
    private func apply(_ events: [WatchEvent<Object>]) {
        var kinds: [InformerEventKind] = []
        var changes: [InformerChange<Object>] = []
        let snapshot = state.withLock { state -> Store? in
            for event in events {
                switch event {
                case .added(let object), .modified(let object):
                    let key = Self.key(object)
                    kinds.append(state.store[key] == nil ? .add : .update)
                    changes.append(.upsert(key: key, object))
                    state.store[key] = object
                case .deleted(let object):
                    let key = Self.key(object)
                    if state.store.removeValue(forKey: key) != nil {
                        kinds.append(.delete)
                        changes.append(.delete(key: key))
                    }
                case .bookmark:
                    break
                }
                if let version = event.resourceVersion { state.resourceVersion = version }
            }
            return kinds.isEmpty && !events.contains(where: { $0.object != nil }) ? nil : state.store
        }
        kinds.forEach(onEvent)
        guard let snapshot else { return }
        if !changes.isEmpty { onChanges(changes) }
        onChange(snapshot)
    }
}
