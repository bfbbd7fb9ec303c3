import AgentConfig
import Discovery
import Relabel
import Model
import WAL

/// One endpoint to scrape, with the labels every series from it gets. Its ``url`` and ``id`` are
/// computed once, when relabeling makes it (maps of thousands of targets key on the id).
///
/// A value of one reference: every field lives in one immutable object shared by all copies, so
/// the maps, lists and loops that hold thousands of targets hold 8 bytes per target each (the
/// scrape config alone is several hundred bytes inline).
public struct Target: Sendable, Equatable {
    private final class Storage: Sendable {
        let config: ScrapeConfig
        let address: String
        let scheme: String
        let metricsPath: String
        let params: [(name: String, values: [String])]
        let interval: Duration
        let timeout: Duration
        let labels: Labels
        let origin: DiscoveredTarget
        let url: String
        let id: String

        init(
            config: ScrapeConfig, address: String, scheme: String, metricsPath: String, params: [(name: String, values: [String])],
            interval: Duration, timeout: Duration, labels: Labels, origin: DiscoveredTarget
        ) {
            self.config = config
            self.address = address
            self.scheme = scheme
            self.metricsPath = metricsPath
            self.params = params
            self.interval = interval
            self.timeout = timeout
            self.labels = labels
            self.origin = origin
            let query = params.sorted { $0.name < $1.name }.flatMap { param in
                param.values.map { "\(Target.queryEscape(param.name))=\(Target.queryEscape($0))" }
            }
            let base = "\(scheme)://\(address)\(metricsPath)"
            url = query.isEmpty ? base : base + "?" + query.joined(separator: "&")
            id = "\(config.jobName)\u{0}\(url)\u{0}\(labels)"
        }
    }

    private let storage: Storage

    /// The scrape config this target comes from.
    public var config: ScrapeConfig { storage.config }
    /// `host:port`.
    public var address: String { storage.address }
    public var scheme: String { storage.scheme }
    public var metricsPath: String { storage.metricsPath }
    /// Query parameters: the config's `params`, with `__param_<name>` labels overriding.
    public var params: [(name: String, values: [String])] { storage.params }
    public var interval: Duration { storage.interval }
    public var timeout: Duration { storage.timeout }
    /// The labels every series of the target gets (relabeled; no `__` labels).
    public var labels: Labels { storage.labels }
    /// Where discovery found the target, for ``discoveredLabels``.
    var origin: DiscoveredTarget { storage.origin }
    /// The scrape URL: scheme, address, metrics path and params (sorted by name and
    /// query-escaped as Go's `url.Values.Encode` does, so it matches Prometheus's URL).
    public var url: String { storage.url }
    /// Identifies the target among all targets and across reloads: job, URL and labels. (A
    /// changed interval restarts the target's loop without staleness markers, as in Prometheus.)
    public var id: String { storage.id }

    init(
        config: ScrapeConfig, address: String, scheme: String, metricsPath: String, params: [(name: String, values: [String])],
        interval: Duration, timeout: Duration, labels: Labels, origin: DiscoveredTarget
    ) {
        storage = Storage(
            config: config, address: address, scheme: scheme, metricsPath: metricsPath, params: params, interval: interval,
            timeout: timeout, labels: labels, origin: origin)
    }

    public static func == (lhs: Target, rhs: Target) -> Bool {
        lhs.storage === rhs.storage || (lhs.id == rhs.id && lhs.config == rhs.config)
    }

    public var job: String { config.jobName }
    public var honorLabels: Bool { config.honorLabels }

    /// The labels discovery gave the target, before relabeling (`__address__`, `__scheme__`, …),
    /// built again from its group when asked (for the targets API): kept per target, they were
    /// most of the agent's memory with thousands of Kubernetes targets.
    public var discoveredLabels: Labels { origin.discoveredLabels }

    /// What became of one discovered target.
    public enum Outcome: Sendable {
        case active(Target)
        /// Dropped by relabeling, or left without an address.
        case dropped(DiscoveredTarget)
    }

    /// The targets of a scrape config's `static_configs`, relabeled.
    public static func targets(for config: ScrapeConfig) -> [Target] {
        guard case .static(let groups) = DiscoveryConfig.configs(of: config).first else { return [] }
        return targets(for: config, groups: groups).compactMap {
            if case .active(let target) = $0 { return target }
            return nil
        }
    }

    /// Prometheus's `PopulateLabels` for every target of `groups`: the group's labels and
    /// `__address__`, the config's defaults (`job`, `__scheme__`, `__metrics_path__`,
    /// `__scrape_interval__`, `__scrape_timeout__`, `__param_<name>`), then `relabel_configs`;
    /// then `__meta_*`/`__tmp*` and all other `__` labels leave the target's label set, and
    /// `instance` defaults to the address.
    public static func targets(for config: ScrapeConfig, groups: [TargetGroup]) -> [Outcome] {
        var outcomes: [Outcome] = []
        let defaults = DiscoveredTarget.defaults(of: config)
        for group in groups {
            for index in group.targets.indices {
                let origin = DiscoveredTarget(job: config.jobName, group: group, index: index, defaults: defaults)
                outcomes.append(target(config: config, origin: origin, discovered: origin.discoveredLabels))
            }
        }
        return outcomes
    }

    private static func target(config: ScrapeConfig, origin: DiscoveredTarget, discovered: Labels) -> Outcome {
        guard var relabeled = Relabeler.process(discovered, with: config.relabelConfigs),
            var address = relabeled["__address__"], !address.isEmpty, !address.contains("/")
        else { return .dropped(origin) }
        // Prometheus 2 adds the scheme's default port to an address without one.
        if !Self.hasPort(address) {
            address += (relabeled["__scheme__"] ?? config.scheme) == "https" ? ":443" : ":80"
            relabeled = relabeled.setting("__address__", to: address)
        }
        let interval = relabeled["__scrape_interval__"].flatMap(PrometheusDuration.parse) ?? config.scrapeInterval
        let timeout = relabeled["__scrape_timeout__"].flatMap(PrometheusDuration.parse) ?? config.scrapeTimeout
        guard interval > .zero, timeout <= interval else { return .dropped(origin) }
        var params = config.params
        let paramPrefix = Array("__param_".utf8)
        relabeled.forEach { name, value in
            guard name.starts(with: paramPrefix) else { return }
            let name = String(decoding: name.dropFirst(paramPrefix.count), as: UTF8.self)
            let value = String(decoding: value, as: UTF8.self)
            if let index = params.firstIndex(where: { $0.name == name }) {
                params[index].values[0] = value
            } else {
                params.append((name, [value]))
            }
        }
        // Labels starting with "__" leave the target's label set, on bytes.
        var final = relabeled.filter { name in !(name.count >= 2 && name[0] == 0x5F && name[1] == 0x5F) }
        if relabeled["instance"] == nil { final = final.setting("instance", to: address) }
        return .active(
            Target(
                config: config, address: address, scheme: relabeled["__scheme__"] ?? config.scheme,
                metricsPath: relabeled["__metrics_path__"] ?? config.metricsPath, params: params, interval: interval,
                timeout: timeout, labels: final, origin: origin))
    }

    /// Whether `address` is `host:port` or `[v6]:port`.
    static func hasPort(_ address: String) -> Bool {
        if address.hasPrefix("[") { return address.contains("]:") }
        return address.contains(":")
    }

    /// A stable offset within the interval, so that many targets do not all fire at once.
    var offset: Duration {
        let hash = Array(id.utf8).withUnsafeBytes { ByteHash.hash64($0) }
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
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
