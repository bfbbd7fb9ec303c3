import AgentConfig
import ArgumentParser
import Curl
import Foundation
import Logging
import Model
import Prometheus
import RemoteWrite
import Scraper
import ServiceLifecycle
import WAL

/// `agent run`: scrape, append to the WAL, remote-write; until SIGINT or SIGTERM.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the agent.")

    @Option(name: .customLong("config.file"), help: "Agent configuration file (Prometheus format).")
    var configFile: String = "agent.yml"

    @Flag(name: .customLong("config.expand-env"), help: "Expand ${VAR} and ${VAR:-default} in the configuration file from the environment.")
    var expandEnvironment = false

    @Option(
        name: .customLong("config.auto-reload-interval"),
        help: "How often to check the configuration file and reload it when its content changed; 0s: never (SIGHUP and POST /-/reload only).")
    var autoReloadInterval: String = "0s"

    @Option(name: .customLong("storage.path"), help: "Base path for the WAL and remote-write cursors.")
    var storagePath: String = "data-agent"

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on for /metrics and the health endpoints.")
    var listenAddress: String = "0.0.0.0:9099"

    @Option(name: .customLong("storage.remote.flush-deadline"), help: "How long to keep sending queued samples on shutdown.")
    var flushDeadline: String = "1m"

    @Option(name: .customLong("storage.wal.sync-interval"), help: "How often the WAL is fsynced.")
    var walSyncInterval: String = "1s"

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try parseListenAddress()
        guard PrometheusDuration.parse(flushDeadline) != nil else {
            throw ValidationError("--storage.remote.flush-deadline: invalid duration \"\(flushDeadline)\"")
        }
        guard let sync = PrometheusDuration.parse(walSyncInterval), sync > .zero else {
            throw ValidationError("--storage.wal.sync-interval: invalid duration \"\(walSyncInterval)\"")
        }
        guard let autoReload = PrometheusDuration.parse(autoReloadInterval), autoReload == .zero || autoReload >= .seconds(1) else {
            throw ValidationError("--config.auto-reload-interval: 0s (off) or a duration of at least 1s; got \"\(autoReloadInterval)\"")
        }
    }

    func parseListenAddress() throws -> (host: String, port: Int) {
        guard let colon = listenAddress.lastIndex(of: ":"), let port = Int(listenAddress[listenAddress.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("--web.listen-address must be HOST:PORT; got \"\(listenAddress)\"")
        }
        var host = String(listenAddress[..<colon])
        if host.isEmpty { host = "0.0.0.0" }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    func run() async throws {
        let logger = logging.bootstrap()
        // The process's threads, fixed whatever the configuration: the cooperative pool, one
        // libcurl I/O thread for every HTTP transfer, the WAL writer, a small pool for blocking
        // file I/O, and the admin server's event loop.
        let blockingIO = try BlockingIOPool(threads: 2, name: "blocking-io")
        // The file's version is read before the file is loaded (see ConfigReloader).
        let (loadedVersion, loaded) = try await blockingIO.run { [configFile, expandEnvironment] in
            let version = ConfigFileVersion.read(file: configFile, expandEnvironment: expandEnvironment)
            return (version, Result { () throws(ConfigErrors) in try ConfigLoader.load(file: configFile, expandEnvironment: expandEnvironment) })
        }
        let configuration: Configuration
        switch loaded {
        case .success(let loaded):
            configuration = loaded
        case .failure(let errors):
            logger.error("invalid configuration", metadata: ["file": "\(configFile)", "errors": "\(errors)"])
            await blockingIO.shutdown()
            throw ExitCode(1)
        }
        for warning in configuration.warnings { logger.warning("\(warning)") }

        let (host, port) = try parseListenAddress()
        ProcessResources.limitMallocArenas()
        let openFiles = ProcessResources.raiseOpenFileLimit()
        try FileManager.default.createDirectory(atPath: storagePath, withIntermediateDirectories: true)
        let clock = SystemClock()
        let transport = HTTPTransport()
        let wal = try WriteAheadLog(
            directory: "\(storagePath)/wal", segmentSize: configuration.wal.segmentSize,
            compression: configuration.wal.compression ? .snappy : .none, ioPool: blockingIO, logger: logger)
        let registry = PrometheusCollectorRegistry()
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "agent_build_info", unitName: "", helpText: "The agent's version."),
            labels: [("version", AgentVersion.current)]
        ).set(1.0)

        let scraper = ScrapeManager(
            configuration: configuration, wal: wal, transport: transport, pool: blockingIO, registry: registry, clock: clock,
            logger: logger)
        let remoteWrite = try RemoteWriteService(
            configuration: configuration, wal: wal, pool: blockingIO, transport: transport, storagePath: storagePath,
            flushDeadline: PrometheusDuration.parse(flushDeadline)!, registry: registry, clock: clock, logger: logger)
        let walService = WALService(
            wal: wal, syncInterval: PrometheusDuration.parse(walSyncInterval)!, registry: registry, clock: clock, pool: blockingIO,
            logger: logger)
        let reloader = ConfigReloader(
            file: configFile, expandEnvironment: expandEnvironment, loadedVersion: loadedVersion,
            apply: { configuration in
                scraper.apply(configuration)
                remoteWrite.apply(configuration)
            },
            pool: blockingIO, registry: registry, logger: logger)
        let autoReload = PrometheusDuration.parse(autoReloadInterval)!
        let watcher: [any Service] =
            autoReload > .zero ? [ConfigFileWatcher(interval: autoReload, reloader: reloader, clock: clock)] : []
        let memoryReleaser = FreeMemoryReleaser(interval: .seconds(10), clock: clock, pool: blockingIO)
        let server = AdminServer(host: host, port: port, registry: registry, scraper: scraper, reloader: reloader, logger: logger)

        logger.info(
            "starting agent",
            metadata: [
                "version": "\(AgentVersion.current)", "config": "\(configFile)", "storage": "\(storagePath)",
                "scrape_configs": "\(configuration.scrapeConfigs.count)", "remote_write": "\(configuration.remoteWrite.count)",
                "open_files_limit": "\(openFiles)", "config_auto_reload_interval": "\(PrometheusDuration.format(autoReload))",
            ])
        // Graceful shutdown runs in reverse order: file checks and reloads stop, the scraper
        // stops, remote write drains, the WAL closes, and the admin server (still serving
        // /metrics meanwhile) goes last.
        let group = ServiceGroup(
            services: [server, walService, remoteWrite, scraper, reloader] + watcher + [memoryReleaser],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
        transport.shutdown()
        await blockingIO.shutdown()
        logger.info("agent stopped")
    }
}
