import Relabel
import Model

/// The agent's configuration: Prometheus's own YAML model, the parts an agent uses.
public struct Configuration: Sendable, Equatable {
    public var global: GlobalConfig
    public var scrapeConfigs: [ScrapeConfig]
    public var remoteWrite: [RemoteWriteConfig]
    /// `wal:` (an extra key of ours): the write-ahead log's segment size, compression and caps.
    public var wal: WALConfig = WALConfig()
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
    /// Defaults for every scrape config's limits (0 = no limit).
    public var limits = ScrapeLimits()

    public init() {}
}

/// Per-scrape limits; a scrape that exceeds one fails as a whole (`up` = 0), as in Prometheus.
/// Zero means no limit.
public struct ScrapeLimits: Sendable, Equatable {
    /// Largest uncompressed body, in bytes (`body_size_limit`, e.g. `10MB`).
    public var bodySizeLimit = 0
    public var sampleLimit = 0
    /// Most labels a series may have, target labels included.
    public var labelLimit = 0
    public var labelNameLengthLimit = 0
    public var labelValueLengthLimit = 0

    public init() {}
}

/// How to reach a target or endpoint over HTTP: Prometheus's `http_config` fields.
public struct HTTPClientConfig: Sendable, Equatable {
    public var tls = TLSConfig()
    public var basicAuth: BasicAuth?
    public var authorization: Authorization?
    public var proxyURL: String?
    /// Prometheus's default: true.
    public var followRedirects = true

    public init() {}
}

/// `tls_config`.
public struct TLSConfig: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var insecureSkipVerify = false
    /// `TLS10`, `TLS11`, `TLS12` or `TLS13`.
    public var minVersion: String?

    public init() {}
}

/// A secret given inline or read from a file (re-read as it may be rotated).
public enum Secret: Sendable, Equatable {
    case inline(String)
    case file(String)
}

/// `basic_auth`.
public struct BasicAuth: Sendable, Equatable {
    public var username: String
    public var password: Secret?

    public init(username: String, password: Secret?) {
        self.username = username
        self.password = password
    }
}

/// `authorization` (and the older `bearer_token` / `bearer_token_file`): an
/// `Authorization: <type> <credentials>` header.
public struct Authorization: Sendable, Equatable {
    /// Prometheus's default: Bearer.
    public var type: String
    public var credentials: Secret?

    public init(type: String = "Bearer", credentials: Secret?) {
        self.type = type
        self.credentials = credentials
    }
}

/// One `scrape_configs` entry: a job and its targets.
public struct ScrapeConfig: Sendable, Equatable {
    public static func == (lhs: ScrapeConfig, rhs: ScrapeConfig) -> Bool {
        lhs.jobName == rhs.jobName && lhs.scrapeInterval == rhs.scrapeInterval && lhs.scrapeTimeout == rhs.scrapeTimeout
            && lhs.metricsPath == rhs.metricsPath && lhs.scheme == rhs.scheme && lhs.honorLabels == rhs.honorLabels
            && lhs.honorTimestamps == rhs.honorTimestamps && lhs.trackTimestampsStaleness == rhs.trackTimestampsStaleness
            && lhs.params.map(\.name) == rhs.params.map(\.name) && lhs.params.map(\.values) == rhs.params.map(\.values)
            && lhs.limits == rhs.limits && lhs.enableCompression == rhs.enableCompression && lhs.httpClient == rhs.httpClient
            && lhs.staticConfigs == rhs.staticConfigs && lhs.fileSDConfigs == rhs.fileSDConfigs
            && lhs.kubernetesSDConfigs == rhs.kubernetesSDConfigs && lhs.fingerprint == rhs.fingerprint
            && lhs.relabelConfigs.count == rhs.relabelConfigs.count && lhs.metricRelabelConfigs.count == rhs.metricRelabelConfigs.count
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
    public var httpClient = HTTPClientConfig()
    public var staticConfigs: [StaticConfig] = []
    public var fileSDConfigs: [FileSDConfig] = []
    /// Parsed and validated; discovery itself comes with Kubernetes support.
    public var kubernetesSDConfigs: [KubernetesSDConfig] = []
    /// Applied to discovered targets.
    public var relabelConfigs: [RelabelConfig] = []
    /// Applied to scraped samples (not to the synthetic series).
    public var metricRelabelConfigs: [RelabelConfig] = []
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

/// A `kubernetes_sd_configs` entry, as far as this version reads it.
public struct KubernetesSDConfig: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        case node, pod, service, endpoints, endpointslice, ingress
    }
    public var role: Role
    public var namespaces: [String] = []
    public var ownNamespace = false
    public var apiServer: String?
    public var kubeconfigFile: String?
    /// How to reach `api_server` (TLS, authorization, proxy).
    public var httpClient = HTTPClientConfig()
    /// Label and field selectors per role, as the API server applies them to LIST and WATCH.
    public var selectors: [Selector] = []
    /// `attach_metadata`: labels of the target's node, namespace and pod controllers.
    public var attachMetadata = AttachMetadata()

