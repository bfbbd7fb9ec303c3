import AgentConfig
import Testing

/// `scrape_protocols`, `fallback_scrape_protocol`, `target_limit`, `keep_dropped_targets`,
/// `scrape_failure_log_file` (global and per job), and YAML duplicate keys.
@Suite struct ScrapeKeysTests {
    func load(_ yaml: String) throws -> Configuration { try ConfigLoader.parse(yaml: yaml, file: "f.yml") }

    @Test func jobsInheritTheGlobalDefaultsAndMayOverrideThem() throws {
        let config = try load("""
            global:
              scrape_protocols: [PrometheusText0.0.4]
              target_limit: 10
              keep_dropped_targets: 3
              scrape_failure_log_file: /var/log/failures.log
            scrape_configs:
              - job_name: inherits
              - job_name: overrides
                scrape_protocols: [OpenMetricsText0.0.1, PrometheusText1.0.0]
                fallback_scrape_protocol: OpenMetricsText1.0.0
                target_limit: 2
                keep_dropped_targets: 0
                scrape_failure_log_file: ""
            """)
        let (inherits, overrides) = (config.scrapeConfigs[0], config.scrapeConfigs[1])
        #expect(inherits.scrapeProtocols == [.prometheusText0_0_4] && inherits.fallbackScrapeProtocol == nil)
        #expect(inherits.limits.targetLimit == 10 && inherits.limits.keepDroppedTargets == 3)
        #expect(inherits.scrapeFailureLogFile == "/var/log/failures.log")
        #expect(overrides.scrapeProtocols == [.openMetricsText0_0_1, .prometheusText1_0_0])
        #expect(overrides.fallbackScrapeProtocol == .openMetricsText1_0_0)
        #expect(overrides.limits.targetLimit == 2)
        #expect(overrides.limits.keepDroppedTargets == 3, "0 means unset, as in Prometheus: the global value applies")
        #expect(overrides.scrapeFailureLogFile == "/var/log/failures.log", "empty means unset, as in Prometheus")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    @Test func withoutSettingsAJobAsksForPrometheusDefaultProtocols() throws {
        let job = try load("scrape_configs:\n  - job_name: j\n").scrapeConfigs[0]
        #expect(job.scrapeProtocols == ScrapeProtocol.defaults && job.fallbackScrapeProtocol == nil)
        #expect(job.limits.targetLimit == 0 && job.limits.keepDroppedTargets == 0 && job.scrapeFailureLogFile == nil)
    }

    @Test func invalidProtocolListsAreRejectedWithTheirLine() {
        expectRejected("global:\n  scrape_protocols: []\n", message: "scrape_protocols cannot be empty", fromLine: 2)
        expectRejected(
            "scrape_configs:\n  - job_name: j\n    scrape_protocols: [PrometheusText0.0.4, prometheustext0.0.4]\n",
            message: "unknown scrape protocol \"prometheustext0.0.4\", supported: OpenMetricsText0.0.1, OpenMetricsText1.0.0, PrometheusProto, PrometheusText0.0.4, PrometheusText1.0.0",
            fromLine: 3)
        expectRejected(
            "scrape_configs:\n  - job_name: j\n    scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]\n",
            message: "duplicated protocol \"PrometheusText0.0.4\"", fromLine: 3)
        expectRejected(
            "scrape_configs:\n  - job_name: j\n    fallback_scrape_protocol: Text\n", message: "unknown scrape protocol \"Text\"", fromLine: 3)
        expectRejected("scrape_configs:\n  - job_name: j\n    target_limit: -1\n", message: "must not be negative", fromLine: 3)
    }

    @Test func theProtobufFormatIsRefusedAtLoad() {
        expectRejected(
            "global:\n  scrape_protocols: [PrometheusProto, OpenMetricsText1.0.0]\n",
            message: "PrometheusProto is not supported: the agent has no parser for the protobuf exposition format", fromLine: 2)
        expectRejected(
            "scrape_configs:\n  - job_name: j\n    fallback_scrape_protocol: PrometheusProto\n", message: "PrometheusProto is not supported",
            fromLine: 3)
    }

    // Duplicate keys: Yams refuses the document; the error names the repetition's line.

    @Test func aDuplicateKeyIsReportedAtItsRepetition() {
        let yaml = """
            global:
              scrape_interval: 15s
            scrape_configs:
              - job_name: node
                scrape_interval: 5s
                static_configs:
                  - targets: ["a:1"]
                # a comment at the mapping's column
                scrape_interval: 10s
              - job_name: other
            """
        let error = #expect(throws: ConfigErrors.self) { try ConfigLoader.parse(yaml: yaml, file: "f.yml") }
        let first = error?.errors.first
        #expect(error?.errors.count == 1)
        #expect(first?.line == 9 && first?.column == 5 && first?.key == "scrape_interval", "\(String(describing: first))")
        #expect(first?.message == "duplicate key \"scrape_interval\" (first at line 5)")
        #expect(first?.description == "f.yml:9:5: scrape_interval: duplicate key \"scrape_interval\" (first at line 5)")
    }

    @Test func aDuplicateTopLevelAndQuotedKeyIsFoundToo() {
        let yaml = "scrape_configs: []\nremote_write: []\n\"scrape_configs\": []\n"
        let error = #expect(throws: ConfigErrors.self) { try ConfigLoader.parse(yaml: yaml, file: "f.yml") }
        #expect(error?.errors.first?.line == 3 && error?.errors.first?.column == 1 && error?.errors.first?.key == "scrape_configs")
    }

    @Test func aDuplicateInAFlowMappingIsReportedAtTheFirstOccurrence() {
        let error = #expect(throws: ConfigErrors.self) { try ConfigLoader.parse(yaml: "global: {scrape_interval: 1s, scrape_interval: 2s}\n", file: "f.yml") }
        let first = error?.errors.first
        #expect(first?.line == 1 && first?.key == "scrape_interval" && first?.message.contains("more than once") == true, "\(String(describing: first))")
        #expect(first?.description.contains("Context") == false, "the document is not dumped")
    }
}
