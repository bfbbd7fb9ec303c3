import AgentConfig
import ConfigConversion
import Model
import Relabel
import Testing

/// Several instances become one file in which every endpoint still receives exactly the jobs of
/// the instances that sent to it.
@Suite struct InstanceMergeTests {
    /// The endpoints (by URL) that receive a series of `job`, and the labels they receive:
    /// target relabeling, metric relabeling, external labels, then each endpoint's write relabeling.
    func delivery(of metric: String, from job: ScrapeConfig, in config: Configuration) -> [String: Labels] {
        let target = Labels(["job": job.jobName, "instance": "127.0.0.1:1", "__address__": "127.0.0.1:1"])
        guard let relabeled = Relabeler.process(target, with: job.relabelConfigs) else { return [:] }
        let targetLabels = relabeled.filter { !($0.count >= 2 && $0[0] == 0x5F && $0[1] == 0x5F) }
        guard let series = Relabeler.process(targetLabels.setting("__name__", to: metric), with: job.metricRelabelConfigs) else { return [:] }
        let withExternal = series.addingMissing(from: config.global.externalLabels)
        var out: [String: Labels] = [:]
        for remote in config.remoteWrite {
            if let sent = Relabeler.process(withExternal, with: remote.writeRelabelConfigs) { out[remote.url] = sent }
        }
        return out
    }

    @Test func eachEndpointReceivesOnlyItsInstancesJobs() throws {
        let result = try GrafanaAgentFixtures.convert("multi-instance.yaml")
        #expect(result.dropped.isEmpty, "\(result.findings)")
        let config = try result.loaded()
        #expect(config.scrapeConfigs.map(\.jobName) == ["agent", "test2/agent", "some_job", "node"])
        // The identical endpoint of test2 and test3 is one endpoint.
        #expect(config.remoteWrite.map(\.url) == [
            "http://localhost:9009/api/prom/push", "http://localhost:9010/api/prom/push", "http://localhost:9012/api/prom/push",
        ])
        let global = "http://localhost:9009/api/prom/push", shared = "http://localhost:9010/api/prom/push", own = "http://localhost:9012/api/prom/push"
        let expected: [String: Set<String>] = ["agent": [global], "test2/agent": [shared], "node": [shared, own]]
        for job in config.scrapeConfigs where expected[job.jobName] != nil {
            let sent = delivery(of: "up", from: job, in: config)
            #expect(Set(sent.keys) == expected[job.jobName], "\(job.jobName)")
            for labels in sent.values {
                #expect(labels["grafana_agent_instance"] == nil, "the routing label never leaves the agent: \(labels)")
                #expect(labels["cluster"] == "production")
            }
        }
        // The renamed job's series keep the job label Grafana Agent gave them.
        let renamed = try #require(config.scrapeConfigs.first { $0.jobName == "test2/agent" })
        #expect(delivery(of: "up", from: renamed, in: config)[shared]?["job"] == "agent")
        // The user's own rules still apply: some_job keeps only shard 1 of 4.
        let sharded = try #require(config.scrapeConfigs.first { $0.jobName == "some_job" })
        #expect(sharded.relabelConfigs.count == 3)
    }

    @Test func walAndFlushSettingsTakeTheLargestOfTheInstances() throws {
        let result = try GrafanaAgentFixtures.convert("multi-instance.yaml")
        #expect(try result.loaded().wal.maxAge == .seconds(6 * 3600))
        #expect(result.flags == ["--storage.path=/var/lib/grafana-agent", "--storage.remote.flush-deadline=2m"])
        #expect(result.paths(.ignored) == ["metrics.configs[0].wal_truncate_frequency", "metrics.configs[0].min_wal_time"])
    }

    @Test func instancesSharingEveryEndpointNeedNoRoutingLabel() throws {
        let result = try GrafanaAgentConverter.convert(yaml: """
            metrics:
              global:
                remote_write:
                  - url: http://hub:9009/api/v1/push
              configs:
                - name: a
                  scrape_configs:
                    - job_name: node
                      static_configs: [{targets: ['127.0.0.1:9100']}]
                - name: b
                  scrape_configs:
                    - job_name: node
                      static_configs: [{targets: ['127.0.0.1:9101']}]
                  remote_write:
                    - url: http://hub:9009/api/v1/push
            """, file: "shared.yaml")
        #expect(!result.yaml.contains("grafana_agent_instance"))
        let config = try result.loaded()
        #expect(config.remoteWrite.count == 1 && config.remoteWrite[0].writeRelabelConfigs.isEmpty)
        #expect(config.scrapeConfigs.map(\.jobName) == ["node", "b/node"])
    }

    @Test func explicitSendExemplarsIsKept() throws {
        let config = try GrafanaAgentFixtures.convert("multi-instance.yaml").loaded()
        #expect(config.remoteWrite.map(\.sendExemplars) == [true, false, true])
    }

    @Test func differentEndpointsWithOneNameAreRenamed() throws {
        let result = try GrafanaAgentConverter.convert(yaml: """
            metrics:
              configs:
                - name: a
                  scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]
                  remote_write: [{name: hub, url: 'http://a:9009/push'}]
                - name: b
                  scrape_configs: [{job_name: y, static_configs: [{targets: ['127.0.0.1:2']}]}]
                  remote_write: [{name: hub, url: 'http://b:9009/push'}]
            """, file: "names.yaml")
        #expect(try result.loaded().remoteWrite.map(\.name) == ["hub", "hub-b"])
    }

    @Test func regexQuotingMatchesTheNameOnly() throws {
        let result = try GrafanaAgentConverter.convert(yaml: """
            metrics:
              configs:
                - name: a.b
                  scrape_configs: [{job_name: x, static_configs: [{targets: ['127.0.0.1:1']}]}]
                  remote_write: [{url: 'http://a:9009/push'}]
                - name: axb
                  scrape_configs: [{job_name: y, static_configs: [{targets: ['127.0.0.1:2']}]}]
                  remote_write: [{url: 'http://b:9009/push'}]
            """, file: "dots.yaml")
        let config = try result.loaded()
        let other = try #require(config.scrapeConfigs.first { $0.jobName == "y" })
        #expect(Set(delivery(of: "up", from: other, in: config).keys) == ["http://b:9009/push"])
    }
}
