import Logging
import Prometheus
import ServiceLifecycle
import WAL

/// Keeps the WAL durable: fsync on an interval, and a final sync and close at shutdown (it is
/// listed first in the service group, so it stops after everything that writes or reads it).
///
/// Also owns the WAL's self-metrics: what the open found (`agent_wal_corruptions_total`,
/// `agent_wal_replay_duration_seconds`), and, refreshed on every sync tick, the series table,
/// the segments on disk and their size, and failed writes.
final class WALService: Service {
    private let wal: WriteAheadLog
    private let syncInterval: Duration
    private let logger: Logger
    private let metrics: Metrics

    struct Metrics: Sendable {
        let corruptions: Counter
        let replayDuration: Gauge
        let series: Gauge
        let segments: Gauge
        let sizeBytes: Gauge
        let writeFailures: Counter

        init(registry: PrometheusCollectorRegistry) {
            func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
                MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
            }
            corruptions = registry.makeCounter(
                descriptor: descriptor("agent_wal_corruptions_total", "Corrupt or torn places found in WAL segments when the WAL was opened."),
                labels: [])
            replayDuration = registry.makeGauge(
                descriptor: descriptor("agent_wal_replay_duration_seconds", "Time taken to replay (open) the WAL at start."), labels: [])
            series = registry.makeGauge(descriptor: descriptor("agent_wal_series", "Series in the WAL's series table."), labels: [])
            segments = registry.makeGauge(descriptor: descriptor("agent_wal_segments", "WAL segments on disk."), labels: [])
            sizeBytes = registry.makeGauge(descriptor: descriptor("agent_wal_size_bytes", "Size of the WAL segments on disk."), labels: [])
            writeFailures = registry.makeCounter(
                descriptor: descriptor("agent_wal_write_failures_total", "WAL commits and syncs that failed (disk full, I/O errors)."),
                labels: [])
        }
    }

    init(wal: WriteAheadLog, syncInterval: Duration, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.wal = wal
        self.syncInterval = syncInterval
        self.logger = logger
        metrics = Metrics(registry: registry)
        let report = wal.openReport
        if report.corruptions > 0 { metrics.corruptions.increment(by: Int64(report.corruptions)) }
        metrics.replayDuration.set(Double(report.duration.components.seconds) + Double(report.duration.components.attoseconds) / 1e18)
        Self.refresh(wal: wal, metrics: metrics, reportedFailures: 0)
    }

    /// Sets the gauges from the WAL; adds the write failures since `reportedFailures` to the
    /// counter and returns the new total.
    @discardableResult
    private static func refresh(wal: WriteAheadLog, metrics: Metrics, reportedFailures: Int) -> Int {
        metrics.series.set(Double(wal.seriesCount))
        if let info = try? wal.segmentInfo() {
            metrics.segments.set(Double(info.count))
            metrics.sizeBytes.set(Double(info.reduce(0) { $0 + $1.size }))
        }
        let failures = wal.writeFailures
        if failures > reportedFailures { metrics.writeFailures.increment(by: Int64(failures - reportedFailures)) }
        return max(failures, reportedFailures)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { [wal, syncInterval, logger, metrics] in
            var reportedFailures = 0
            var syncFailing = false
            while !Task.isCancelled {
                try? await Task.sleep(for: syncInterval)
                do {
                    try wal.sync()
                    if syncFailing {
                        syncFailing = false
                        logger.info("WAL sync works again")
                    }
                } catch {
                    // Logged once per streak; every failure is counted.
                    if !syncFailing {
                        syncFailing = true
                        logger.error("cannot sync the WAL", metadata: ["error": "\(error)"])
                    }
                }
                reportedFailures = Self.refresh(wal: wal, metrics: metrics, reportedFailures: reportedFailures)
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
