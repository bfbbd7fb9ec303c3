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
            for sd in scrapeConfigs[index].httpSDConfigs.indices { resolve(&scrapeConfigs[index].httpSDConfigs[sd].httpClient) }
            for sd in scrapeConfigs[index].fileSDConfigs.indices {
                scrapeConfigs[index].fileSDConfigs[sd].files = scrapeConfigs[index].fileSDConfigs[sd].files.map(resolve)
            }
        }
        for index in remoteWrite.indices { resolve(&remoteWrite[index].httpClient) }
    }
}
