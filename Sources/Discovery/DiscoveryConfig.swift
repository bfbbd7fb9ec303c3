import AgentConfig

/// One way a job discovers targets, as the ``DiscoveryManager`` keys its providers: two jobs with
/// equal configs share one provider.
public enum DiscoveryConfig: Sendable, Equatable {
    /// A job's `static_configs`, as groups `static/0`, `static/1`, ….
    case `static`([TargetGroup])
    case file(FileSDConfig)
    case kubernetes(KubernetesSDConfig)
    case http(HTTPSDConfig)
    case dns(DNSSDConfig)

    /// The discovery configs of a scrape config: static, file, Kubernetes, HTTP, DNS.
    public static func configs(of scrape: ScrapeConfig) -> [DiscoveryConfig] {
        var configs: [DiscoveryConfig] = []
        if !scrape.staticConfigs.isEmpty {
            configs.append(.static(scrape.staticConfigs.enumerated().map { index, group in
                TargetGroup(source: "static/\(index)", addresses: group.targets, labels: group.labels)
            }))
        }
        configs += scrape.fileSDConfigs.map { .file($0) }
        configs += scrape.kubernetesSDConfigs.map { .kubernetes($0) }
        configs += scrape.httpSDConfigs.map { .http($0) }
        configs += scrape.dnsSDConfigs.map { .dns($0) }
        return configs
    }

    /// The name of the mechanism, for logs and metrics.
    public var mechanism: String {
        switch self {
        case .static: "static"
        case .file: "file"
        case .kubernetes: "kubernetes"
        case .http: "http"
        case .dns: "dns"
        }
    }
}
