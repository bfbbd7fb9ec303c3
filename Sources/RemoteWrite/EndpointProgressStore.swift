import Logging
import Model
import Synchronization
import WAL

/// Computes what an endpoint has acknowledged and keeps it in `STORAGE/remote/NAME.json`.
///
/// The progress is one cursor per shard (the place of the shard's oldest unacknowledged sample,
/// or the watcher's read position when it holds none), their minimum as the low-water mark, and
/// where each shard's batch in flight ends. The file is replaced (a rename, which survives the
/// process being killed) before each request and after acknowledgements, and fsynced (which
/// survives a power loss) at most once a second and when the endpoint stops. Writing is file
/// I/O: it runs on the ``BlockingIOPool``, one write at a time (so an older progress never
/// replaces a newer one). The JSON is written by hand into a reused buffer (``ProgressJSON``)
/// and the file is left alone when those bytes are what it holds already.
final class EndpointProgressStore: Sendable {
    let file: EndpointProgressFile
    private let pool: BlockingIOPool
    private let logger: Logger
    private let url: String
    /// The progress sources, set once the endpoint started.
    private let sources = Mutex<(sets: ShardSets, reading: EndpointContext)?>(nil)
    private let writer: ProgressFileWriter
    /// What was written last, and whether it still needs an fsync. Held while writing.
    private let written = Mutex(Written())

    private struct Written: Sendable {
        /// The file's contents as last written (empty before the first write).
        var last: [UInt8] = []
        /// Scratch for the next contents; swapped with `last` after a write.
        var next: [UInt8] = []
        var pendingDurable = false
    }

    init(file: EndpointProgressFile, pool: BlockingIOPool, url: String, logger: Logger) {
        self.file = file
        writer = ProgressFileWriter(path: file.path)
        self.pool = pool
        self.url = url
        self.logger = logger
    }

    /// Starts computing the progress from `context`'s shard sets and read position.
    func attach(_ context: EndpointContext) {
        sources.withLock { $0 = (context.sets, context) }
    }

    /// What is acknowledged now; nil before the endpoint started.
    func current() -> EndpointProgress? {
        guard let (sets, context) = sources.withLock({ $0 }) else { return nil }
        // The read position first: a shard found empty afterwards has sent all it got before it.
        let read = context.reading.withLock { $0.position }
        let current = sets.current
        let draining = sets.draining
        let cursors: [Cursor]
        if let old = draining {
            cursors = old.queues.map { $0.firstPending ?? current.start }
        } else {
            cursors = current.queues.indices.map { i in
                current.queues[i].firstPending ?? (i < current.floors.count ? max(read, current.floors[i]) : read)
            }
        }
        let sending = draining ?? current
        return EndpointProgress(
            acknowledged: cursors.min() ?? read, shards: cursors, inFlight: sending.queues.map(\.inFlightEnd), url: url)
    }

    /// Writes the current progress unless it is what was written last; `durable` also fsyncs
    /// (and is honoured even when nothing changed since a non-durable write).
    func store(durable: Bool) async {
        do {
            try await pool.run { [self] in storeBlocking(durable: durable) }
        } catch {
            logger.error("cannot store the remote write progress", metadata: ["error": "\(error)"])
        }
    }

    private func storeBlocking(durable: Bool) {
        written.withLock { stored in
            guard let progress = current() else { return }
            ProgressJSON.encode(progress, into: &stored.next)
            if stored.next == stored.last && !(durable && stored.pendingDurable) { return }
            do {
                try writer.replace(with: stored.next, durable: durable)
                swap(&stored.last, &stored.next)
                stored.pendingDurable = !durable
            } catch {
                logger.error("cannot store the remote write progress", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stores the progress after each acknowledgement (`changes`), fsynced at most once a
    /// second; a tick every second makes the last acknowledgement of a burst durable. Returns
    /// when cancelled, after a final durable store.
    func run(changes: AsyncStream<Void>, clock: any AgentClock) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await clock.sleep(for: .seconds(1))) != nil {
                    await self.store(durable: true)
                }
            }
            group.addTask {
                var lastDurable = clock.now
                for await _ in changes {
                    let now = clock.now
                    let durable = now - lastDurable >= .seconds(1)
                    await self.store(durable: durable)
                    if durable { lastDurable = now }
                }
            }
            await group.waitForAll()
        }
        await store(durable: true)
    }
}
