import AgentConfig
import Foundation
import Yams

/// What a conversion produced: the configuration for this agent, and everything the reader
/// must know about what did not carry over as it was.
public struct ConversionResult: Sendable {
    /// The converted configuration, YAML in this agent's (Prometheus's) format.
    public var yaml: String
    /// In input order: dropped, ignored, flags and notes.
    public var findings: [ConversionFinding]

    /// The findings of things the output does not do.
    public var dropped: [ConversionFinding] { findings.filter { $0.kind == .dropped } }
    /// Flags to pass to `agent run` with the converted file.
    public var flags: [String] { findings.filter { $0.kind == .flag }.map(\.message) }

    /// Loads the converted configuration as `agent run` would (with `--config.expand-env`
    /// when `expandEnvironment`), naming it `file` in errors.
    public func load(as file: String, expandEnvironment: Bool, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigErrors) -> Configuration
    {
        try ConfigLoader.parse(yaml: expandEnvironment ? ConfigLoader.expand(yaml, environment: environment) : yaml, file: file)
    }
}

/// Converts a Grafana Agent static-mode configuration (`server`, `metrics`, `integrations`,
/// `logs`, `traces`) to this agent's configuration. See docs/grafana-agent.md.
///
/// Scrape configs and remote writes are Prometheus's own format in both and are copied as
/// written (comments are not kept); the converter does not validate them: loading the result
/// with ``ConfigLoader`` does (``ConversionResult/load(as:expandEnvironment:environment:)``).
public enum GrafanaAgentConverter {
    public static func convert(yaml: String, file: String) throws(ConversionError) -> ConversionResult {
        var report = ConversionReport(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConversionError(file: file, line: 0, message: "invalid YAML: \(error)")
        }
        let source = try StaticModeFile.read(root, report: &report)
        let merged = InstanceMerge.merge(source, report: &report)

        var document: [(Node, Node)] = []
        if !source.global.isEmpty {
            document.append((.text("global"), .mapping(.init(source.global.map { ($0.key.detached, $0.value.detached) }))))
        }
        if !merged.scrapeConfigs.isEmpty { document.append((.text("scrape_configs"), Node(merged.scrapeConfigs))) }
        if !merged.remoteWrite.isEmpty { document.append((.text("remote_write"), Node(merged.remoteWrite))) }
        let active = source.instances.filter { !$0.scrapeConfigs.isEmpty }
        if let maxAge = active.map(\.maxWALTime).max() {
            if maxAge > .zero {
                document.append((.text("wal"), .map([("max_age", .text(PrometheusDuration.format(maxAge)))])))
                let explicit = Set(active.map(\.maxWALTime)).count > 1 ? "the largest max_wal_time of the instances (one WAL serves them all)"
                    : maxAge == MetricsInstance.defaultMaxWALTime ? "max_wal_time (4h, Grafana Agent's default)" : "max_wal_time"
                report.add(.note, "metrics.configs", at: nil, "wal.max_age: \(PrometheusDuration.format(maxAge)) from \(explicit); wal.max_size (1GiB unless set) caps the WAL as well")
            } else {
                report.add(.ignored, "metrics.configs", at: nil, "max_wal_time of 0 keeps no data in Grafana Agent; the agent's default WAL caps apply instead")
            }
        }
        if let deadline = active.compactMap(\.remoteFlushDeadline).max() {
            report.add(.flag, "metrics.configs", at: nil, "--storage.remote.flush-deadline=\(PrometheusDuration.format(deadline))")
        }

        var text = "# Converted by `agent config convert --from=grafana-agent` from \((file as NSString).lastPathComponent).\n"
        if !document.isEmpty {
            do {
                text += try Yams.serialize(node: Node(document), indent: 2, width: -1, allowUnicode: true)
            } catch {
                throw ConversionError(file: file, line: 0, message: "cannot write the converted configuration: \(error)")
            }
        }
        return ConversionResult(yaml: text, findings: report.findings)
    }
}
