import AgentConfig
import ConfigConversion
import Testing

@Suite struct StaticModeReadingTests {
    func convert(_ yaml: String) throws -> ConversionResult { try GrafanaAgentConverter.convert(yaml: yaml, file: "in.yaml") }

    @Test func hostFilterIsDroppedOnlyWhenOn() throws {
        let on = try convert("""
            metrics:
              configs:
                - name: a
                  host_filter: true
                  host_filter_relabel_configs: []
                  scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]
            """)
        #expect(on.paths(.dropped) == ["metrics.configs[0].host_filter", "metrics.configs[0].host_filter_relabel_configs"])
        let off = try convert("""
            metrics:
              configs:
                - name: a
                  host_filter: false
                  scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]
            """)
        #expect(off.findings.filter { $0.kind != .note }.isEmpty, "\(off.findings)")
    }

    @Test func unknownKeysAndStaleMarkersOnShutdownAreDropped() throws {
        let result = try convert("""
            metrics:
              http_disable_keepalives: true
              scraping_service: {enabled: true}
              frobnicate: 1
              configs:
                - name: a
                  write_stale_on_shutdown: true
                  colour: blue
            something: else
            """)
        #expect(result.paths(.dropped) == [
            "metrics.http_disable_keepalives", "metrics.scraping_service", "metrics.frobnicate",
            "metrics.configs[0].write_stale_on_shutdown", "metrics.configs[0].colour", "something",
        ])
        #expect(result.dropped.map(\.line) == [2, 3, 4, 7, 8, 9])
    }

    @Test func oldServerListenSettingsBecomeOneFlag() throws {
        let result = try convert("server:\n  http_listen_port: 12345\n  grpc_listen_port: 0\n  log_level: warn\n")
        #expect(result.flags == ["--web.listen-address=0.0.0.0:12345", "--log.level=warn"])
        #expect(result.paths(.ignored) == ["server.grpc_listen_port"])
    }

    @Test func prometheusIsTheOldNameOfMetrics() throws {
        let result = try convert("prometheus:\n  configs:\n    - name: a\n      scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]\n")
        #expect(try result.loaded().scrapeConfigs.map(\.jobName) == ["x"])
        #expect(throws: ConversionError.self) { try convert("prometheus: {}\nmetrics: {}\n") }
    }

    @Test func globalSettingsAreCopiedAsWritten() throws {
        let result = try convert("""
            metrics:
              global:
                scrape_interval: 30s
                scrape_timeout: 5s
                evaluation_interval: 1m
                external_labels: {cluster: eu-1}
              configs:
                - name: a
                  scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]
            """)
        let config = try result.loaded()
        #expect(config.global.scrapeInterval == .seconds(30) && config.global.scrapeTimeout == .seconds(5))
        #expect(config.global.externalLabels["cluster"] == "eu-1")
        #expect(config.warnings.contains { $0.contains("global.evaluation_interval") })
        #expect(config.remoteWrite.isEmpty)
    }

    @Test func fractionalGoDurationsConvert() throws {
        let result = try convert("""
            metrics:
              configs:
                - name: a
                  max_wal_time: 1.5h
                  remote_flush_deadline: 90s
                  scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]
            """)
        #expect(try result.loaded().wal.maxAge == .seconds(5400))
        #expect(result.flags == ["--storage.remote.flush-deadline=1m30s"])
        #expect(throws: ConversionError.self) { try convert("metrics:\n  configs:\n    - name: a\n      max_wal_time: soon\n") }
    }

    @Test func inputsGrafanaAgentRejectsAreErrors() {
        #expect(throws: ConversionError.self) { try convert("- a\n- b\n") }
        #expect(throws: ConversionError.self) { try convert("metrics:\n  configs:\n    - scrape_configs: []\n") }
        #expect(throws: ConversionError.self) { try convert("metrics:\n  configs:\n    - name: a\n    - name: a\n") }
        #expect(throws: ConversionError.self) { try convert("metrics: [\n") }
    }

    @Test func anchorsAndAliasesAreResolved() throws {
        let result = try convert("""
            metrics:
              configs:
                - name: a
                  scrape_configs:
                    - &job {job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}
                - name: b
                  scrape_configs:
                    - *job
            """)
        #expect(!result.yaml.contains("&") && !result.yaml.contains("*"))
        #expect(try result.loaded().scrapeConfigs.map(\.jobName) == ["x", "b/x"])
    }

    @Test func emptyFileConvertsToAnEmptyConfiguration() throws {
        let result = try convert("")
        #expect(result.findings.isEmpty)
        #expect(result.yaml.split(separator: "\n").count == 1)
    }
}
