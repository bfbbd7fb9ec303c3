import Relabel
import Model

/// One `scrape_configs` entry: a job and its targets.
public struct ScrapeConfig: Sendable, Equatable {
    public static func == (lhs: ScrapeConfig, rhs: ScrapeConfig) -> Bool {
        lhs.jobName == rhs.jobName && lhs.scrapeInterval == rhs.scrapeInterval && lhs.scrapeTimeout == rhs.scrapeTimeout
            && lhs.metricsPath == rhs.metricsPath && lhs.scheme == rhs.scheme && lhs.honorLabels == rhs.honorLabels
            && lhs.honorTimestamps == rhs.honorTimestamps && lhs.trackTimestampsStaleness == rhs.trackTimestampsStaleness
            && lhs.params.map(\.name) == rhs.params.map(\.name) && lhs.params.map(\.values) == rhs.params.map(\.values)
            && lhs.limits == rhs.limits && lhs.enableCompression == rhs.enableCompression && lhs.httpClient == rhs.httpClient
            && lhs.staticConfigs == rhs.staticConfigs && lhs.fileSDConfigs == rhs.fileSDConfigs
            && lhs.kubernetesSDConfigs == rhs.kubernetesSDConfigs && lhs.httpSDConfigs == rhs.httpSDConfigs
            && lhs.dnsSDConfigs == rhs.dnsSDConfigs && lhs.fingerprint == rhs.fingerprint
            && lhs.relabelConfigs.count == rhs.relabelConfigs.count && lhs.metricRelabelConfigs.count == rhs.metricRelabelConfigs.count
            && lhs.scrapeProtocols == rhs.scrapeProtocols && lhs.fallbackScrapeProtocol == rhs.fallbackScrapeProtocol
            && lhs.scrapeFailureLogFile == rhs.scrapeFailureLogFile
    }

    public var jobName: String
    public var scrapeInterval: Duration
    public var scrapeTimeout: Duration
    public var metricsPath: String = "/metrics"
    public var scheme: String = "http"
    public var honorLabels: Bool = false
    /// Prometheus's default: true — explicit timestamps in the exposition are kept.
    public var honorTimestamps: Bool = true
    public var trackTimestampsStaleness: Bool = false
    /// Query parameters added to the scrape URL (`params`), e.g. `match[]` for `/federate`.
    public var params: [(name: String, values: [String])] = []
    public var limits = ScrapeLimits()
    /// Ask for gzip-compressed bodies (Prometheus's default: true).
    public var enableCompression: Bool = true
    /// The formats offered in the `Accept` header, most wanted first (`scrape_protocols`, else
    /// the global list, else Prometheus's default); never empty, no duplicates.
    public var scrapeProtocols: [ScrapeProtocol] = ScrapeProtocol.defaults
    /// The format a response is parsed as when its `Content-Type` is missing, malformed or not
    /// a scrape format (`fallback_scrape_protocol`); nil: such a scrape fails, as in Prometheus 3.
    public var fallbackScrapeProtocol: ScrapeProtocol? = nil
    /// Where failed scrapes are logged, one JSON line each (`scrape_failure_log_file`, else the
    /// global one); nil: nowhere.
    public var scrapeFailureLogFile: String? = nil
    public var httpClient = HTTPClientConfig()
    public var staticConfigs: [StaticConfig] = []
    public var fileSDConfigs: [FileSDConfig] = []
    /// Parsed and validated; discovery itself comes with Kubernetes support.
    public var kubernetesSDConfigs: [KubernetesSDConfig] = []
    public var httpSDConfigs: [HTTPSDConfig] = []
    public var dnsSDConfigs: [DNSSDConfig] = []
    /// Applied to discovered targets.
    public var relabelConfigs: [RelabelConfig] = []
    /// Applied to scraped samples (not to the synthetic series).
    public var metricRelabelConfigs: [RelabelConfig] = []
    /// `metric_name_validation_scheme` and `metric_name_escaping_scheme`, resolved for the job.
    public var nameSchemes = MetricNameSchemes()
    /// The job's YAML (and the global section's), canonically serialized: two configs with the
    /// same fingerprint mean the same thing, which is how a reload finds unchanged jobs.
    public var fingerprint: String = ""

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

/// A `file_sd_configs` entry.
public struct FileSDConfig: Sendable, Equatable {
    /// Paths; the last element may be a glob (`targets/*.json`).
    public var files: [String]
    /// Prometheus's default: 5m.
    public var refreshInterval: Duration = .seconds(300)

    public init(files: [String]) {
        self.files = files
    }
}
