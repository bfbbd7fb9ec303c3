import WAL

/// The agent's configuration: Prometheus's own YAML model, the parts an agent uses.
public struct Configuration: Sendable, Equatable {
    public var global: GlobalConfig
    public var scrapeConfigs: [ScrapeConfig]
    public var remoteWrite: [RemoteWriteConfig]
    /// Non-fatal remarks made while loading (keys accepted for compatibility but unused).
    public var warnings: [String]

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

    public init() {}
}

/// One `scrape_configs` entry: a job and its targets.
public struct ScrapeConfig: Sendable, Equatable {
    public var jobName: String
    public var scrapeInterval: Duration
    public var scrapeTimeout: Duration
    public var metricsPath: String = "/metrics"
    public var scheme: String = "http"
    public var honorLabels: Bool = false
    public var staticConfigs: [StaticConfig] = []

    public init(jobName: String, scrapeInterval: Duration, scrapeTimeout: Duration) {
        self.jobName = jobName
        self.scrapeInterval = scrapeInterval
        self.scrapeTimeout = scrapeTimeout
    }
}

/// A `static_configs` entry: a list of `host:port` targets sharing extra labels.
public struct StaticConfig: Sendable, Equatable {
    public var targets: [String]
    public var labels: Labels

    public init(targets: [String], labels: Labels = .empty) {
        self.targets = targets
        self.labels = labels
    }
}

/// One `remote_write` entry.
public struct RemoteWriteConfig: Sendable, Equatable {
    public var url: String
    /// A name unique among the endpoints; defaults to a hash of the URL, as in Prometheus.
    public var name: String
    /// Prometheus's default: 30s.
    public var remoteTimeout: Duration = .seconds(30)
    public var queueConfig = QueueConfig()

    public init(url: String, name: String) {
        self.url = url
        self.name = name
    }
}

/// `queue_config` with Prometheus's defaults.
public struct QueueConfig: Sendable, Equatable {
    public var capacity = 10_000
    public var maxSamplesPerSend = 2_000
    public var batchSendDeadline: Duration = .seconds(5)
    public var minBackoff: Duration = .milliseconds(30)
    public var maxBackoff: Duration = .seconds(5)

    public init() {}
}
