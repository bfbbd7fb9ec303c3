import Model
import Yams

/// `scrape_configs` entries: job settings, static and file SD configs, limits and params.
extension NodeReader {
    mutating func scrapeConfig(_ node: Node, _ path: String, global: GlobalConfig) -> ScrapeConfig? {
        let map = mapping(
            node, path,
            known: Set([
                "job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "honor_labels",
                "honor_timestamps", "track_timestamps_staleness", "params", "enable_compression", "static_configs",
                "file_sd_configs", "kubernetes_sd_configs", "http_sd_configs", "dns_sd_configs", "relabel_configs",
                "metric_relabel_configs", "scrape_protocols", "fallback_scrape_protocol", "scrape_failure_log_file",
            ]).union(Self.limitKeys).union(Self.httpClientKeys).union(Self.nameSchemeKeys).union(Self.unsupportedSDKeys)
                .union(Self.histogramKeys)
        )
        rejectUnsupportedSD(node, path)
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
        checkHistogramKeys(map, path)
        scrape.scrapeProtocols = map["scrape_protocols"].flatMap { scrapeProtocols($0, "\(path).scrape_protocols") }
            ?? global.scrapeProtocols ?? ScrapeProtocol.defaults
        if let n = map["fallback_scrape_protocol"] {
            scrape.fallbackScrapeProtocol = scrapeProtocol(n, "\(path).fallback_scrape_protocol")
        }
        scrape.scrapeFailureLogFile = map["scrape_failure_log_file"].flatMap { failureLogFile($0, "\(path).scrape_failure_log_file") }
            ?? global.scrapeFailureLogFile
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
        for (index, sdNode) in optionalSequence(map["http_sd_configs"], "\(path).http_sd_configs").enumerated() {
            if let sd = httpSD(sdNode, "\(path).http_sd_configs[\(index)]") { scrape.httpSDConfigs.append(sd) }
        }
        for (index, sdNode) in optionalSequence(map["dns_sd_configs"], "\(path).dns_sd_configs").enumerated() {
            if let sd = dnsSD(sdNode, "\(path).dns_sd_configs[\(index)]") { scrape.dnsSDConfigs.append(sd) }
        }

        scrape.relabelConfigs = relabelConfigs(map["relabel_configs"], "\(path).relabel_configs")
        scrape.metricRelabelConfigs = relabelConfigs(map["metric_relabel_configs"], "\(path).metric_relabel_configs")
        scrapeNameSchemes(map, node, path, global: global, into: &scrape)
        return scrape
    }

    static let limitKeys: Set<String> = [
        "body_size_limit", "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit", "target_limit",
        "keep_dropped_targets",
    ]

    /// The limits in `map`, each defaulting to the one in `defaults`; as in Prometheus, a limit
    /// set to 0 is unset (the default applies).
    mutating func limits(_ map: [String: Node], _ path: String, defaults: ScrapeLimits) -> ScrapeLimits {
        var limits = defaults
        if let n = map["body_size_limit"], let text = string(n, "\(path).body_size_limit") {
            if let bytes = ByteSize.parse(text) {
                if bytes > 0 { limits.bodySizeLimit = bytes }
            } else {
                fail(n, "\(path).body_size_limit", "invalid size \"\(text)\" (use e.g. 10MB, 512KiB)")
            }
        }
        func count(_ key: String, _ keyPath: WritableKeyPath<ScrapeLimits, Int>) {
            guard let n = map[key], let value = int(n, "\(path).\(key)") else { return }
            if value < 0 { fail(n, "\(path).\(key)", "must not be negative") } else if value > 0 { limits[keyPath: keyPath] = value }
        }
        count("sample_limit", \.sampleLimit)
        count("label_limit", \.labelLimit)
        count("label_name_length_limit", \.labelNameLengthLimit)
        count("label_value_length_limit", \.labelValueLengthLimit)
        count("target_limit", \.targetLimit)
        count("keep_dropped_targets", \.keepDroppedTargets)
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

    /// `scrape_protocols`: a non-empty list of distinct protocol names the agent can parse.
    mutating func scrapeProtocols(_ node: Node, _ path: String) -> [ScrapeProtocol]? {
        let items = sequence(node, path)
        if items.isEmpty {
            fail(node, path, "scrape_protocols cannot be empty")
            return nil
        }
        var protocols: [ScrapeProtocol] = []
        for (index, item) in items.enumerated() {
            guard let value = scrapeProtocol(item, "\(path)[\(index)]") else { continue }
            if protocols.contains(value) {
                fail(item, "\(path)[\(index)]", "duplicated protocol \"\(value.rawValue)\" in scrape_protocols")
                continue
            }
            protocols.append(value)
        }
        return protocols.count == items.count ? protocols : nil
    }

    /// One scrape protocol name (case-sensitive, as Prometheus); the protobuf format is refused.
    mutating func scrapeProtocol(_ node: Node, _ path: String) -> ScrapeProtocol? {
        guard let text = string(node, path) else { return nil }
        guard let value = ScrapeProtocol(rawValue: text) else {
            let supported = ScrapeProtocol.allCases.map(\.rawValue).sorted().joined(separator: ", ")
            fail(node, path, "unknown scrape protocol \"\(text)\", supported: \(supported)")
            return nil
        }
        guard value.isSupported else {
            fail(node, path, "\(text) is not supported: the agent has no parser for the protobuf exposition format")
            return nil
        }
        return value
    }

    /// `scrape_failure_log_file`: a path, or empty for none.
    mutating func failureLogFile(_ node: Node, _ path: String) -> String? {
        guard let file = string(node, path) else { return nil }
        return file.isEmpty ? nil : file
    }
}
