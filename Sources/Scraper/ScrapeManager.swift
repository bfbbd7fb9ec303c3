import AgentConfig
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import WAL

/// Runs one scrape loop per configured target until graceful shutdown.
public final class ScrapeManager: Service {
    private let targets: [Target]
    private let wal: WriteAheadLog
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let reports = Mutex<[String: ScrapeReport]>([:])

    public init(configuration: Configuration, wal: WriteAheadLog, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.targets = configuration.scrapeConfigs.flatMap(Target.targets(for:))
        self.wal = wal
        self.registry = registry
        self.logger = logger
        for config in configuration.scrapeConfigs {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "prometheus_target_scrape_pool_targets", unitName: "",
                    helpText: "Current number of targets in this scrape pool."),
                labels: [("scrape_job", config.jobName)]
            ).set(Double(Target.targets(for: config).count))
        }
    }

    /// Every target with its last scrape, if it has been scraped.
    public var targetStatus: [(target: Target, lastScrape: ScrapeReport?)] {
        let reports = self.reports.withLock { $0 }
        return targets.map { ($0, reports[$0.id]) }
    }

    public func run() async throws {
        // Scrapes block a thread for their HTTP transfer, so they run on a pool of their own.
        let threadPool = NIOThreadPool(numberOfThreads: max(2, min(64, targets.count)))
        threadPool.start()
        logger.info("scraping", metadata: ["targets": "\(targets.count)"])
        let duplicates = ScrapeMetrics.duplicatesCounter(registry: registry)
        var jobs: [String: (client: ScrapeClient, metrics: ScrapeMetrics)] = [:]
        for target in targets where jobs[target.job] == nil {
            jobs[target.job] = (ScrapeClient(config: target.config), ScrapeMetrics(registry: registry, job: target.job, duplicates: duplicates))
        }
        let loops = targets.map { target in
            ScrapeLoop(
                target: target, client: jobs[target.job]!.client, wal: wal, threadPool: threadPool,
                metrics: jobs[target.job]!.metrics, logger: logger,
                onReport: { [self] target, report in self.reports.withLock { $0[target.id] = report } }
            )
        }
        await withDiscardingTaskGroup { group in
            for loop in loops {
                group.addTask { await loop.run() }
            }
            // Runs (even with no targets) until shutdown; then the loops stop after their current scrape.
            try? await gracefulShutdown()
            group.cancelAll()
        }
        try await threadPool.shutdownGracefully()
        logger.info("scraping stopped")
    }
}
