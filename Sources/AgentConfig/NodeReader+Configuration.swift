import Yams

/// The top level: `global`, `scrape_configs`, `scrape_config_files`, `remote_write` and `wal`.
extension NodeReader {
    mutating func configuration(_ root: Node?) -> Configuration {
        var config = Configuration()
        guard let root, !isNull(root) else { return config }
        let top = mapping(
            root, "",
            known: ["global", "scrape_configs", "scrape_config_files", "remote_write", "wal"],
            ignored: ["rule_files", "alerting", "remote_read", "storage", "tracing", "otlp", "runtime"]
        )
        if let node = top["global"] { config.global = global(node) }
        let globalFingerprint = top["global"].map(Self.fingerprint) ?? ""
        config.globalFingerprint = globalFingerprint
        config.scrapeConfigFiles = scrapeConfigFilePatterns(top["scrape_config_files"])
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
        writeRelabelNameValidation(top, into: &config)
        if let node = top["wal"] { config.wal = walConfig(node) }
        config.warnings = warnings
        return config
    }

    /// `scrape_config_files`: paths whose last element may hold a glob (Prometheus's
    /// `^[^*]*(\*[^/]*)?$`: a `*` only in the last path element).
    mutating func scrapeConfigFilePatterns(_ node: Node?) -> [String] {
        var patterns: [String] = []
        for (index, item) in optionalSequence(node, "scrape_config_files").enumerated() {
            guard let pattern = string(item, "scrape_config_files[\(index)]") else { continue }
            if let star = pattern.firstIndex(of: "*"), pattern[star...].contains("/") {
                fail(item, "scrape_config_files[\(index)]", "invalid scrape config file path \"\(pattern)\" (a * is allowed only in the last path element)")
                continue
            }
            patterns.append(pattern)
        }
        return patterns
    }

    /// The jobs of one file of `scrape_config_files`: only `scrape_configs` is allowed there, and
    /// each job is read as in the main file, with the main file's `global` section.
    /// Returns each job with its node.
    mutating func includedScrapeConfigs(_ root: Node?, global: GlobalConfig, globalFingerprint: String) -> [(ScrapeConfig, Node)] {
        guard let root, !isNull(root) else { return [] }
        let top = mapping(root, "", known: ["scrape_configs"])
        var jobs: [(ScrapeConfig, Node)] = []
        for (index, node) in optionalSequence(top["scrape_configs"], "scrape_configs").enumerated() {
            guard var scrape = scrapeConfig(node, "scrape_configs[\(index)]", global: global) else { continue }
            scrape.fingerprint = Self.fingerprint(node) + "\n---\n" + globalFingerprint
            jobs.append((scrape, node))
        }
        return jobs
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
            known: Set(["scrape_interval", "scrape_timeout", "external_labels", "scrape_protocols", "scrape_failure_log_file"])
                .union(Self.limitKeys).union(Self.nameSchemeKeys)
                .union(Self.histogramKeys.subtracting(["scrape_classic_histograms", "native_histogram_bucket_limit", "native_histogram_min_bucket_factor"])),
            ignored: ["evaluation_interval", "rule_query_offset", "query_log_file"]
        )
        global.limits = limits(map, "global", defaults: ScrapeLimits())
        checkHistogramKeys(map, "global")
        if let n = map["scrape_protocols"] { global.scrapeProtocols = scrapeProtocols(n, "global.scrape_protocols") }
        if let n = map["scrape_failure_log_file"] { global.scrapeFailureLogFile = failureLogFile(n, "global.scrape_failure_log_file") }
        if let n = map["scrape_interval"], let value = duration(n, "global.scrape_interval") { global.scrapeInterval = value }
        if let n = map["scrape_timeout"], let value = duration(n, "global.scrape_timeout") {
            global.scrapeTimeout = value
        } else {
            // Prometheus: an unset global timeout is the default 10s, capped at the global interval.
            global.scrapeTimeout = min(global.scrapeTimeout, global.scrapeInterval)
        }
        if let n = map["external_labels"] { global.externalLabels = labels(n, "global.external_labels") }
        globalNameSchemes(map, into: &global)
        if global.scrapeTimeout > global.scrapeInterval {
            fail(map["scrape_timeout"] ?? node, "global.scrape_timeout", "scrape timeout greater than scrape interval")
        }
        return global
    }
}
