import Yams

/// The parts of a Grafana Agent static-mode file that carry over to this agent, read from the
/// YAML tree. Reading reports every other key (see ``ConversionReport``): `server` settings
/// that become flags, `integrations`, `logs` and `traces`, which are dropped, and the old agent's
/// own machinery, which is ignored.
struct StaticModeFile {
    /// `metrics.global` without `remote_write`: Prometheus's global settings, copied as written.
    var global: [(key: Node, value: Node)] = []
    /// `metrics.global.remote_write`: the endpoints of every instance that has none of its own.
    var globalRemoteWrite: [Node] = []
    /// `metrics.configs`, in order.
    var instances: [MetricsInstance] = []

    static func read(_ root: Node?, report: inout ConversionReport) throws(ConversionError) -> StaticModeFile {
        var file = StaticModeFile()
        guard let root, !root.isNull else { return file }
        guard let top = root.entries else { throw report.error(at: root, "expected a mapping at the top level (a Grafana Agent static-mode file)") }
        let metricsKeys = top.filter { $0.key == "metrics" || $0.key == "prometheus" }
        if metricsKeys.count > 1 {
            throw report.error(at: metricsKeys[1].keyNode, "at most one of prometheus and metrics may be set (as in Grafana Agent)")
        }
        for (key, keyNode, value) in top {
            switch key {
            case "metrics", "prometheus":
                if key == "prometheus" {
                    report.add(.note, key, at: keyNode, "read as metrics (its deprecated name in Grafana Agent)")
                }
                try file.readMetrics(value, key, report: &report)
            case "server":
                readServer(value, report: &report)
            case "integrations":
                readIntegrations(value, report: &report)
            case "logs", "loki":
                if !value.isNull {
                    report.add(.dropped, key, at: keyNode, "log collection (Promtail pipelines) has no equivalent: this agent handles metrics only; run Promtail or Grafana Alloy for logs")
                }
            case "traces", "tempo":
                if !value.isNull {
                    report.add(.dropped, key, at: keyNode, "trace collection (OpenTelemetry pipelines) has no equivalent: this agent handles metrics only; run Grafana Alloy or an OpenTelemetry Collector for traces")
                }
            case "agent_management":
                report.add(.dropped, key, at: keyNode, "remote configuration from Grafana Agent management has no equivalent: the configuration is this file")
            default:
                report.add(.dropped, key, at: keyNode, "unknown key \"\(key)\" has no equivalent")
            }
        }
        return file
    }

    // MARK: metrics

    private mutating func readMetrics(_ node: Node, _ path: String, report: inout ConversionReport) throws(ConversionError) {
        if node.isNull { return }
        guard let entries = node.entries else { throw report.error(at: node, "\(path): expected a mapping") }
        for (key, keyNode, value) in entries {
            let keyPath = "\(path).\(key)"
            switch key {
            case "global":
                try readGlobal(value, keyPath, report: &report)
            case "configs":
                if value.isNull { continue }
                guard let list = value.sequence else { throw report.error(at: value, "\(keyPath): expected a list of instances") }
                for (index, instanceNode) in list.enumerated() {
                    let instance = try MetricsInstance.read(instanceNode, "\(keyPath)[\(index)]", report: &report)
                    if let first = instances.first(where: { $0.name == instance.name }) {
                        throw report.error(at: instanceNode, "instance names must be unique: \"\(instance.name)\" is also \(first.path)")
                    }
                    instances.append(instance)
                }
            case "wal_directory":
                if let directory = value.scalar?.string {
                    report.add(.flag, keyPath, at: keyNode, "--storage.path=\(directory)")
                    report.add(.note, keyPath, at: keyNode, "the agent's WAL is not Grafana Agent's: it keeps its own wal/ and remote/ folders there and does not read what Grafana Agent left (a fresh directory is best)")
                }
            case "wal_cleanup_age", "wal_cleanup_period":
                report.add(.ignored, keyPath, at: keyNode, "cleanup of abandoned per-instance WAL folders: the agent has one WAL, removed as endpoints acknowledge it and capped by wal.max_size and wal.max_age")
            case "instance_restart_backoff":
                report.add(.ignored, keyPath, at: keyNode, "the agent has no instances to restart")
            case "instance_mode":
                report.add(.ignored, keyPath, at: keyNode, "the agent runs all jobs in one scraper and one WAL whatever the mode")
            case "http_idle_conn_timeout":
                report.add(.ignored, keyPath, at: keyNode, "idle scrape connections are managed by the agent's HTTP client (libcurl's connection cache)")
            case "http_disable_keepalives":
                if value.boolValue == true {
                    report.add(.dropped, keyPath, at: keyNode, "the agent always reuses scrape connections; it has no setting to disable keep-alive")
                }
            case "scraping_service":
                if value["enabled"]?.boolValue == true {
                    report.add(.dropped, keyPath, at: keyNode, "the clustered scraping service (configs in a KV store, targets sharded across agents) has no equivalent; the configs it served must be added to this file")
                } else {
                    report.add(.ignored, keyPath, at: keyNode, "the scraping service is not enabled")
                }
            case "scraping_service_client":
                report.add(.ignored, keyPath, at: keyNode, "gRPC client of the scraping service, which the agent does not have")
            default:
                report.add(.dropped, keyPath, at: keyNode, "unknown key \"\(key)\" has no equivalent")
            }
        }
    }

