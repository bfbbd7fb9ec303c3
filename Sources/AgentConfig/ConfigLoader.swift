import Foundation
import Relabel
import Model
import Yams

/// Every problem found in one configuration file.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }

    public init(errors: [ConfigError]) {
        self.errors = errors
    }
}

/// Reads a Prometheus-format YAML configuration, applying Prometheus's defaults and rejecting
/// unknown keys, wrong types and invalid values with errors that name file, line, column and key.
public enum ConfigLoader {
    /// Loads and validates the file at `path`; with `expandEnvironment`, `${VAR}` and
    /// `${VAR:-default}` are replaced from `environment` first (`$$` is a literal `$`).
    public static func load(
        file path: String, expandEnvironment: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors(errors: [
                ConfigError(file: path, line: 0, column: 0, key: "", message: "cannot read file: \(error.localizedDescription)")
            ])
        }
        var configuration = try parse(yaml: expandEnvironment ? expand(text, environment: environment) : text, file: path)
        configuration.resolvePaths(relativeTo: (path as NSString).deletingLastPathComponent)
        return configuration
    }

    /// `${VAR}` and `${VAR:-default}` replaced from `environment` (an unset VAR without a default
    /// becomes empty), `$$` replaced by `$`; anything else is left as written.
    public static func expand(_ text: String, environment: [String: String]) -> String {
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.first == "$" {
                out += "$"
                rest = after.dropFirst()
            } else if after.first == "{", let close = after.firstIndex(of: "}") {
                let body = after[after.index(after: after.startIndex)..<close]
                let (name, fallback): (Substring, Substring?) =
                    body.range(of: ":-").map { (body[..<$0.lowerBound], body[$0.upperBound...]) } ?? (body, nil)
                let value = environment[String(name)].flatMap { $0.isEmpty ? nil : $0 }
                out += value ?? fallback.map(String.init) ?? ""
                rest = after[after.index(after: close)...]
            } else {
                out += "$"
                rest = after
            }
        }
        return out + rest
    }

    /// Parses and validates `yaml`; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> Configuration {
        var reader = NodeReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigErrors(errors: [reader.yamlSyntaxError(error)])
        }
        let config = reader.configuration(root)
        if !reader.errors.isEmpty { throw ConfigErrors(errors: reader.errors) }
        return config
    }
}

/// Walks the YAML node tree, collecting errors instead of stopping at the first.
struct NodeReader {
    let file: String
    var errors: [ConfigError] = []
    var warnings: [String] = []

    init(file: String) { self.file = file }

    mutating func fail(_ node: Node?, _ key: String, _ message: String) {
        errors.append(ConfigError(file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, key: key, message: message))
    }

