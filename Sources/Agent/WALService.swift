import Logging
import ServiceLifecycle
import WAL

/// Keeps the WAL durable: fsync on an interval, and a final sync and close at shutdown (it is
/// listed first in the service group, so it stops after everything that writes or reads it).
final class WALService: Service {
    private let wal: WriteAheadLog
    private let syncInterval: Duration
    private let logger: Logger

    init(wal: WriteAheadLog, syncInterval: Duration, logger: Logger) {
        self.wal = wal
        self.syncInterval = syncInterval
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { [wal, syncInterval, logger] in
            while !Task.isCancelled {
                try? await Task.sleep(for: syncInterval)
                do {
                    try wal.sync()
                } catch {
                    logger.error("cannot sync the WAL", metadata: ["error": "\(error)"])
                }
            }
        }
        do {
            try wal.close()
            logger.info("WAL closed")
        } catch {
            logger.error("cannot close the WAL", metadata: ["error": "\(error)"])
        }
    }
}
