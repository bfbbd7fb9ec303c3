import Model
import AgentConfig
import Foundation
import Testing

@Suite struct ConfigLoaderTests {
    func fixture(_ name: String) throws -> String {
        try #require(Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures"))
    }

    @Test func validFileLoadsWithPrometheusDefaults() throws {
        let config = try ConfigLoader.load(file: fixture("valid.yaml"))
        #expect(config.global.scrapeInterval == .seconds(30))
        #expect(config.global.scrapeTimeout == .seconds(10))
        #expect(config.global.externalLabels == Labels(["cluster": "production", "region": "eu-west-1"]))
        #expect(config.scrapeConfigs.map(\.jobName) == ["node", "federate"])
        let node = config.scrapeConfigs[0]
        #expect(node.scrapeInterval == .seconds(15))
        #expect(node.scrapeTimeout == .seconds(10))
        #expect(node.metricsPath == "/metrics" && node.scheme == "http" && !node.honorLabels)
        #expect(node.staticConfigs.first?.targets == ["10.0.0.1:9100", "10.0.0.2:9100"])
        #expect(node.staticConfigs.first?.labels == Labels(["env": "prod"]))
        let federate = config.scrapeConfigs[1]
        #expect(federate.scrapeTimeout == .seconds(5), "an unset timeout is capped at the job's interval")
        #expect(federate.metricsPath == "/federate" && federate.scheme == "https" && federate.honorLabels)
        let remote = try #require(config.remoteWrite.first)
        #expect(remote.remoteTimeout == .seconds(10))
        #expect(remote.queueConfig.maxSamplesPerSend == 500)
        #expect(remote.queueConfig.batchSendDeadline == .seconds(2))
        #expect(remote.queueConfig.maxBackoff == .seconds(5))
        #expect(!remote.name.isEmpty)
        #expect(config.warnings.count == 1 && config.warnings[0].contains("rule_files"))
    }

    @Test func everyErrorIsReportedWithFileLineAndKey() throws {
        let path = try fixture("invalid.yaml")
        let errors: ConfigErrors
        do {
            _ = try ConfigLoader.load(file: path)
            Issue.record("invalid.yaml loaded")
            return
        } catch {
            errors = error
        }
        let text = errors.description
        func expectError(line: Int, key: String, containing message: String) {
            #expect(
                errors.errors.contains { $0.line == line && $0.key == key && $0.message.contains(message) && $0.file == path },
                "line \(line) \(key) \(message) in:\n\(text)")
        }
        expectError(line: 3, key: "global.scrape_timout", containing: "unknown key")
        expectError(line: 7, key: "scrape_configs[0].scrape_timeout", containing: "greater than scrape interval")
        expectError(line: 11, key: "scrape_configs[0].static_configs[0].labels.", containing: "invalid label name")
        expectError(line: 13, key: "scrape_configs[1].scrape_interval", containing: "invalid duration")
        expectError(line: 12, key: "scrape_configs[1].job_name", containing: "duplicate job name")
        expectError(line: 15, key: "remote_write[0].url", containing: "invalid URL")
        #expect(text.contains("\(path):3:"))
    }

    @Test func yamlSyntaxErrorsNameTheLine() {
        #expect(throws: ConfigErrors.self) {
            _ = try ConfigLoader.parse(yaml: "global:\n  scrape_interval: [1s\n", file: "broken.yaml")
        }
        do {
            _ = try ConfigLoader.parse(yaml: "global:\n  scrape_interval: [1s\n", file: "broken.yaml")
        } catch {
            #expect(error.errors.first?.description.hasPrefix("broken.yaml:") == true)
            #expect(error.errors.first?.message.contains("invalid YAML") == true)
        }
    }

    @Test func wrongTypesAreErrors() {
        #expect(throws: ConfigErrors.self) { _ = try ConfigLoader.parse(yaml: "scrape_configs: {job_name: x}", file: "f") }
        #expect(throws: ConfigErrors.self) { _ = try ConfigLoader.parse(yaml: "global: [1]", file: "f") }
        #expect(throws: ConfigErrors.self) {
            _ = try ConfigLoader.parse(yaml: "scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n", file: "f")
        }
        #expect(throws: ConfigErrors.self) { _ = try ConfigLoader.parse(yaml: "remote_write:\n  - name: x\n", file: "f") }
    }

    @Test func emptyFileIsAValidConfigWithDefaults() throws {
        let config = try ConfigLoader.parse(yaml: "", file: "empty.yaml")
        #expect(config == Configuration())
    }

    @Test func unsetGlobalTimeoutIsCappedAtAShortGlobalInterval() throws {
        let config = try ConfigLoader.parse(yaml: "global:\n  scrape_interval: 2s\nscrape_configs:\n  - job_name: a\n", file: "f")
        #expect(config.global.scrapeTimeout == .seconds(2))
        #expect(config.scrapeConfigs[0].scrapeTimeout == .seconds(2))
        #expect(config.scrapeConfigs[0].staticConfigs.isEmpty)
        #expect(config.remoteWrite.isEmpty)
    }

    @Test func globalTimeoutAboveIntervalIsRejected() {
        #expect(throws: ConfigErrors.self) {
            _ = try ConfigLoader.parse(yaml: "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n", file: "f")
        }
    }
}

@Suite struct PrometheusDurationTests {
    @Test(arguments: [
        ("0", 0), ("5s", 5_000), ("500ms", 500), ("1m30s", 90_000), ("1h", 3_600_000),
        ("1d", 86_400_000), ("1w", 604_800_000), ("1y", 31_536_000_000), ("2h45m10s5ms", 9_910_005),
    ] as [(String, Int64)])
    func parsesPrometheusDurations(text: String, milliseconds: Int64) {
        #expect(PrometheusDuration.parse(text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "5", "s", "1.5s", "-1s", "1s1m", "1m1m", "5 s", "1sec", "1h 30m"])
    func rejectsInvalidDurations(text: String) {
        #expect(PrometheusDuration.parse(text) == nil)
    }

    @Test func formatsLikePrometheus() {
        #expect(PrometheusDuration.format(.seconds(90)) == "1m30s")
        #expect(PrometheusDuration.format(.zero) == "0s")
        #expect(PrometheusDuration.format(.milliseconds(1500)) == "1s500ms")
    }
}
