import AgentConfig
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals
import WAL

/// Re-reads the configuration file and applies it to the running scraper and remote write: on
/// SIGHUP, on `POST /-/reload`, and when ``ConfigFileWatcher`` finds the file's content changed.
/// An invalid file changes nothing; the outcome is in `agent_config_last_reload_successful`,
/// `agent_config_last_reload_success_timestamp_seconds` and `agent_config_reloads_total`.
///
/// Reloads run one at a time, on the blocking-I/O pool (reading the file is file I/O). Each
/// remembers the version of the file it loaded (``ConfigFileVersion``, read *before* the file is
/// loaded: if the file changes between the two reads, the version remembered is the older one,
/// so the next check reloads once more instead of missing the change). A check
/// (``reloadIfChanged()``) reloads only when the file's version differs from the last one loaded,
/// whether that load succeeded or failed: a file that failed is not retried until it changes
/// again, and content a SIGHUP already applied is not applied twice.
final class ConfigReloader: Service {
    /// What asked for a reload: the `trigger` label of `agent_config_reloads_total`.
    enum Trigger: String, CaseIterable, Sendable {
        case signal
        case http
        case fileChange = "file_change"
    }

    /// The outcome of ``reloadIfChanged()``.
    enum CheckOutcome: Equatable, Sendable {
        /// The file holds what was loaded last: nothing was done.
        case unchanged
        case reloaded
        case failed
    }

    private let file: String
    private let expandEnvironment: Bool
    private let apply: @Sendable (Configuration) -> Void
    private let pool: BlockingIOPool
    private let logger: Logger
    private let successful: Gauge
    private let successTimestamp: Gauge
    private let reloads: [Trigger: (success: Counter, failure: Counter)]
    /// The version of the file the last load (at start or a reload) read. The lock is held for
    /// a whole reload, which makes reloads run one at a time.
    private let loadedVersion: Mutex<ConfigFileVersion>

    /// - Parameters:
    ///   - loadedVersion: the version of the file the running configuration was loaded from
    ///     (read before it was loaded).
    ///   - apply: hands a valid configuration to the running parts (called on the blocking-I/O
    ///     pool, at most one call at a time).
    init(
        file: String, expandEnvironment: Bool, loadedVersion: ConfigFileVersion, apply: @escaping @Sendable (Configuration) -> Void,
        pool: BlockingIOPool, registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.pool = pool
        self.file = file
        self.expandEnvironment = expandEnvironment
        self.apply = apply
        self.loadedVersion = Mutex(loadedVersion)
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
        func counter(_ trigger: Trigger, _ result: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "agent_config_reloads_total", unitName: "",
                    helpText: "Configuration reload attempts, by what asked for them and their result."),
                labels: [("trigger", trigger.rawValue), ("result", result)])
        }
        reloads = Dictionary(uniqueKeysWithValues: Trigger.allCases.map { ($0, (counter($0, "success"), counter($0, "failure"))) })
        markSuccess()
    }

    private func markSuccess() {
        successful.set(1.0)
        successTimestamp.set(Date().timeIntervalSince1970)
    }

    /// Loads the file and applies it, whatever its version; returns the errors when it is
    /// invalid (nothing changes then). For SIGHUP and `POST /-/reload`.
    @discardableResult
    func reload(trigger: Trigger) async -> ConfigErrors? {
        do {
            return try await pool.run { [self] in
                loadedVersion.withLock { loaded in reloadBlocking(trigger: trigger, loaded: &loaded) }
            }
        } catch {
            logger.error("configuration reload failed", metadata: ["error": "\(error)"])
            return ConfigErrors(errors: [ConfigError(file: file, line: 0, column: 0, key: "", message: "\(error)")])
        }
    }

    /// Reloads when the file's version differs from the one loaded last (see the type's notes).
    @discardableResult
    func reloadIfChanged() async -> CheckOutcome {
        do {
            return try await pool.run { [self] in
                loadedVersion.withLock { loaded -> CheckOutcome in
                    guard ConfigFileVersion.read(file: file, expandEnvironment: expandEnvironment) != loaded else { return .unchanged }
                    logger.info("configuration file changed; reloading", metadata: ["file": "\(file)"])
                    return reloadBlocking(trigger: .fileChange, loaded: &loaded) == nil ? .reloaded : .failed
                }
            }
        } catch {
            logger.error("configuration file check failed", metadata: ["error": "\(error)"])
            return .failed
        }
    }

    /// Reads the version, then loads and applies the file; the caller holds the lock.
    private func reloadBlocking(trigger: Trigger, loaded: inout ConfigFileVersion) -> ConfigErrors? {
        loaded = ConfigFileVersion.read(file: file, expandEnvironment: expandEnvironment)
        do throws(ConfigErrors) {
            let configuration = try ConfigLoader.load(file: file, expandEnvironment: expandEnvironment)
            for warning in configuration.warnings { logger.warning("\(warning)") }
            apply(configuration)
            markSuccess()
            reloads[trigger]?.success.increment()
            logger.info("configuration reloaded", metadata: ["file": "\(file)", "trigger": "\(trigger.rawValue)"])
            return nil
        } catch {
            successful.set(0.0)
            reloads[trigger]?.failure.increment()
            logger.error(
                "configuration reload failed; keeping the running configuration",
                metadata: ["file": "\(file)", "trigger": "\(trigger.rawValue)", "errors": "\(error)"])
            return error
        }
    }

    /// Reloads on every SIGHUP until shutdown.
    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                await self.reload(trigger: .signal)
            }
        }
    }
}
