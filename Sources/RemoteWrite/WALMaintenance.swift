import AgentConfig
import Foundation
import Logging
import Model
import Prometheus
import Synchronization
import WAL

/// Keeps the WAL in bounds: removes the segments every endpoint has acknowledged, and the oldest
/// ones when the WAL outgrows `wal.max_size` or holds segments older than `wal.max_age`, even if
/// an endpoint is behind (it skips them first, counting its unsent samples as dropped).
///
/// Runs on a tick and whenever the WAL starts a segment (the moment the closed segments grew past
/// a size cap, if they did). Listing and removing files runs on the ``BlockingIOPool``.
final class WALMaintenance: Sendable {
    private let wal: WriteAheadLog
    private let pool: BlockingIOPool
    private let logger: Logger
    private let caps: Mutex<WALConfig>
    private let wake = WakeSignal()
    private let segmentsRemoved: [String: Counter]

    init(wal: WriteAheadLog, pool: BlockingIOPool, registry: PrometheusCollectorRegistry, logger: Logger, caps: WALConfig) {
        self.wal = wal
        self.pool = pool
        self.logger = logger
        self.caps = Mutex(caps)
        var removed: [String: Counter] = [:]
        for reason in ["acknowledged", DropReason.walMaxSize.rawValue, DropReason.walMaxAge.rawValue] {
            removed[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "agent_wal_segments_removed_total", unitName: "",
                    helpText: "WAL segments removed: acknowledged by every remote endpoint, or removed by a cap (wal_max_size, wal_max_age)."),
                labels: [("reason", reason)])
        }
        segmentsRemoved = removed
    }

    /// The caps apply from the next round.
    func setCaps(_ caps: WALConfig) { self.caps.withLock { $0 = caps } }

    /// Asks for a round now (the WAL started a segment).
    func trigger() { wake.notify() }

    /// Runs a round every `interval` and on ``trigger()`` until cancelled.
    func run(clock: any AgentClock, interval: Duration, endpoints: @escaping @Sendable () -> [String: RemoteEndpoint]) async {
        while !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await clock.sleep(for: interval) }
                group.addTask { [wake] in await wake.wait() }
                await group.next()
                group.cancelAll()
            }
            if Task.isCancelled { return }
            await maintain(endpoints: Array(endpoints().values))
        }
    }

    /// One round: removes the segments every endpoint acknowledged, and the oldest ones beyond the
    /// caps (after making the endpoints still reading them skip them, counting what they lose).
    /// Stopped endpoints count too: their stored progress says what they still need.
    func maintain(endpoints: [RemoteEndpoint]) async {
        let caps = self.caps.withLock { $0 }
        let segments: [WALSegmentInfo]
        do {
            segments = try await pool.run { [wal] in try wal.segmentInfo() }
        } catch {
            logger.error("cannot list WAL segments", metadata: ["error": "\(error)"])
            return
        }
        let current = wal.head.segment
        let closed = segments.filter { $0.number < current }
        guard let oldest = closed.first?.number else { return }
        // An endpoint that is starting has no known progress yet: nothing is removed meanwhile.
        let progress = endpoints.map(\.acknowledged)
        if progress.contains(where: { $0 == nil }) { return }
        let acknowledgedLimit = progress.compactMap { $0?.position.segment }.reduce(current, min)

        var capLimit = oldest
        var capReason = DropReason.walMaxSize
        if caps.maxAge > .zero {
            let cutoff = Date().addingTimeInterval(-Double(caps.maxAge.components.seconds))
            if let newestTooOld = closed.last(where: { $0.modified < cutoff }) {
                capLimit = newestTooOld.number + 1
                capReason = .walMaxAge
            }
        }
        if caps.maxSize > 0 {
            // Leave room for the segment being written to reach its full size, and for one more
            // segment to be completed before this runs again.
            let allowed = max(0, caps.maxSize - 2 * caps.segmentSize)
            var total = closed.reduce(0) { $0 + $1.size }
            for segment in closed where total > allowed {
                total -= segment.size
                if segment.number + 1 > capLimit {
                    capLimit = segment.number + 1
                    capReason = .walMaxSize
                }
            }
        }

        if capLimit > acknowledgedLimit {
            // Endpoints still reading those segments skip them first (counting what they lose);
            // what the others already queued from them is still sent.
            let behind = endpoints.filter { ($0.readSegment ?? oldest) < capLimit }
            let (limit, reason) = (capLimit, capReason)
            await withDiscardingTaskGroup { group in
                for endpoint in behind {
                    group.addTask { await endpoint.skipSegments(before: limit, reason: reason) }
                }
            }
        }
        let limit = max(acknowledgedLimit, capLimit)
        guard limit > oldest else { return }
        do {
            let removed = closed.filter { $0.number < limit }.count
            try await pool.run { [wal] in try wal.removeSegments(before: limit) }
            let byCap = capLimit > acknowledgedLimit ? closed.filter { $0.number >= acknowledgedLimit && $0.number < capLimit }.count : 0
            segmentsRemoved["acknowledged"]?.increment(by: Int64(removed - byCap))
            segmentsRemoved[capReason.rawValue]?.increment(by: Int64(byCap))
            if byCap > 0 {
                logger.info("WAL cap reached; oldest segments removed", metadata: [
                    "reason": "\(capReason.rawValue)", "segments": "\(byCap)", "max_size": "\(caps.maxSize)", "max_age": "\(caps.maxAge)",
                ])
            }
        } catch {
            logger.error("cannot remove old WAL segments", metadata: ["error": "\(error)"])
        }
    }
}
