import Relabel
import Model

/// The agent's configuration: Prometheus's own YAML model, the parts an agent uses.
public struct Configuration: Sendable, Equatable {
    public var global: GlobalConfig
    public var scrapeConfigs: [ScrapeConfig]
    public var remoteWrite: [RemoteWriteConfig]
    /// `scrape_config_files`: glob patterns (resolved against the file's folder) of files holding
    /// more `scrape_configs`; ``ConfigLoader/load(file:expandEnvironment:environment:)`` reads
    /// them and appends their jobs to ``scrapeConfigs``.
    public var scrapeConfigFiles: [String] = []
    /// `wal:` (an extra key of ours): the write-ahead log's segment size, compression and caps.
    public var wal: WALConfig = WALConfig()
    /// Non-fatal remarks made while loading (keys accepted for compatibility but unused).
    public var warnings: [String]
    /// The `global` section's YAML, canonically serialized: part of every job's fingerprint,
    /// including the jobs of `scrape_config_files`.
    var globalFingerprint = ""

    public init(
        global: GlobalConfig = GlobalConfig(),
        scrapeConfigs: [ScrapeConfig] = [],
        remoteWrite: [RemoteWriteConfig] = [],
        warnings: [String] = []
    ) {
        self.global = global
        self.scrapeConfigs = scrapeConfigs
        self.remoteWrite = remoteWrite
        self.warnings = warnings
    }
}

/// `global:` — defaults for every scrape config, and the labels added to every series sent.
public struct GlobalConfig: Sendable, Equatable {
    /// Prometheus's default: 1m.
    public var scrapeInterval: Duration = .seconds(60)
    /// Prometheus's default: 10s.
    public var scrapeTimeout: Duration = .seconds(10)
    /// Added to every series on its way to a remote endpoint; a series' own label wins on a clash.
    public var externalLabels: Labels = .empty
    /// Defaults for every scrape config's limits (0 = no limit).
    public var limits = ScrapeLimits()
    /// Default `scrape_protocols` of every job; nil: Prometheus's default list (``ScrapeProtocol/defaults``).
    public var scrapeProtocols: [ScrapeProtocol]? = nil
    /// Default `scrape_failure_log_file` of every job (resolved against the file's directory).
    public var scrapeFailureLogFile: String? = nil
    /// `metric_name_validation_scheme`, `metric_name_escaping_scheme`: defaults for scrape configs.
    public var nameSchemes = MetricNameSchemes()

    public init() {}
}

/// A job's limits, as in Prometheus; zero means no limit. A scrape that exceeds one of the
/// per-scrape limits (body size, samples, labels) fails as a whole (`up` = 0); a job with more
/// targets than `targetLimit` fails every scrape of every target.
public struct ScrapeLimits: Sendable, Equatable {
    /// Largest uncompressed body, in bytes (`body_size_limit`, e.g. `10MB`).
    public var bodySizeLimit = 0
    public var sampleLimit = 0
    /// Most labels a series may have, target labels included.
    public var labelLimit = 0
    public var labelNameLengthLimit = 0
    public var labelValueLengthLimit = 0
    /// Most targets the job may have after relabeling (`target_limit`).
    public var targetLimit = 0
    /// Most dropped targets kept for the targets API (`keep_dropped_targets`); not a scrape limit.
    public var keepDroppedTargets = 0

    public init() {}
}

/// `wal:`, the agent's own section (Prometheus has none): how the write-ahead log is kept.
///
/// The caps bound the log while a receiver is down: when the log is bigger than `maxSize` or
/// holds data older than `maxAge`, its oldest segments are removed even if an endpoint has not
/// sent them yet; those samples are counted as dropped for that endpoint.
public struct WALConfig: Sendable, Equatable {
    /// A new segment starts at this size. Takes effect at the next start.
    public var segmentSize = 128 << 20
    /// Largest size on disk (0: no cap). Default 1 GiB.
    public var maxSize = 1 << 30
    /// Oldest data kept, by the time a segment was last written (zero: no cap). Default 24h.
    public var maxAge: Duration = .seconds(24 * 3600)
    /// Whether records are snappy-compressed. Takes effect at the next start.
    public var compression = true

    public init() {}
}

extension Configuration {
    /// Makes relative file paths (file SD, TLS files, credential files, failure logs) relative to
    /// `directory`, the configuration file's folder, as Prometheus does. Jobs read from
    /// `scrape_config_files` are resolved against their own file's folder when they are read.
    mutating func resolvePaths(relativeTo directory: String) {
        guard !directory.isEmpty else { return }
        global.scrapeFailureLogFile = global.scrapeFailureLogFile.map { Self.resolve($0, in: directory) }
        scrapeConfigFiles = scrapeConfigFiles.map { Self.resolve($0, in: directory) }
        for index in scrapeConfigs.indices { scrapeConfigs[index].resolvePaths(relativeTo: directory) }
        for index in remoteWrite.indices { Self.resolve(&remoteWrite[index].httpClient, in: directory) }
    }

    /// `path` made relative to `directory` unless it is absolute (Prometheus's `JoinDir`).
    static func resolve(_ path: String, in directory: String) -> String {
        path.isEmpty || path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
    }

    static func resolve(_ client: inout HTTPClientConfig, in directory: String) {
        func resolve(_ path: String) -> String { Configuration.resolve(path, in: directory) }
        client.tls.caFile = client.tls.caFile.map(resolve)
        client.tls.certFile = client.tls.certFile.map(resolve)
        client.tls.keyFile = client.tls.keyFile.map(resolve)
        if case .file(let path) = client.basicAuth?.password { client.basicAuth?.password = .file(resolve(path)) }
        if case .file(let path) = client.authorization?.credentials { client.authorization?.credentials = .file(resolve(path)) }
        if let file = client.basicAuth?.usernameFile { client.basicAuth?.usernameFile = resolve(file) }
        for header in client.httpHeaders.indices { client.httpHeaders[header].files = client.httpHeaders[header].files.map(resolve) }
        if var oauth2 = client.oauth2 {
            if case .file(let path) = oauth2.clientSecret { oauth2.clientSecret = .file(resolve(path)) }
            oauth2.tls.caFile = oauth2.tls.caFile.map(resolve)
            oauth2.tls.certFile = oauth2.tls.certFile.map(resolve)
            oauth2.tls.keyFile = oauth2.tls.keyFile.map(resolve)
            client.oauth2 = oauth2
        }
    }
}

extension ScrapeConfig {
    /// Resolves the job's relative paths (HTTP client files, file SD files, Kubernetes SD's
    /// HTTP client files and kubeconfig, `scrape_failure_log_file`) against `directory`. A failure log inherited from `global` was
    /// resolved with the main file (unless that file was named without a folder: then, as in
    /// Prometheus, it is relative to the job's own file).
    mutating func resolvePaths(relativeTo directory: String) {
        Configuration.resolve(&httpClient, in: directory)
        for sd in fileSDConfigs.indices {
            fileSDConfigs[sd].files = fileSDConfigs[sd].files.map { Configuration.resolve($0, in: directory) }
        }
        scrapeFailureLogFile = scrapeFailureLogFile.map { Configuration.resolve($0, in: directory) }
        for sd in kubernetesSDConfigs.indices {
            Configuration.resolve(&kubernetesSDConfigs[sd].httpClient, in: directory)
            kubernetesSDConfigs[sd].kubeconfigFile = kubernetesSDConfigs[sd].kubeconfigFile.map { Configuration.resolve($0, in: directory) }
        }
        for sd in httpSDConfigs.indices { Configuration.resolve(&httpSDConfigs[sd].httpClient, in: directory) }
    }
}