    private mutating func readGlobal(_ node: Node, _ path: String, report: inout ConversionReport) throws(ConversionError) {
        if node.isNull { return }
        guard case .mapping(let mapping) = node else { throw report.error(at: node, "\(path): expected a mapping") }
        for pair in mapping {
            if pair.key.scalar?.string == "remote_write" {
                if pair.value.isNull { continue }
                guard let list = pair.value.sequence else { throw report.error(at: pair.value, "\(path).remote_write: expected a list") }
                globalRemoteWrite = Array(list)
            } else {
                global.append((pair.key, pair.value))
            }
        }
    }

    // MARK: server

    /// `server:`: log settings and listen addresses become flags of `agent run`.
    private static func readServer(_ node: Node, report: inout ConversionReport) {
        guard let entries = node.entries else { return }
        let port = entries.first { $0.key == "http_listen_port" }
        let address = entries.first { $0.key == "http_listen_address" }
        if port != nil || address != nil {
            let host = address?.value.scalar?.string ?? "0.0.0.0"
            let portText = port?.value.scalar?.string ?? "9099"
            report.add(.flag, "server.\(port?.key ?? "http_listen_address")", at: (port ?? address)?.keyNode, "--web.listen-address=\(host.isEmpty ? "0.0.0.0" : host):\(portText)")
        }
        for (key, keyNode, value) in entries {
            let keyPath = "server.\(key)"
            switch key {
            case "log_level":
                report.add(.flag, keyPath, at: keyNode, "--log.level=\(value.scalar?.string ?? "info")")
            case "log_format":
                report.add(.flag, keyPath, at: keyNode, "--log.format=\(value.scalar?.string ?? "logfmt")")
            case "http_listen_port", "http_listen_address":
                continue
            case "http_tls_config":
                report.add(.dropped, keyPath, at: keyNode, "the agent's HTTP endpoint (/metrics, /-/reload, /api/v1/targets) serves plain HTTP only")
            case "grpc_tls_config", "grpc_listen_port", "grpc_listen_address", "grpc_listen_network":
                report.add(.ignored, keyPath, at: keyNode, "the agent has no gRPC server (Grafana Agent used it for the scraping service)")
            default:
                report.add(.dropped, keyPath, at: keyNode, "server setting \"\(key)\" has no equivalent")
            }
        }
    }

    // MARK: integrations

    /// Settings of the integrations subsystem itself, rather than integrations.
    private static let integrationSettings: Set<String> = [
        "scrape_integrations", "replace_instance_label", "use_hostname_label", "prometheus_remote_write",
        "integration_restart_backoff", "labels", "http_tls_config", "metrics",
    ]

    /// `integrations:`: every integration (an embedded exporter) not disabled with
    /// `enabled: false` is dropped. (Integrations v1 enable one with `enabled: true`; the
    /// integrations-next feature enables every one that is present, so presence counts.)
    private static func readIntegrations(_ node: Node, report: inout ConversionReport) {
        guard let entries = node.entries else { return }
        for (key, keyNode, value) in entries {
            let keyPath = "integrations.\(key)"
            if integrationSettings.contains(key) {
                report.add(.ignored, keyPath, at: keyNode, "a setting of Grafana Agent's integrations, which are not converted")
            } else if value["enabled"]?.boolValue == false {
                report.add(.ignored, keyPath, at: keyNode, "integration is disabled")
            } else {
                report.add(.dropped, keyPath, at: keyNode, "the integration (an exporter embedded in Grafana Agent) has no equivalent: run the exporter itself and add a scrape config for it")
            }
        }
    }
}
