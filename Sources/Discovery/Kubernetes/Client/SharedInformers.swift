import Logging
import Model
import Synchronization
import Curl

/// The informers of every Kubernetes discoverer: one per distinct ``InformerKey``, shared by all
/// subscribers (the pod job and the endpointslice job list and watch pods once), started by the
/// first subscription and stopped when the last one is cancelled.
///
/// The informers run as children of ``run()``, which the owner runs for as long as discovery runs;
/// subscriptions made before it starts begin when it does.
///
/// A subscriber's handler first gets the informer's whole store as upserts, once the informer has
/// listed (at once if it already has; an empty collection gives an empty batch), then every
/// change. Handlers of one informer are called one at a time, in order, and must return quickly.
public final class SharedInformers: Sendable {
    private let transport: HTTPTransport
    private let logger: Logger
    private let onEvent: @Sendable (_ kind: String, InformerEventKind) -> Void
    private let onFailure: @Sendable (InformerKey, any Error) -> Void
    private let entries = Mutex<[InformerKey: any SharedInformerEntry]>([:])
    private let starts: AsyncStream<any SharedInformerEntry>
    private let startSink: AsyncStream<any SharedInformerEntry>.Continuation

    /// - Parameters:
    ///   - onEvent: Every add/update/delete an informer applies, with the resource's kind.
    ///   - onFailure: Every failed list or watch (informers retry by themselves).
    public init(
        transport: HTTPTransport, logger: Logger,
        onEvent: @escaping @Sendable (_ kind: String, InformerEventKind) -> Void = { _, _ in },
        onFailure: @escaping @Sendable (InformerKey, any Error) -> Void = { _, _ in }
    ) {
        self.transport = transport
        self.logger = logger
        self.onEvent = onEvent
        self.onFailure = onFailure
        (starts, startSink) = AsyncStream.makeStream()
    }

    /// How many informers run (for tests and self-metrics).
    public var count: Int { entries.withLock { $0.count } }

    /// Runs the informers until the task is cancelled.
    public func run() async {
        // Cancellation ends the stream's iteration and, through the group, every informer.
        await withDiscardingTaskGroup { group in
            for await entry in starts {
                group.addTask { await entry.run() }
            }
        }
    }

    /// Subscribes `handler` to the objects of `key`'s informer (starting it if it is the first).
    public func subscribe<Object: KubernetesResource>(
        _ type: Object.Type, key: InformerKey, handler: @escaping @Sendable ([InformerChange<Object>]) -> Void
    ) -> InformerSubscription {
        let (entry, isNew) = entries.withLock { entries -> (SharedInformer<Object>, Bool) in
            if let existing = entries[key] as? SharedInformer<Object> { return (existing, false) }
            let created = SharedInformer<Object>(key: key, client: KubernetesClient(config: key.api, transport: transport),
                logger: logger, onEvent: onEvent, onFailure: onFailure)
            entries[key] = created
            return (created, true)
        }
        let id = entry.add(handler)
        if isNew { startSink.yield(entry) }
        return InformerSubscription { [self] in
            guard entry.remove(id) else { return }
            // The last subscriber left: stop the informer, unless another subscription revived it.
            self.entries.withLock { entries in
                if let current = entries[key] as? SharedInformer<Object>, current === entry, entry.isUnused {
                    entries[key] = nil
                    entry.stop()
                }
            }
        }
    }
}

/// A subscription to a shared informer; ``cancel()`` (idempotent) stops the handler's calls.
public final class InformerSubscription: Sendable {
    private let onCancel: Mutex<(@Sendable () -> Void)?>

    init(onCancel: @escaping @Sendable () -> Void) { self.onCancel = Mutex(onCancel) }

    public func cancel() {
        onCancel.withLock { action in
            defer { action = nil }
            return action
        }?()
    }
}

/// A shared informer without its object type, as ``SharedInformers`` keeps it.
private protocol SharedInformerEntry: AnyObject, Sendable {
    func run() async
}

/// One informer and its subscribers' handlers.
private final class SharedInformer<Object: KubernetesResource>: SharedInformerEntry {
    typealias Handler = @Sendable ([InformerChange<Object>]) -> Void

    private let informer: Informer<Object>
    private let fanOut: FanOut<Object>
    private let handle = StopHandle()

    init(
        key: InformerKey, client: KubernetesClient, logger: Logger,
        onEvent: @escaping @Sendable (String, InformerEventKind) -> Void,
        onFailure: @escaping @Sendable (InformerKey, any Error) -> Void
    ) {
        let fanOut = FanOut<Object>()
        self.fanOut = fanOut
        informer = Informer<Object>(
            client: client, namespace: key.namespace, labelSelector: key.labelSelector, fieldSelector: key.fieldSelector,
            logger: logger,
            onChanges: { fanOut.deliver($0) },
            onEvent: { onEvent(Object.kind, $0) },
            onFailure: { error in
                onFailure(key, error)
                logger.warning(
                    "kubernetes discovery failed; keeping the last targets",
                    metadata: ["resource": "\(key)", "error": "\(error)"])
            })
    }

    var isUnused: Bool { fanOut.isEmpty }

    /// Registers `handler`, handing it the store at once if the informer has listed already.
    func add(_ handler: @escaping Handler) -> Int {
        fanOut.add(handler) { [informer] in informer.store.map { .upsert(key: $0.key, $0.value) } }
    }

    /// Unregisters a handler; false if it was gone already.
    func remove(_ id: Int) -> Bool { fanOut.remove(id) }

    func stop() { handle.stop() }

    func run() async {
        await handle.run { [informer] in await informer.run() }
    }
}

/// The handlers of one informer. Deliveries and registrations happen under one lock, so that a
/// new handler's snapshot and the changes after it reach it in order.
private final class FanOut<Object: KubernetesResource>: Sendable {
    typealias Handler = @Sendable ([InformerChange<Object>]) -> Void

    private struct State {
        var handlers: [Int: Handler] = [:]
        var nextID = 0
        /// Whether the informer has delivered its first list (later handlers get a snapshot).
        var synced = false
    }

    private let state = Mutex(State())

    var isEmpty: Bool { state.withLock { $0.handlers.isEmpty } }

    func deliver(_ changes: [InformerChange<Object>]) {
        state.withLock { state in
            state.synced = true
            for handler in state.handlers.values { handler(changes) }
        }
    }

    func add(_ handler: @escaping Handler, snapshot: () -> [InformerChange<Object>]) -> Int {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.handlers[id] = handler
            if state.synced { handler(snapshot()) }
            return id
        }
    }

    func remove(_ id: Int) -> Bool {
        state.withLock { $0.handlers.removeValue(forKey: id) != nil }
    }
}
