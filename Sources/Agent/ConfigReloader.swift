import AgentConfig
import Foundation
import Logging
import Prometheus
import RemoteWrite
import Scraper
import ServiceLifecycle
import Synchronization
import UnixSignals
import WAL

/// Re-reads the configuration file and applies it to the running scraper and remote write, on
/// SIGHUP or `POST /-/reload`. An invalid file changes nothing; the outcome is in
/// `agent_config_last_reload_successful` and `agent_config_last_reload_success_timestamp_seconds`.
final class ConfigReloader: Service {
    private let file: String
    private let expandEnvironment: Bool
    private let scraper: ScrapeManager
    private let remoteWrite: RemoteWriteService
    private let pool: BlockingIOPool
    private let logger: Logger
    private let successful: Gauge
    private let successTimestamp: Gauge
    /// Reloads run one at a time.
    private let lock = Mutex(())

    init(
        file: String, expandEnvironment: Bool, scraper: ScrapeManager, remoteWrite: RemoteWriteService, pool: BlockingIOPool,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.pool = pool
        self.file = file
        self.expandEnvironment = expandEnvironment
        self.scraper = scraper
        self.remoteWrite = remoteWrite
        self.logger = logger
        successful = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "agent_config_last_reload_successful", unitName: "",
                helpText: "Whether the last configuration reload attempt was successful."),
            labels: [])
        successTimestamp = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "agent_config_last_reload_success_timestamp_seconds", unitName: "",
                helpText: "Timestamp of the last successful configuration reload."),
            labels: [])
        markSuccess()
    }

    private func markSuccess() {
        successful.set(1.0)
        successTimestamp.set(Date().timeIntervalSince1970)
    }

    /// Loads the file and applies it; returns the errors when it is invalid (nothing changes then).
    /// Reading the file is file I/O: it runs on the blocking-I/O pool, one reload at a time.
    @discardableResult
    func reload() async -> ConfigErrors? {
        do {
            return try await pool.run { [self] in reloadBlocking() }
        } catch {
            logger.error("configuration reload failed", metadata: ["error": "\(error)"])
            return ConfigErrors(errors: [ConfigError(file: file, line: 0, column: 0, key: "", message: "\(error)")])
        }
    }

    private func reloadBlocking() -> ConfigErrors? {
        lock.withLock { _ -> ConfigErrors? in
            do throws(ConfigErrors) {
                let configuration = try ConfigLoader.load(file: file, expandEnvironment: expandEnvironment)
                for warning in configuration.warnings { logger.warning("\(warning)") }
                scraper.apply(configuration)
                remoteWrite.apply(configuration)
                markSuccess()
                logger.info("configuration reloaded", metadata: ["file": "\(file)"])
                return nil
            } catch {
                successful.set(0.0)
                logger.error("configuration reload failed; keeping the running configuration", metadata: ["file": "\(file)", "errors": "\(error)"])
                return error
            }
        }
    }

    /// Reloads on every SIGHUP until shutdown.
    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                await self.reload()
            }
        }
    }
}
