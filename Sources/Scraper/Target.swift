import AgentConfig
import WAL

/// One endpoint to scrape, with the labels every series from it gets.
public struct Target: Sendable, Equatable {
    /// The scrape config this target comes from.
    public var config: ScrapeConfig
    /// `host:port`.
    public var address: String
    /// `job`, `instance` and the static config's labels.
    public var labels: Labels
    /// The labels discovery gave the target, before relabeling (`__address__`, `__scheme__`, …).
    public var discoveredLabels: Labels

    public var job: String { config.jobName }
    public var interval: Duration { config.scrapeInterval }
    public var timeout: Duration { config.scrapeTimeout }
    public var honorLabels: Bool { config.honorLabels }

    /// The scrape URL: scheme, address, metrics path and `params` (sorted by name and
    /// query-escaped as Go's `url.Values.Encode` does, so it matches Prometheus's URL).
    public var url: String {
        let query = config.params.sorted { $0.name < $1.name }.flatMap { param in
            param.values.map { "\(Self.queryEscape(param.name))=\(Self.queryEscape($0))" }
        }
        let base = "\(config.scheme)://\(address)\(config.metricsPath)"
        return query.isEmpty ? base : base + "?" + query.joined(separator: "&")
    }

    /// Identifies the target among all targets: job, URL and labels.
    public var id: String { "\(job)\u{0}\(url)\u{0}\(labels)" }

    /// The targets a scrape config's `static_configs` name, in order.
    public static func targets(for config: ScrapeConfig) -> [Target] {
        config.staticConfigs.flatMap { group in
            group.targets.map { address in
                let labels = Labels(group.labels.pairs + [Label("job", config.jobName), Label("instance", address)])
                let discovered = Labels(
                    group.labels.pairs + [
                        Label("__address__", address), Label("__metrics_path__", config.metricsPath),
                        Label("__scheme__", config.scheme), Label("job", config.jobName),
                        Label("__scrape_interval__", PrometheusDuration.format(config.scrapeInterval)),
                        Label("__scrape_timeout__", PrometheusDuration.format(config.scrapeTimeout)),
                    ])
                return Target(config: config, address: address, labels: labels, discoveredLabels: discovered)
            }
        }
    }

    /// A stable offset within the interval, so that many targets do not all fire at once.
    var offset: Duration {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let intervalNanos = UInt64(max(1, interval.milliseconds)) * 1_000_000
        return .nanoseconds(Int64(hash % intervalNanos))
    }

    /// Go's `url.QueryEscape`: unreserved bytes stay, space becomes `+`, the rest `%XX`.
    static func queryEscape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
