import AgentConfig
import WAL

/// One endpoint to scrape, with the labels every series from it gets.
public struct Target: Sendable, Hashable {
    public var job: String
    public var scheme: String
    /// `host:port`.
    public var address: String
    public var metricsPath: String
    public var interval: Duration
    public var timeout: Duration
    public var honorLabels: Bool
    /// `job`, `instance` and the static config's labels.
    public var labels: Labels

    public var url: String { "\(scheme)://\(address)\(metricsPath)" }

    /// The targets a scrape config's `static_configs` name, in order.
    public static func targets(for config: ScrapeConfig) -> [Target] {
        config.staticConfigs.flatMap { group in
            group.targets.map { address in
                let labels = Labels(group.labels.pairs + [Label("job", config.jobName), Label("instance", address)])
                return Target(
                    job: config.jobName,
                    scheme: config.scheme,
                    address: address,
                    metricsPath: config.metricsPath,
                    interval: config.scrapeInterval,
                    timeout: config.scrapeTimeout,
                    honorLabels: config.honorLabels,
                    labels: labels
                )
            }
        }
    }

    /// A stable offset within the interval, so that many targets do not all fire at once.
    var offset: Duration {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(job)\u{0}\(url)\u{0}\(labels)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let intervalNanos = UInt64(max(1, interval.milliseconds)) * 1_000_000
        return .nanoseconds(Int64(hash % intervalNanos))
    }
}