    func yamlSyntaxError(_ error: Error) -> ConfigError {
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                return ConfigError(file: file, line: mark.line, column: mark.column, key: "", message: "invalid YAML: \(problem)")
            default: break
            }
        }
        return ConfigError(file: file, line: 0, column: 0, key: "", message: "invalid YAML: \(error)")
    }

    // MARK: Generic readers

    /// The mapping's entries, checking that every key is one of `known`. Keys in `ignored` are
    /// accepted with a warning (Prometheus keys an agent has no use for).
    mutating func mapping(_ node: Node, _ path: String, known: Set<String>, ignored: Set<String> = []) -> [String: Node] {
        guard let map = node.mapping else {
            fail(node, path, "expected a mapping, got \(kind(of: node))")
            return [:]
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in map {
            guard let key = keyNode.scalar?.string else {
                fail(keyNode, path, "keys must be strings")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if ignored.contains(key) {
                warnings.append("\(file):\(keyNode.mark?.line ?? 0): \(keyPath) is not used by the agent and is ignored")
                continue
            }
            guard known.contains(key) else {
                fail(keyNode, keyPath, "unknown key \"\(key)\"")
                continue
            }
            if result[key] != nil {
                fail(keyNode, keyPath, "duplicate key \"\(key)\"")
            }
            result[key] = value
        }
        return result
    }

    func kind(of node: Node) -> String {
        switch node {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        }
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return true
        }
        return false
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard let scalar = node.scalar else {
            fail(node, path, "expected a string, got \(kind(of: node))")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let scalar = node.scalar, let value = Bool.construct(from: scalar) else {
            fail(node, path, "expected true or false")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node, _ path: String) -> Int? {
        guard let scalar = node.scalar, let value = Int(scalar.string) else {
            fail(node, path, "expected an integer")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, _ path: String) -> Duration? {
        guard let text = string(node, path) else { return nil }
        guard let value = PrometheusDuration.parse(text) else {
            fail(node, path, "invalid duration \"\(text)\" (use e.g. 15s, 1m30s, 500ms)")
            return nil
        }
        return value
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node] {
        if isNull(node) { return [] }
        guard let sequence = node.sequence else {
            fail(node, path, "expected a list, got \(kind(of: node))")
            return []
        }
        return Array(sequence)
    }

    /// The list at an optional key; an absent key is an empty list.
    mutating func optionalSequence(_ node: Node?, _ path: String) -> [Node] {
        guard let node else { return [] }
        return sequence(node, path)
    }

    mutating func labels(_ node: Node, _ path: String) -> Labels {
        if isNull(node) { return .empty }
        guard let map = node.mapping else {
            fail(node, path, "expected a mapping of label names to values")
            return .empty
        }
        var pairs: [Label] = []
        for (keyNode, valueNode) in map {
            guard let name = keyNode.scalar?.string else { continue }
            guard LabelName.isValid(name) else {
                fail(keyNode, "\(path).\(name)", "invalid label name \"\(name)\"")
                continue
            }
            guard let value = string(valueNode, "\(path).\(name)") else { continue }
            pairs.append(Label(name, value))
        }
        return Labels(pairs)
    }

    // MARK: The model

    mutating func configuration(_ root: Node?) -> Configuration {
        var config = Configuration()
        guard let root, !isNull(root) else { return config }
        let top = mapping(
            root, "",
            known: ["global", "scrape_configs", "remote_write", "wal"],
            ignored: ["rule_files", "alerting", "remote_read", "storage", "tracing", "scrape_config_files", "otlp", "runtime"]
        )
        if let node = top["global"] { config.global = global(node) }
        let globalFingerprint = top["global"].map(Self.fingerprint) ?? ""
        for (index, node) in optionalSequence(top["scrape_configs"], "scrape_configs").enumerated() {
            if var scrape = scrapeConfig(node, "scrape_configs[\(index)]", global: config.global) {
                scrape.fingerprint = Self.fingerprint(node) + "\n---\n" + globalFingerprint
                if config.scrapeConfigs.contains(where: { $0.jobName == scrape.jobName }) {
                    fail(node, "scrape_configs[\(index)].job_name", "duplicate job name \"\(scrape.jobName)\"")
                }
                config.scrapeConfigs.append(scrape)
            }
        }
        for (index, node) in optionalSequence(top["remote_write"], "remote_write").enumerated() {
            if var remote = remoteWriteConfig(node, "remote_write[\(index)]") {
                remote.fingerprint += "\n---\n" + config.global.externalLabels.description
                if config.remoteWrite.contains(where: { $0.name == remote.name }) {
                    fail(node, "remote_write[\(index)].name", "duplicate remote write name \"\(remote.name)\"")
                }
                config.remoteWrite.append(remote)
            }
        }
        if let node = top["wal"] { config.wal = walConfig(node) }
        config.warnings = warnings
        return config
    }

    mutating func walConfig(_ node: Node) -> WALConfig {
        var wal = WALConfig()
        let map = mapping(node, "wal", known: ["segment_size", "max_size", "max_age", "compression"])
        func size(_ key: String, minimum: Int) -> Int? {
            guard let n = map[key], let text = string(n, "wal.\(key)") else { return nil }
            guard let bytes = ByteSize.parse(text) else {
                fail(n, "wal.\(key)", "invalid size \"\(text)\" (use e.g. 512MiB, 2GB)")
                return nil
            }
            guard bytes >= minimum else {
                fail(n, "wal.\(key)", "must be at least \(minimum) bytes")
                return nil
            }
            return bytes
        }
        if let v = size("segment_size", minimum: 64 << 10) { wal.segmentSize = v }
        if let v = size("max_size", minimum: 0) { wal.maxSize = v }
        if wal.maxSize > 0, wal.maxSize < 3 * wal.segmentSize {
            fail(map["max_size"] ?? node, "wal.max_size", "must be 0 (no cap) or at least three times wal.segment_size (\(wal.segmentSize) bytes)")
        }
        if let n = map["max_age"], let v = duration(n, "wal.max_age") { wal.maxAge = v }
        if let n = map["compression"], let text = string(n, "wal.compression") {
            switch text {
            case "snappy": wal.compression = true
            case "none": wal.compression = false
            default: fail(n, "wal.compression", "must be snappy or none, got \"\(text)\"")
            }
        }
        return wal
    }

    mutating func global(_ node: Node) -> GlobalConfig {
        var global = GlobalConfig()
        let map = mapping(
            node, "global",
            known: Set(["scrape_interval", "scrape_timeout", "external_labels"]).union(Self.limitKeys),
            ignored: ["evaluation_interval", "rule_query_offset", "query_log_file", "scrape_failure_log_file"]
        )
        global.limits = limits(map, "global", defaults: ScrapeLimits())
        if let n = map["scrape_interval"], let value = duration(n, "global.scrape_interval") { global.scrapeInterval = value }
        if let n = map["scrape_timeout"], let value = duration(n, "global.scrape_timeout") {
            global.scrapeTimeout = value
        } else {
            // Prometheus: an unset global timeout is the default 10s, capped at the global interval.
            global.scrapeTimeout = min(global.scrapeTimeout, global.scrapeInterval)
        }
        if let n = map["external_labels"] { global.externalLabels = labels(n, "global.external_labels") }
        if global.scrapeTimeout > global.scrapeInterval {
            fail(map["scrape_timeout"] ?? node, "global.scrape_timeout", "scrape timeout greater than scrape interval")
        }
        return global
    }

    mutating func scrapeConfig(_ node: Node, _ path: String, global: GlobalConfig) -> ScrapeConfig? {
        let map = mapping(
            node, path,
            known: Set([
                "job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "honor_labels",
                "honor_timestamps", "track_timestamps_staleness", "params", "enable_compression", "static_configs",
                "file_sd_configs", "kubernetes_sd_configs", "relabel_configs", "metric_relabel_configs",
            ]).union(Self.limitKeys).union(Self.httpClientKeys),
            ignored: ["scrape_protocols", "scrape_classic_histograms", "native_histogram_bucket_limit", "keep_dropped_targets", "target_limit"]
        )
        guard let nameNode = map["job_name"] else {
            fail(node, "\(path).job_name", "job_name is required")
            return nil
        }
        guard let jobName = string(nameNode, "\(path).job_name"), !jobName.isEmpty else {
            fail(nameNode, "\(path).job_name", "job_name must not be empty")
            return nil
        }
        let interval = map["scrape_interval"].flatMap { duration($0, "\(path).scrape_interval") } ?? global.scrapeInterval
        // Prometheus: an unset timeout is the global one, capped at this job's interval.
        let timeout = map["scrape_timeout"].flatMap { duration($0, "\(path).scrape_timeout") }
            ?? min(global.scrapeTimeout, interval)
        var scrape = ScrapeConfig(jobName: jobName, scrapeInterval: interval, scrapeTimeout: timeout)
        if timeout > interval {
            fail(map["scrape_timeout"] ?? node, "\(path).scrape_timeout", "scrape timeout \(PrometheusDuration.format(timeout)) greater than scrape interval \(PrometheusDuration.format(interval))")
        }
        if interval <= .zero {
            fail(map["scrape_interval"] ?? node, "\(path).scrape_interval", "scrape interval must be greater than 0")
        }
        if let n = map["metrics_path"], let value = string(n, "\(path).metrics_path") {
            if value.hasPrefix("/") { scrape.metricsPath = value } else { fail(n, "\(path).metrics_path", "must start with /") }
        }
        if let n = map["scheme"], let value = string(n, "\(path).scheme") {
            if value == "http" || value == "https" { scrape.scheme = value } else { fail(n, "\(path).scheme", "must be http or https, got \"\(value)\"") }
        }
        if let n = map["honor_labels"], let value = bool(n, "\(path).honor_labels") { scrape.honorLabels = value }
        if let n = map["honor_timestamps"], let value = bool(n, "\(path).honor_timestamps") { scrape.honorTimestamps = value }
        if let n = map["track_timestamps_staleness"], let value = bool(n, "\(path).track_timestamps_staleness") {
            scrape.trackTimestampsStaleness = value
        }
        if let n = map["enable_compression"], let value = bool(n, "\(path).enable_compression") { scrape.enableCompression = value }
        if let n = map["params"] { scrape.params = params(n, "\(path).params") }
        scrape.limits = limits(map, path, defaults: global.limits)
        scrape.httpClient = httpClient(map, node, path)
        for (index, staticNode) in optionalSequence(map["static_configs"], "\(path).static_configs").enumerated() {
            let staticPath = "\(path).static_configs[\(index)]"
            let staticMap = mapping(staticNode, staticPath, known: ["targets", "labels"])
            var targets: [String] = []
            for (targetIndex, targetNode) in optionalSequence(staticMap["targets"], "\(staticPath).targets").enumerated() {
                guard let target = string(targetNode, "\(staticPath).targets[\(targetIndex)]") else { continue }
                if target.isEmpty || target.contains("/") {
                    fail(targetNode, "\(staticPath).targets[\(targetIndex)]", "a target is host:port, got \"\(target)\"")
                    continue
                }
                targets.append(target)
            }
            let extra = staticMap["labels"].map { labels($0, "\(staticPath).labels") } ?? .empty
            scrape.staticConfigs.append(StaticConfig(targets: targets, labels: extra))
        }
        for (index, sdNode) in optionalSequence(map["file_sd_configs"], "\(path).file_sd_configs").enumerated() {
            let sdPath = "\(path).file_sd_configs[\(index)]"
            let sd = mapping(sdNode, sdPath, known: ["files", "refresh_interval"])
            let files = optionalSequence(sd["files"], "\(sdPath).files").compactMap { string($0, "\(sdPath).files") }
            if files.isEmpty { fail(sdNode, "\(sdPath).files", "file_sd_configs needs at least one file") }
            for (fileIndex, file) in files.enumerated() {
                if let problem = FileSDConfig.patternProblem(file) { fail(sd["files"], "\(sdPath).files[\(fileIndex)]", problem) }
            }
            var fileSD = FileSDConfig(files: files)
            if let n = sd["refresh_interval"], let value = duration(n, "\(sdPath).refresh_interval") { fileSD.refreshInterval = value }
            scrape.fileSDConfigs.append(fileSD)
        }
        for (index, sdNode) in optionalSequence(map["kubernetes_sd_configs"], "\(path).kubernetes_sd_configs").enumerated() {
            if let sd = kubernetesSD(sdNode, "\(path).kubernetes_sd_configs[\(index)]") { scrape.kubernetesSDConfigs.append(sd) }
        }

        scrape.relabelConfigs = relabelConfigs(map["relabel_configs"], "\(path).relabel_configs")
        scrape.metricRelabelConfigs = relabelConfigs(map["metric_relabel_configs"], "\(path).metric_relabel_configs")
        return scrape
    }

    mutating func remoteWriteConfig(_ node: Node, _ path: String) -> RemoteWriteConfig? {
        let map = mapping(
            node, path,
            known: Set([
                "url", "name", "remote_timeout", "queue_config", "headers", "write_relabel_configs", "metadata_config",
                "send_exemplars", "protobuf_message", "protobuf_message_fallback",
            ]).union(Self.httpClientKeys),
            ignored: ["send_native_histograms", "round_robin_dns", "sigv4", "azuread", "google_iam", "oauth2", "enable_http2"]
        )
        guard let urlNode = map["url"] else {
            fail(node, "\(path).url", "url is required")
            return nil
        }
        guard let url = string(urlNode, "\(path).url") else { return nil }
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil else {
            fail(urlNode, "\(path).url", "invalid URL \"\(url)\" (expected http(s)://host[:port]/path)")
            return nil
        }
        let name = map["name"].flatMap { string($0, "\(path).name") } ?? Self.defaultName(for: url)
        var remote = RemoteWriteConfig(url: url, name: name)
        if let n = map["remote_timeout"], let value = duration(n, "\(path).remote_timeout") { remote.remoteTimeout = value }
        if let queueNode = map["queue_config"] {
            let queuePath = "\(path).queue_config"
            let queue = mapping(
                queueNode, queuePath,
                known: [
                    "capacity", "max_samples_per_send", "batch_send_deadline", "min_backoff", "max_backoff", "min_shards",
                    "max_shards", "retry_on_http_429", "sample_age_limit", "retry_on_http_status",
                ]
            )
            func positive(_ key: String, _ keyPath: WritableKeyPath<QueueConfig, Int>) {
                guard let n = queue[key], let v = int(n, "\(queuePath).\(key)") else { return }
                if v > 0 { remote.queueConfig[keyPath: keyPath] = v } else { fail(n, "\(queuePath).\(key)", "must be greater than 0") }
            }
            positive("capacity", \.capacity)
            positive("min_shards", \.minShards)
            positive("max_shards", \.maxShards)
            if remote.queueConfig.minShards > remote.queueConfig.maxShards {
                fail(queue["min_shards"], "\(queuePath).min_shards", "min_shards must not exceed max_shards")
            }
            if let n = queue["retry_on_http_429"], let v = bool(n, "\(queuePath).retry_on_http_429") { remote.queueConfig.retryOnHTTP429 = v }
            if let n = queue["retry_on_http_status"] {
                for (i, item) in sequence(n, "\(queuePath).retry_on_http_status").enumerated() {
                    guard let code = int(item, "\(queuePath).retry_on_http_status[\(i)]") else { continue }
                    if (400..<600).contains(code) {
                        remote.queueConfig.retryOnHTTPStatus.append(code)
                    } else {
                        fail(item, "\(queuePath).retry_on_http_status[\(i)]", "must be an HTTP status from 400 to 599, got \(code)")
                    }
                }
            }
            if let n = queue["sample_age_limit"], let v = duration(n, "\(queuePath).sample_age_limit") { remote.queueConfig.sampleAgeLimit = v }
            if let n = queue["max_samples_per_send"], let v = int(n, "\(queuePath).max_samples_per_send") {
                if v > 0 { remote.queueConfig.maxSamplesPerSend = v } else { fail(n, "\(queuePath).max_samples_per_send", "must be greater than 0") }
            }
            if let n = queue["batch_send_deadline"], let v = duration(n, "\(queuePath).batch_send_deadline") { remote.queueConfig.batchSendDeadline = v }
            if let n = queue["min_backoff"], let v = duration(n, "\(queuePath).min_backoff") { remote.queueConfig.minBackoff = v }
            if let n = queue["max_backoff"], let v = duration(n, "\(queuePath).max_backoff") { remote.queueConfig.maxBackoff = v }
        }
        if let n = map["headers"], let headerMap = n.mapping {
            for (keyNode, valueNode) in headerMap {
                guard let name = keyNode.scalar?.string, let value = string(valueNode, "\(path).headers.\(keyNode.scalar?.string ?? "")") else { continue }
                if Self.reservedHeaders.contains(name.lowercased()) {
                    fail(keyNode, "\(path).headers.\(name)", "\(name) is a reserved header and cannot be set")
                } else {
                    remote.headers.append((name, value))
                }
            }
        } else if let n = map["headers"] {
            fail(n, "\(path).headers", "expected a mapping of header names to values")
        }
        remote.httpClient = httpClient(map, node, path)
        if remote.headers.contains(where: { $0.name.lowercased() == "authorization" }), remote.httpClient.basicAuth != nil || remote.httpClient.authorization != nil {
            fail(map["headers"], "\(path).headers.Authorization", "authorization header conflicts with basic_auth or authorization")
        }
        remote.writeRelabelConfigs = relabelConfigs(map["write_relabel_configs"], "\(path).write_relabel_configs")
        if let n = map["metadata_config"] {
            let metaPath = "\(path).metadata_config"
            let meta = mapping(n, metaPath, known: ["send", "send_interval", "max_samples_per_send"])
            if let v = meta["send"], let value = bool(v, "\(metaPath).send") { remote.metadataConfig.send = value }
            if let v = meta["send_interval"], let value = duration(v, "\(metaPath).send_interval") { remote.metadataConfig.sendInterval = value }
            if let v = meta["max_samples_per_send"], let value = int(v, "\(metaPath).max_samples_per_send") { remote.metadataConfig.maxSamplesPerSend = value }
        }
        if let n = map["send_exemplars"], let value = bool(n, "\(path).send_exemplars") { remote.sendExemplars = value }
        if let n = map["protobuf_message"], let value = string(n, "\(path).protobuf_message") {
            if let message = RemoteWriteConfig.ProtobufMessage(rawValue: value) {
                remote.protobufMessage = message
            } else {
                fail(n, "\(path).protobuf_message", "unknown protobuf message \"\(value)\" (prometheus.WriteRequest or io.prometheus.write.v2.Request)")
            }
        }
        if let n = map["protobuf_message_fallback"], let value = bool(n, "\(path).protobuf_message_fallback") {
            remote.protobufMessageFallback = value
        }
        remote.fingerprint = Self.fingerprint(node)
        return remote
    }

    /// Headers remote write sets itself (Prometheus's list).
    static let reservedHeaders: Set<String> = [
        "host", "content-encoding", "content-length", "content-type", "user-agent", "connection", "keep-alive",
        "proxy-authenticate", "proxy-authorization", "www-authenticate", "accept-encoding",
        "x-prometheus-remote-write-version", "x-prometheus-remote-read-version",
    ]

    /// A node serialized canonically, for comparing configs across reloads.
    static func fingerprint(_ node: Node) -> String {
        (try? Yams.serialize(node: node)) ?? "\(node)"
    }

    /// A list of relabel configs (`relabel_configs`, `metric_relabel_configs`, `write_relabel_configs`).
    mutating func relabelConfigs(_ node: Node?, _ path: String) -> [RelabelConfig] {
        optionalSequence(node, path).enumerated().compactMap { index, entry in
            let entryPath = "\(path)[\(index)]"
            let map = mapping(entry, entryPath, known: ["source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"])
            let sourceLabels = optionalSequence(map["source_labels"], "\(entryPath).source_labels").compactMap { string($0, "\(entryPath).source_labels") }
            for name in sourceLabels where !LabelName.isValid(name) {
                fail(map["source_labels"], "\(entryPath).source_labels", "invalid source label name \"\(name)\"")
            }
            var action = RelabelAction.replace
            if let n = map["action"], let text = string(n, "\(entryPath).action") {
                guard let parsed = RelabelAction(rawValue: text.lowercased()) else {
                    fail(n, "\(entryPath).action", "unknown relabel action \"\(text)\" (one of \(RelabelAction.allCases.map(\.rawValue).joined(separator: ", ")))")
                    return nil
                }
                action = parsed
            }
            var modulus: UInt64 = 0
            if let n = map["modulus"] {
                guard let text = n.scalar?.string, let value = UInt64(text) else {
                    fail(n, "\(entryPath).modulus", "expected a non-negative integer")
                    return nil
                }
                modulus = value
            }
            do {
                return try RelabelConfig(
                    sourceLabels: sourceLabels,
                    separator: map["separator"].flatMap { string($0, "\(entryPath).separator") } ?? ";",
                    regex: map["regex"].flatMap { string($0, "\(entryPath).regex") } ?? "(.*)",
                    modulus: modulus,
                    targetLabel: map["target_label"].flatMap { string($0, "\(entryPath).target_label") } ?? "",
                    replacement: map["replacement"].flatMap { string($0, "\(entryPath).replacement") } ?? "$1",
                    action: action)
            } catch {
                fail(map["regex"] ?? entry, entryPath, "\(error)")
                return nil
            }
        }
    }

    /// A `kubernetes_sd_configs` entry: read and validated. `attach_metadata.node` is accepted for
    /// every role and, as in Prometheus, ignored where the role has no node (service, ingress, node).
    mutating func kubernetesSD(_ node: Node, _ path: String) -> KubernetesSDConfig? {
        let map = mapping(
            node, path,
            known: Set(["role", "api_server", "kubeconfig_file", "namespaces", "selectors", "attach_metadata"]).union(Self.httpClientKeys))
        guard let roleNode = map["role"], let roleText = string(roleNode, "\(path).role") else {
            fail(node, "\(path).role", "role is required")
            return nil
        }
        guard let role = KubernetesSDConfig.Role(rawValue: roleText) else {
            fail(roleNode, "\(path).role", "unknown role \"\(roleText)\" (one of \(KubernetesSDConfig.Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        var sd = KubernetesSDConfig(role: role)
        sd.apiServer = map["api_server"].flatMap { string($0, "\(path).api_server") }
        sd.kubeconfigFile = map["kubeconfig_file"].flatMap { string($0, "\(path).kubeconfig_file") }
        if sd.apiServer != nil, sd.kubeconfigFile != nil {
            fail(map["kubeconfig_file"], "\(path).kubeconfig_file", "api_server and kubeconfig_file are mutually exclusive")
        }
        if let n = map["namespaces"] {
            let namespaces = mapping(n, "\(path).namespaces", known: ["names", "own_namespace"])
            sd.namespaces = optionalSequence(namespaces["names"], "\(path).namespaces.names").compactMap { string($0, "\(path).namespaces.names") }
            if let v = namespaces["own_namespace"], let value = bool(v, "\(path).namespaces.own_namespace") { sd.ownNamespace = value }
        }
        if let n = map["attach_metadata"], !isNull(n) {
            let attach = mapping(n, "\(path).attach_metadata", known: ["node", "namespace", "deployment", "job", "cronjob"])
            if let v = attach["node"], let value = bool(v, "\(path).attach_metadata.node") { sd.attachMetadata.node = value }
            if let v = attach["namespace"], let value = bool(v, "\(path).attach_metadata.namespace") { sd.attachMetadata.namespace = value }
            if let v = attach["deployment"], let value = bool(v, "\(path).attach_metadata.deployment") { sd.attachMetadata.deployment = value }
            if let v = attach["job"], let value = bool(v, "\(path).attach_metadata.job") { sd.attachMetadata.job = value }
            if let v = attach["cronjob"], let value = bool(v, "\(path).attach_metadata.cronjob") { sd.attachMetadata.cronJob = value }
        }
        sd.httpClient = httpClient(map, node, path)
        for (index, selectorNode) in optionalSequence(map["selectors"], "\(path).selectors").enumerated() {
            let selectorPath = "\(path).selectors[\(index)]"
            let selector = mapping(selectorNode, selectorPath, known: ["role", "label", "field"])
            guard let roleNode = selector["role"], let roleText = string(roleNode, "\(selectorPath).role"),
                let selectorRole = KubernetesSDConfig.Role(rawValue: roleText)
            else {
                fail(selector["role"] ?? selectorNode, "\(selectorPath).role", "a selector needs a valid role")
                continue
            }
            sd.selectors.append(
                KubernetesSDConfig.Selector(
                    role: selectorRole, label: selector["label"].flatMap { string($0, "\(selectorPath).label") },
                    field: selector["field"].flatMap { string($0, "\(selectorPath).field") }))
        }
        return sd
    }

    static let limitKeys: Set<String> = ["body_size_limit", "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit"]
    static let httpClientKeys: Set<String> = [
        "tls_config", "basic_auth", "authorization", "bearer_token", "bearer_token_file", "proxy_url", "follow_redirects",
    ]

    /// The limits in `map`, each defaulting to the one in `defaults`.
    mutating func limits(_ map: [String: Node], _ path: String, defaults: ScrapeLimits) -> ScrapeLimits {
        var limits = defaults
        if let n = map["body_size_limit"], let text = string(n, "\(path).body_size_limit") {
            if let bytes = ByteSize.parse(text) {
                limits.bodySizeLimit = bytes
            } else {
                fail(n, "\(path).body_size_limit", "invalid size \"\(text)\" (use e.g. 10MB, 512KiB)")
            }
        }
        func count(_ key: String, _ keyPath: WritableKeyPath<ScrapeLimits, Int>) {
            guard let n = map[key], let value = int(n, "\(path).\(key)") else { return }
            if value < 0 { fail(n, "\(path).\(key)", "must not be negative") } else { limits[keyPath: keyPath] = value }
        }
        count("sample_limit", \.sampleLimit)
        count("label_limit", \.labelLimit)
        count("label_name_length_limit", \.labelNameLengthLimit)
        count("label_value_length_limit", \.labelValueLengthLimit)
        return limits
    }

    /// `params`: a mapping of names to lists of values.
    mutating func params(_ node: Node, _ path: String) -> [(name: String, values: [String])] {
        guard let map = node.mapping else {
            fail(node, path, "expected a mapping of parameter names to lists of values")
            return []
        }
        var result: [(name: String, values: [String])] = []
        for (keyNode, valueNode) in map {
            guard let name = keyNode.scalar?.string else { continue }
            let values = sequence(valueNode, "\(path).\(name)").compactMap { string($0, "\(path).\(name)") }
            result.append((name, values))
        }
        return result
    }

    /// Prometheus's `http_config` keys in a scrape config or remote write endpoint.
    mutating func httpClient(_ map: [String: Node], _ node: Node, _ path: String) -> HTTPClientConfig {
        var client = HTTPClientConfig()
        if let n = map["tls_config"] {
            let tlsPath = "\(path).tls_config"
            let tls = mapping(n, tlsPath, known: ["ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", "min_version", "ca", "cert", "key"])
            for key in ["ca", "cert", "key"] where tls[key] != nil {
                fail(tls[key], "\(tlsPath).\(key)", "inline certificates are not supported; use \(key)_file")
            }
            client.tls.caFile = tls["ca_file"].flatMap { string($0, "\(tlsPath).ca_file") }
            client.tls.certFile = tls["cert_file"].flatMap { string($0, "\(tlsPath).cert_file") }
            client.tls.keyFile = tls["key_file"].flatMap { string($0, "\(tlsPath).key_file") }
            client.tls.serverName = tls["server_name"].flatMap { string($0, "\(tlsPath).server_name") }
            if let v = tls["insecure_skip_verify"], let value = bool(v, "\(tlsPath).insecure_skip_verify") { client.tls.insecureSkipVerify = value }
            if let v = tls["min_version"], let value = string(v, "\(tlsPath).min_version") {
                if ["TLS10", "TLS11", "TLS12", "TLS13"].contains(value) {
                    client.tls.minVersion = value
                } else {
                    fail(v, "\(tlsPath).min_version", "unknown TLS version \"\(value)\" (TLS10, TLS11, TLS12 or TLS13)")
                }
            }
            if (client.tls.certFile == nil) != (client.tls.keyFile == nil) {
                fail(n, tlsPath, "cert_file and key_file must be given together")
            }
        }
        if let n = map["basic_auth"] {
            let authPath = "\(path).basic_auth"
            let auth = mapping(n, authPath, known: ["username", "password", "password_file", "username_file"])
            if auth["username_file"] != nil { fail(auth["username_file"], "\(authPath).username_file", "not supported; use username") }
            let username = auth["username"].flatMap { string($0, "\(authPath).username") } ?? ""
            let password = secret(auth, inline: "password", file: "password_file", authPath)
            client.basicAuth = BasicAuth(username: username, password: password)
        }
        if let n = map["authorization"] {
            let authPath = "\(path).authorization"
            let auth = mapping(n, authPath, known: ["type", "credentials", "credentials_file"])
            let type = auth["type"].flatMap { string($0, "\(authPath).type") } ?? "Bearer"
            if type.lowercased() == "basic" { fail(auth["type"], "\(authPath).type", "use basic_auth for Basic authorization") }
            client.authorization = Authorization(type: type, credentials: secret(auth, inline: "credentials", file: "credentials_file", authPath))
        }
        let bearer = secret(map, inline: "bearer_token", file: "bearer_token_file", path)
        if let bearer {
            if client.authorization != nil {
                fail(map["bearer_token"] ?? map["bearer_token_file"], path, "at most one of authorization, bearer_token and bearer_token_file may be set")
            }
            client.authorization = Authorization(credentials: bearer)
        }
        if client.basicAuth != nil, client.authorization != nil {
            fail(map["basic_auth"], "\(path).basic_auth", "at most one of basic_auth, authorization, bearer_token and bearer_token_file may be set")
        }
        if let n = map["proxy_url"], let value = string(n, "\(path).proxy_url") {
            if let url = URL(string: value), url.scheme != nil, url.host != nil {
                client.proxyURL = value
            } else {
                fail(n, "\(path).proxy_url", "invalid proxy URL \"\(value)\"")
            }
        }
        if let n = map["follow_redirects"], let value = bool(n, "\(path).follow_redirects") { client.followRedirects = value }
        return client
    }

    /// A secret given inline under `inline` or in a file under `file`, not both.
    mutating func secret(_ map: [String: Node], inline: String, file: String, _ path: String) -> Secret? {
        switch (map[inline], map[file]) {
        case (let value?, nil): return string(value, "\(path).\(inline)").map(Secret.inline)
        case (nil, let value?): return string(value, "\(path).\(file)").map(Secret.file)
        case (_?, let second?):
            fail(second, "\(path).\(file)", "at most one of \(inline) and \(file) may be set")
            return nil
        case (nil, nil): return nil
        }
    }

    /// A short stable name derived from the URL (FNV-1a), for endpoints without `name`.
    static func defaultName(for url: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in url.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return String(String(hash, radix: 16).prefix(6))
    }
}

/// Prometheus label-name rules.
public enum LabelName {
    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F }
        guard letter(first) else { return false }
        return name.utf8.allSatisfy { letter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}
