import Logging
import Model
import Prometheus
import ServiceLifecycle
import Synchronization
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
    private let clock: any AgentClock
    private let pool: BlockingIOPool
    private let logger: Logger
    private let metrics: Metrics

    struct Metrics: Sendable {
        let corruptions: Counter
        let replayDuration: Gauge
        let series: Gauge
        let segments: Gauge
        let sizeBytes: Gauge
        let writeFailures: Counter
        let samplesAppended: Counter

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
            samplesAppended = registry.makeCounter(
                descriptor: descriptor(
                    "agent_wal_samples_appended_total", "Samples (scraped, synthetic and staleness markers) written to the WAL by successful commits."),
                labels: [])
            writeFailures = registry.makeCounter(
                descriptor: descriptor("agent_wal_write_failures_total", "WAL commits and syncs that failed (disk full, I/O errors)."),
                labels: [])
        }
    }

    init(
        wal: WriteAheadLog, syncInterval: Duration, registry: PrometheusCollectorRegistry, clock: any AgentClock,
        pool: BlockingIOPool, logger: Logger
    ) {
        self.wal = wal
        self.syncInterval = syncInterval
        self.clock = clock
        self.pool = pool
        self.logger = logger
        metrics = Metrics(registry: registry)
        let report = wal.openReport
        if report.corruptions > 0 { metrics.corruptions.increment(by: Int64(report.corruptions)) }
        metrics.replayDuration.set(Double(report.duration.components.seconds) + Double(report.duration.components.attoseconds) / 1e18)
        var reported = Reported()
        Self.refresh(wal: wal, segments: try? wal.segmentInfo(), metrics: metrics, reported: &reported)
        self.reported = Mutex(reported)
    }

    /// What the counters hold already (the WAL keeps totals; the counters get the differences).
    struct Reported: Sendable {
        var failures = 0
        var samples = 0
    }

    private let reported: Mutex<Reported>

    /// Lists the segments on the I/O pool, then refreshes the gauges and counters.
    private func refresh() async {
        let segments = try? await pool.run { [wal] in try wal.segmentInfo() }
        reported.withLock { Self.refresh(wal: wal, segments: segments, metrics: metrics, reported: &$0) }
    }

    /// Sets the gauges from the WAL and adds to the counters what the WAL counted since `reported`.
    private static func refresh(wal: WriteAheadLog, segments: [WALSegmentInfo]?, metrics: Metrics, reported: inout Reported) {
        metrics.series.set(Double(wal.seriesCount))
        if let info = segments {
            metrics.segments.set(Double(info.count))
            metrics.sizeBytes.set(Double(info.reduce(0) { $0 + $1.size }))
        }
        let failures = wal.writeFailures
        if failures > reported.failures { metrics.writeFailures.increment(by: Int64(failures - reported.failures)) }
        reported.failures = max(failures, reported.failures)
        let samples = wal.samplesAppended
        if samples > reported.samples { metrics.samplesAppended.increment(by: Int64(samples - reported.samples)) }
        reported.samples = max(samples, reported.samples)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { [self, wal, syncInterval, clock, logger] in
            var syncFailing = false
            while (try? await clock.sleep(for: syncInterval)) != nil {
                do {
                    try await wal.sync()
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
                await refresh()
            }
        }
        // Everything written up to now (the scraper has stopped) is counted before /metrics goes.
        await refresh()
        do {
            try await wal.close()
            logger.info("WAL closed")
        } catch {
            logger.error("cannot close the WAL", metadata: ["error": "\(error)"])
        }
    }
}
