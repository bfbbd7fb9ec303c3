import Relabel
import Model

/// One `remote_write` entry.
public struct RemoteWriteConfig: Sendable, Equatable {
    public static func == (lhs: RemoteWriteConfig, rhs: RemoteWriteConfig) -> Bool {
        lhs.url == rhs.url && lhs.name == rhs.name && lhs.fingerprint == rhs.fingerprint && lhs.remoteTimeout == rhs.remoteTimeout
            && lhs.queueConfig == rhs.queueConfig && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value) && lhs.httpClient == rhs.httpClient && lhs.sigv4 == rhs.sigv4
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
    /// Set when requests are signed with AWS Signature V4 instead of `httpClient`'s credentials.
    public var sigv4: SigV4Config?
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
