import Yams

/// One entry of `metrics.configs`: a Grafana Agent metrics instance, a mini Prometheus agent
/// with its own jobs, remote writes and WAL.
struct MetricsInstance {
    var name: String
    /// Where it is in the input (`metrics.configs[1]`), for messages.
    var path: String
    /// `scrape_configs`, as written.
    var scrapeConfigs: [Node] = []
    /// `remote_write`, as written; nil when absent or empty, in which case Grafana Agent uses
    /// `global.remote_write` instead.
    var remoteWrite: [Node]?
    /// `max_wal_time`: how old data may get in its WAL before it is removed, sent or not.
    var maxWALTime = MetricsInstance.defaultMaxWALTime
    /// `remote_flush_deadline`, when set.
    var remoteFlushDeadline: Duration?

    /// Grafana Agent's default `max_wal_time`.
    static let defaultMaxWALTime = Duration.seconds(4 * 3600)

    static func read(_ node: Node, _ path: String, report: inout ConversionReport) throws(ConversionError) -> MetricsInstance {
        guard let entries = node.entries else { throw report.error(at: node, "\(path): expected a mapping (a metrics instance)") }
        guard let name = entries.first(where: { $0.key == "name" })?.value.scalar?.string, !name.isEmpty else {
            throw report.error(at: node, "\(path): missing instance name (Grafana Agent requires one)")
        }
        var instance = MetricsInstance(name: name, path: path)
        let hostFilter = entries.first { $0.key == "host_filter" }?.value.boolValue == true
        for (key, keyNode, value) in entries {
            let keyPath = "\(path).\(key)"
            func duration() throws(ConversionError) -> Duration {
                guard let text = value.scalar?.string, let duration = GoDuration.parse(text) else {
                    throw report.error(at: value, "\(keyPath): invalid duration \"\(value.scalar?.string ?? "")\"")
                }
                return duration
            }
            switch key {
            case "name":
                continue
            case "scrape_configs":
                if value.isNull { continue }
                guard let list = value.sequence else { throw report.error(at: value, "\(keyPath): expected a list") }
                instance.scrapeConfigs = Array(list)
            case "remote_write":
                if value.isNull { continue }
                guard let list = value.sequence else { throw report.error(at: value, "\(keyPath): expected a list") }
                instance.remoteWrite = list.isEmpty ? nil : Array(list)
            case "host_filter":
                if hostFilter {
                    report.add(.dropped, keyPath, at: keyNode, "scraping only the targets on the agent's own host has no equivalent (Grafana Agent matched the hostname against __address__ and node meta labels): every target of \(name)'s jobs will be scraped; a relabel rule keeping this node's targets, e.g. on __meta_kubernetes_pod_node_name with --config.expand-env, can take its place")
                }
            case "host_filter_relabel_configs":
                report.add(hostFilter ? .dropped : .ignored, keyPath, at: keyNode, hostFilter ? "goes with host_filter, which has no equivalent" : "only used with host_filter: true")
            case "max_wal_time":
                instance.maxWALTime = try duration()
            case "min_wal_time":
                report.add(.ignored, keyPath, at: keyNode, "the agent removes WAL segments once every endpoint has acknowledged them; there is no minimum age")
            case "wal_truncate_frequency":
                report.add(.ignored, keyPath, at: keyNode, "the agent truncates the WAL as endpoints acknowledge data, not on a timer")
            case "remote_flush_deadline":
                instance.remoteFlushDeadline = try duration()
            case "write_stale_on_shutdown":
                if value.boolValue == true {
                    report.add(.dropped, keyPath, at: keyNode, "the agent writes no staleness markers on a clean shutdown")
                }
            default:
                report.add(.dropped, keyPath, at: keyNode, "unknown key \"\(key)\" has no equivalent")
            }
        }
        return instance
    }
}
