import AgentConfig
import Foundation
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import WAL

/// Runs one sender per `remote_write` endpoint, each independent of the others, and removes WAL
/// segments once every endpoint has acknowledged them.
public final class RemoteWriteService: Service {
    private let wal: WriteAheadLog
    private let endpoints: [RemoteEndpoint]
    private let flushDeadline: Duration
    private let logger: Logger

    /// - Parameters:
    ///   - storagePath: the agent's `--storage.path`; cursors live in its `remote/` folder.
    ///   - flushDeadline: how long a graceful shutdown keeps sending what is queued.
    public init(
        configuration: Configuration, wal: WriteAheadLog, storagePath: String, flushDeadline: Duration,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) throws {
        let cursorDirectory = "\(storagePath)/remote"
        try FileManager.default.createDirectory(atPath: cursorDirectory, withIntermediateDirectories: true)
        self.wal = wal
        self.flushDeadline = flushDeadline
        self.logger = logger
        self.endpoints = configuration.remoteWrite.map {
            RemoteEndpoint(
                config: $0, walDirectory: wal.directory, cursorDirectory: cursorDirectory,
                externalLabels: configuration.global.externalLabels, registry: registry, logger: logger)
        }
    }

    public func run() async throws {
        // One thread per endpoint: a slow or unreachable receiver never delays another.
        let threadPool = NIOThreadPool(numberOfThreads: max(1, endpoints.count))
        threadPool.start()
        let wal = self.wal
        await withDiscardingTaskGroup { group in
            for endpoint in endpoints {
                group.addTask { [logger] in
                    do {
                        try await endpoint.run(threadPool: threadPool, walHead: { wal.head })
                    } catch {
                        logger.error("remote write stopped on an error", metadata: ["remote_name": "\(endpoint.config.name)", "error": "\(error)"])
                    }
                }
            }
            let truncation = Task { await truncateWhileRunning() }
            // Runs (even with no endpoints) until shutdown; then every endpoint sends what the
            // WAL holds until the flush deadline, and the group waits for them.
            try? await gracefulShutdown()
            let deadline = ContinuousClock.now + flushDeadline
            for endpoint in endpoints { endpoint.beginShutdown(deadline: deadline) }
            truncation.cancel()
            await truncation.value
        }
        truncate()
        try await threadPool.shutdownGracefully()
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
        for endpoint in endpoints {
            guard let cursor = endpoint.acknowledged.withLock({ $0 }) else { return }
            oldest = min(oldest, cursor.position.segment)
        }
        do {
            try wal.removeSegments(before: oldest)
        } catch {
            logger.error("cannot remove old WAL segments", metadata: ["error": "\(error)"])
        }
    }
}
