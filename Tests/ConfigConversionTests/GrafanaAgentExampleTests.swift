import AgentConfig
import ConfigConversion
import Foundation
import Testing

/// Grafana Agent's documented static-mode examples, converted.
@Suite struct GrafanaAgentExampleTests {
    @Test(arguments: GrafanaAgentFixtures.all)
    func everyExampleConverts(name: String) throws {
        let result = try GrafanaAgentFixtures.convert(name)
        #expect(result.yaml.hasPrefix("# Converted by `agent config convert --from=grafana-agent` from \(name).\n"))
        for finding in result.findings { #expect(finding.line > 0 || finding.path.hasPrefix("metrics.configs"), "\(finding)") }
    }

    @Test func selfScrapeExampleConvertsWithNothingDropped() throws {
        let result = try GrafanaAgentFixtures.convert("create-config-file-scrape-itself.yaml")
        #expect(result.dropped.isEmpty, "\(result.findings)")
        #expect(result.flags == ["--log.level=info"])
        let config = try result.loaded()
        #expect(config.warnings.isEmpty)
        #expect(config.global.scrapeInterval == .seconds(60))
        #expect(config.scrapeConfigs.map(\.jobName) == ["agent"])
        #expect(config.scrapeConfigs[0].staticConfigs[0].targets == ["127.0.0.1:12345"])
        #expect(config.scrapeConfigs[0].relabelConfigs.isEmpty && config.scrapeConfigs[0].metricRelabelConfigs.isEmpty)
        #expect(config.remoteWrite.map(\.url) == ["http://localhost:9009/api/prom/push"])
        #expect(config.remoteWrite[0].writeRelabelConfigs.isEmpty)
        // Grafana Agent's defaults where they differ from Prometheus's.
        #expect(config.remoteWrite[0].sendExemplars)
        #expect(config.remoteWrite[0].queueConfig.retryOnHTTP429)
        #expect(config.wal.maxAge == .seconds(4 * 3600))
    }

    @Test func localConfigKeepsStaticLabels() throws {
        let result = try GrafanaAgentFixtures.convert("agent-local-config.yaml")
        #expect(result.dropped.isEmpty, "\(result.findings)")
        let config = try result.loaded()
        #expect(config.scrapeConfigs[0].staticConfigs[0].labels["cluster"] == "localhost")
        #expect(config.remoteWrite.map(\.url) == ["http://localhost:9009/api/prom/push"])
    }

    @Test func fullExampleDropsLogsTracesAndTheIntegration() throws {
        let result = try GrafanaAgentFixtures.convert("create-config-file-full.yaml")
        #expect(result.paths(.dropped) == ["logs", "traces", "integrations.node_exporter"])
        #expect(result.dropped.map(\.line) == [16, 31, 46])
        let config = try result.loaded()
        #expect(config.scrapeConfigs.map(\.jobName) == ["agent"])
        // global.remote_write is the default of an instance without its own.
        #expect(config.remoteWrite.map(\.url) == ["http://localhost:9009/api/prom/push"])
    }

    @Test func migrationExampleKeepsGlobalRemoteWriteCredentials() throws {
        let result = try GrafanaAgentFixtures.convert("from-static-migration.yaml")
        #expect(result.paths(.dropped) == ["logs"])
        let config = try result.loaded()
        #expect(config.global.scrapeInterval == .seconds(15))
        #expect(config.remoteWrite[0].httpClient.basicAuth?.username == "USERNAME")
        #expect(config.scrapeConfigs.map(\.jobName) == ["local-agent"])
    }

    @Test(arguments: ["create-config-file-integrations.yaml", "packaging-grafana-agent.yaml"])
    func integrationOnlyExamplesLeaveNothingToRun(name: String) throws {
        let result = try GrafanaAgentFixtures.convert(name)
        #expect(!result.dropped.isEmpty && result.dropped.allSatisfy { $0.path.hasPrefix("integrations.") })
        #expect(result.flags.contains { $0.hasPrefix("--storage.path=") })
        let config = try result.loaded()
        #expect(config.scrapeConfigs.isEmpty && config.remoteWrite.isEmpty)
    }

    @Test func dockerComposeExampleKeepsEnvironmentReferences() throws {
        let result = try GrafanaAgentFixtures.convert("docker-compose-agent.yaml")
        #expect(result.paths(.dropped) == ["logs", "traces", "integrations.agent"])
        #expect(result.paths(.ignored) == ["integrations.metrics"])
        #expect(result.yaml.contains("${AVALANCHE_HOST:-localhost:9001}"))
        #expect(result.yaml.contains("http://${REMOTE_WRITE_HOST:-localhost:9009}/api/v1/push"))
        let config = try result.loaded(environment: ["REMOTE_WRITE_HOST": "mimir:9009"])
        #expect(config.scrapeConfigs[0].staticConfigs[0].targets == ["localhost:9001"])
        #expect(config.remoteWrite.map(\.url) == ["http://mimir:9009/api/v1/push"])
    }

    @Test func unsupportedExampleListsEverySubsystem() throws {
        let result = try GrafanaAgentFixtures.convert("staticconvert-unsupported.yaml")
        #expect(result.paths(.dropped) == [
            "server.http_tls_config", "integrations.mssql", "integrations.statsd_exporter", "logs", "traces", "agent_management",
        ])
        #expect(result.paths(.ignored) == ["server.grpc_tls_config", "integrations.node_exporter"])
        #expect(result.flags == ["--log.level=debug", "--log.format=json", "--storage.path=/tmp/agent"])
        #expect(try result.loaded().scrapeConfigs.map(\.jobName) == ["prometheus"])
    }

    /// Grafana Agent (Prometheus 2.45 inside) accepted `azure_sd_configs`; the agent does not, so
    /// the converted file is copied as written and fails to load, naming the key.
    @Test func scrapeExampleWithAzureDiscoveryDoesNotLoad() throws {
        let result = try GrafanaAgentFixtures.convert("staticconvert-prom-scrape.yaml")
        #expect(result.paths(.dropped) == ["server.http_tls_config"])
        do {
            _ = try result.loaded()
            Issue.record("loaded:\n\(result.yaml)")
        } catch {
            #expect(error.errors.contains { $0.key.hasSuffix("azure_sd_configs") }, "\(error)")
        }
    }
}
