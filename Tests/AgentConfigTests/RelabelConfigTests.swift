import Model
import AgentConfig
import Foundation
import Relabel
import Testing

@Suite struct RelabelAndRemoteConfigTests {
    func load(environment: [String: String] = [:]) throws -> Configuration {
        let path = try #require(Bundle.module.path(forResource: "relabel-and-remote", ofType: "yaml", inDirectory: "Fixtures"))
        return try ConfigLoader.load(file: path, expandEnvironment: true, environment: environment)
    }

    @Test func readsDiscoveryRelabelingAndTheFullRemoteWriteEntry() throws {
        let config = try load(environment: ["CLUSTER": "production"])
        #expect(config.global.externalLabels == Labels(["cluster": "production"]))
        let pods = config.scrapeConfigs[0]
        #expect(pods.fileSDConfigs == [{ var sd = FileSDConfig(files: ["/etc/agent/targets/*.json", "/etc/agent/more.yaml"]); sd.refreshInterval = .seconds(60); return sd }()])
        #expect(pods.relabelConfigs.count == 3 && pods.metricRelabelConfigs.count == 1)
        #expect(config.scrapeConfigs[1].kubernetesSDConfigs.first?.role == .node)
        #expect(config.scrapeConfigs[1].kubernetesSDConfigs.first?.namespaces == ["kube-system"])
        let remote = try #require(config.remoteWrite.first)
        #expect(remote.headers.map(\.name) == ["X-Scope-OrgID"] && remote.headers.map(\.value) == ["team-a"])
        #expect(remote.httpClient.basicAuth == BasicAuth(username: "agent", password: .file("/run/secrets/hub")))
        #expect(remote.httpClient.tls.caFile == "/etc/ca.pem")
        #expect(remote.writeRelabelConfigs.count == 1)
        #expect(remote.queueConfig.minShards == 2 && remote.queueConfig.maxShards == 10)
        #expect(!remote.queueConfig.retryOnHTTP429 && remote.queueConfig.sampleAgeLimit == .seconds(600))
        #expect(!remote.metadataConfig.send && remote.sendExemplars && remote.protobufMessage == .v2)
    }

    @Test func environmentDefaultsApplyAndFingerprintsFollowTheFile() throws {
        let dev = try load()
        #expect(dev.global.externalLabels == Labels(["cluster": "dev"]))
        let production = try load(environment: ["CLUSTER": "production"])
        #expect(dev.scrapeConfigs[0].fingerprint != production.scrapeConfigs[0].fingerprint, "the global section is part of a job's fingerprint")
        #expect(try load().scrapeConfigs[0].fingerprint == dev.scrapeConfigs[0].fingerprint)
        #expect(dev.remoteWrite[0] != production.remoteWrite[0], "external labels are part of an endpoint's identity")
    }

    @Test func relativePathsResolveAgainstTheConfigFilesFolder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-paths-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("agent.yml")
        try """
            scrape_configs:
              - job_name: a
                file_sd_configs: [{files: ["targets/*.json", "/abs/t.yml"]}]
                tls_config: {ca_file: ca.pem}
                bearer_token_file: secrets/token
            remote_write:
              - url: http://hub/api/v1/write
                basic_auth: {username: u, password_file: pw}
            """.write(to: file, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(file: file.path)
        let job = config.scrapeConfigs[0]
        #expect(job.fileSDConfigs[0].files == [directory.path + "/targets/*.json", "/abs/t.yml"])
        #expect(job.httpClient.tls.caFile == directory.path + "/ca.pem")
        #expect(job.httpClient.authorization?.credentials == .file(directory.path + "/secrets/token"))
        #expect(config.remoteWrite[0].httpClient.basicAuth?.password == .file(directory.path + "/pw"))
    }

    @Test(arguments: [
        ("${A}", ["A": "x"], "x"), ("${A:-d}", [:], "d"), ("${A:-d}", ["A": ""], "d"), ("${A}", [:], ""),
        ("$$HOME", [:], "$HOME"), ("a$b", [:], "a$b"), ("${A}-${B:-2}", ["A": "1"], "1-2"),
    ] as [(String, [String: String], String)])
    func expandsEnvironmentReferences(text: String, environment: [String: String], expected: String) {
        #expect(ConfigLoader.expand(text, environment: environment) == expected)
    }

    @Test(arguments: [
        ("relabel_configs: [{action: nonsense}]", "unknown relabel action"),
        ("relabel_configs: [{regex: '(?=x)', target_label: a}]", "regex"),
        ("relabel_configs: [{action: hashmod, target_label: a}]", "modulus"),
        ("relabel_configs: [{action: replace, source_labels: [a]}]", "target_label"),
        ("relabel_configs: [{source_labels: [''], target_label: a}]", "invalid source label name"),
        ("metric_relabel_configs: [{action: keep, unknown_key: 1}]", "unknown key"),
        ("file_sd_configs: [{files: ['targets.txt']}]", "the extension must be .json, .yml or .yaml"),
        ("file_sd_configs: [{files: ['dir/*/targets.json']}]", "globs are allowed only in the last path element"),
        ("file_sd_configs: [{}]", "at least one file"),
        ("kubernetes_sd_configs: [{role: deployment}]", "unknown role"),
        ("kubernetes_sd_configs: [{namespaces: {names: [a]}}]", "role is required"),
    ])
    func invalidScrapeDiscoveryAndRelabelingAreErrors(option: String, message: String) {
        expectRejected("scrape_configs:\n  - job_name: a\n    \(option)\n", message: message, fromLine: 3)
    }

    @Test(arguments: [
        ("headers: {Content-Type: x}", "reserved header"),
        ("headers: {X-Prometheus-Remote-Write-Version: '2'}", "reserved header"),
        ("headers: {Authorization: x}\n    bearer_token: y", "conflicts"),
        ("queue_config: {min_shards: 5, max_shards: 2}", "min_shards must not exceed max_shards"),
        ("protobuf_message: v3", "unknown protobuf message"),
        ("write_relabel_configs: [{action: drop, regex: '(a'}]", "regex"),
    ])
    func invalidRemoteWriteEntriesAreErrors(option: String, message: String) {
        expectRejected("remote_write:\n  - url: http://hub/api/v1/write\n    \(option)\n", message: message)
    }
}