    /// `attach_metadata`. As in Prometheus, `node`, `deployment`, `job` and `cronjob` only have an
    /// effect for the pod, endpoints and endpointslice roles and `namespace` for the namespaced
    /// roles; elsewhere they are ignored.
    public struct AttachMetadata: Sendable, Equatable {
        /// Adds the `__meta_kubernetes_node_*` labels of the target's node.
        public var node = false
        /// Adds the `__meta_kubernetes_namespace_{label,annotation}*` labels of the target's namespace.
        public var namespace = false
        /// Adds `__meta_kubernetes_pod_deployment_name` (the Deployment above the pod's ReplicaSet).
        public var deployment = false
        /// Adds `__meta_kubernetes_pod_job_name` (the pod's Job).
        public var job = false
        /// Adds `__meta_kubernetes_pod_cronjob_name` (the CronJob above the pod's Job).
        public var cronJob = false

        public init() {}
    }

    /// A `selectors` entry.
    public struct Selector: Sendable, Equatable {
        public var role: Role
        public var label: String?
        public var field: String?

        public init(role: Role, label: String? = nil, field: String? = nil) {
            self.role = role
            self.label = label
            self.field = field
        }
    }

    public init(role: Role) {
        self.role = role
    }
}

/// One `remote_write` entry.
public struct RemoteWriteConfig: Sendable, Equatable {
    public static func == (lhs: RemoteWriteConfig, rhs: RemoteWriteConfig) -> Bool {
        lhs.url == rhs.url && lhs.name == rhs.name && lhs.fingerprint == rhs.fingerprint && lhs.remoteTimeout == rhs.remoteTimeout
            && lhs.queueConfig == rhs.queueConfig && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value) && lhs.httpClient == rhs.httpClient
            && lhs.metadataConfig == rhs.metadataConfig && lhs.sendExemplars == rhs.sendExemplars
            && lhs.protobufMessage == rhs.protobufMessage && lhs.protobufMessageFallback == rhs.protobufMessageFallback && lhs.writeRelabelConfigs.count == rhs.writeRelabelConfigs.count
    }

    /// The remote-write protocol's message.
    public enum ProtobufMessage: String, Sendable {
        case v1 = "prometheus.WriteRequest"
        case v2 = "io.prometheus.write.v2.Request"
    }

    public var url: String
    /// A name unique among the endpoints; defaults to a hash of the URL, as in Prometheus.
    public var name: String
    /// Prometheus's default: 30s.
    public var remoteTimeout: Duration = .seconds(30)
    public var queueConfig = QueueConfig()
    /// Extra request headers (e.g. `X-Scope-OrgID`); the protocol's own headers are reserved.
    public var headers: [(name: String, value: String)] = []
    public var httpClient = HTTPClientConfig()
    /// Applied after external labels are added.
    public var writeRelabelConfigs: [RelabelConfig] = []
    public var metadataConfig = MetadataConfig()
    public var sendExemplars = false
    public var protobufMessage = ProtobufMessage.v1
    /// `protobuf_message_fallback` (ours): when a receiver answers 415 Unsupported Media Type to a
    /// Remote Write 2.0 request, send Remote Write 1.0 to it from then on.
    public var protobufMessageFallback = false
    /// The endpoint's YAML and the external labels, canonically serialized (see ScrapeConfig).
    public var fingerprint: String = ""

    public init(url: String, name: String) {
        self.url = url
        self.name = name
    }
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

/// `queue_config` with Prometheus's defaults.
public struct QueueConfig: Sendable, Equatable {
    public var capacity = 10_000
    public var minShards = 1
    public var maxShards = 50
    public var maxSamplesPerSend = 2_000
    public var batchSendDeadline: Duration = .seconds(5)
    public var minBackoff: Duration = .milliseconds(30)
    public var maxBackoff: Duration = .seconds(5)
    /// Prometheus's default is false; Grafana Agent and Alloy retry 429. We follow the agents.
    public var retryOnHTTP429 = true
    /// Samples older than this are dropped instead of sent (0: no limit).
    public var sampleAgeLimit: Duration = .zero
    /// `retry_on_http_status` (ours): status codes retried besides 5xx (and 429, unless
    /// `retry_on_http_429: false`), e.g. `[408, 425]`.
    public var retryOnHTTPStatus: [Int] = []

    public init() {}
}

/// `metadata_config`.
public struct MetadataConfig: Sendable, Equatable {
    public var send = true
    public var sendInterval: Duration = .seconds(60)
    public var maxSamplesPerSend = 2_000

    public init() {}
}

extension Configuration {
    /// Makes relative file paths (file SD, TLS files, credential files) relative to `directory`,
    /// the configuration file's folder, as Prometheus does.
    mutating func resolvePaths(relativeTo directory: String) {
        guard !directory.isEmpty else { return }
        func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : directory + "/" + path }
        func resolve(_ client: inout HTTPClientConfig) {
            client.tls.caFile = client.tls.caFile.map(resolve)
            client.tls.certFile = client.tls.certFile.map(resolve)
            client.tls.keyFile = client.tls.keyFile.map(resolve)
            if case .file(let path) = client.basicAuth?.password { client.basicAuth?.password = .file(resolve(path)) }
            if case .file(let path) = client.authorization?.credentials { client.authorization?.credentials = .file(resolve(path)) }
        }
        for index in scrapeConfigs.indices {
            resolve(&scrapeConfigs[index].httpClient)
            for sd in scrapeConfigs[index].fileSDConfigs.indices {
                scrapeConfigs[index].fileSDConfigs[sd].files = scrapeConfigs[index].fileSDConfigs[sd].files.map(resolve)
            }
        }
        for index in remoteWrite.indices { resolve(&remoteWrite[index].httpClient) }
    }
}
