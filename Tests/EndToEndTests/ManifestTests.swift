import AgentConfig
import Curl
import Foundation
import Testing

/// The Kubernetes deployment in config/kubernetes: its manifests (scripts/check-manifests.py) and
/// the agent configuration its ConfigMap carries, checked by the built agent.
@Suite("Kubernetes manifests")
struct ManifestTests {
    static let kubernetes = Paths.packageRoot.appendingPathComponent("config/kubernetes")
    static let agentConfig = kubernetes.appendingPathComponent("base/agent.yaml")
    static let productionEnvironment = ["CLUSTER_NAME": "production", "HUB_URL": "https://hub.example.com/api/v1/write"]

    /// Runs `executable arguments` with `environment` added to completion (through
    /// /usr/bin/env, which finds `executable` on the PATH).
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(300))
        async throws -> (status: Int32, output: String)
    {
        let run = try await ChildProcess.run(
            "/usr/bin/env", [executable] + arguments, name: "manifests", environment: environment, timeout: timeout)
        #expect(run.status != -1, "\(executable) \(arguments) did not finish: \(run.output)")
        return (run.status, run.output)
    }

    /// A python3 that has PyYAML: the one on PATH, else Debian's (python3-yaml).
    func python() async throws -> String? {
        for candidate in ["python3", "/usr/bin/python3"] {
            if try await run(candidate, ["-c", "import yaml"]).status == 0 { return candidate }
        }
        return nil
    }

    @Test func checkManifestsScriptPasses() async throws {
        let python = try #require(try await python(), "no python3 with PyYAML (Debian: python3-yaml)")
        let script = Paths.packageRoot.appendingPathComponent("scripts/check-manifests.py").path
        let (status, output) = try await run(python, [script, "--agent", Paths.agentBinary])
        #expect(status == 0, "\(output)")
        #expect(output.contains("agent config check: config/kubernetes/base"), "\(output)")
    }

    @Test func baseConfigPassesAgentConfigCheckWithExpandedEnvironment() async throws {
        let (status, output) = try await run(
            Paths.agentBinary, ["config", "check", "--config.expand-env", Self.agentConfig.path], environment: Self.productionEnvironment)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\(Self.agentConfig.path): valid (6 scrape configs, 1 static targets, 1 remote write endpoints)"), "\(output)")
    }

    @Test func expandedConfigCarriesTheClusterAndTheHub() throws {
        let config = try ConfigLoader.load(file: Self.agentConfig.path, expandEnvironment: true, environment: Self.productionEnvironment)
        #expect(config.global.externalLabels["cluster"] == "production")
        #expect(config.remoteWrite.map(\.url) == ["https://hub.example.com/api/v1/write"])
        #expect(config.scrapeConfigs.map(\.jobName) == ["kubelet", "kubelet-cadvisor", "kubelet-probes", "kubernetes-pods", "flux-system", "metrics-agent"])
        #expect(config.scrapeConfigs.map(\.metricsPath).prefix(3) == ["/metrics", "/metrics/cadvisor", "/metrics/probes"])
        let flux = try #require(config.scrapeConfigs.first { $0.jobName == "flux-system" })
        #expect(flux.kubernetesSDConfigs.map(\.namespaces) == [["flux-system"]])
        // Without HUB_URL the file is invalid, so a pod without its environment fails loudly.
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.load(file: Self.agentConfig.path, expandEnvironment: true, environment: [:])
        }
    }

    /// The commented-out API-server-proxy job in agent.yaml, uncommented, is a valid config.
    @Test func apiServerProxyAlternativeIsValid() async throws {
        let text = try String(contentsOf: Self.agentConfig, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0.contains("# BEGIN apiserver-proxy") })
        let end = try #require(lines.firstIndex { $0.contains("# END apiserver-proxy") })
        let job = lines[(begin + 1)..<end].map { $0.replacingOccurrences(of: "  # ", with: "  ", options: .anchored) }
        #expect(job.allSatisfy { !$0.hasPrefix("  #") }, "\(job)")
        let directory = try Paths.temporaryDirectory("manifests-proxy")
        defer { Paths.removeUnlessKept(directory) }
        let file = directory.appendingPathComponent("proxy.yaml")
        try ("scrape_configs:\n" + job.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try await run(Paths.agentBinary, ["config", "check", "--config.expand-env", file.path])
        #expect(status == 0, "\(output)")
        let config = try ConfigLoader.load(file: file.path, expandEnvironment: true, environment: [:])
        #expect(config.scrapeConfigs.first?.jobName == "kubelet-cadvisor-via-apiserver")
        #expect(text.contains("replacement: /api/v1/nodes/$${1}/proxy/metrics/cadvisor"))
    }

    /// agent.yaml's sharding rules (hashmod of __address__ by ${SHARDS}, keep ${SHARD}), run by
    /// real agents: three shards split a set of targets between them, each target to exactly one;
    /// with neither variable set (the Deployment) one agent keeps them all.
    @Test func shardingRulesSplitTargetsAcrossReplicas() async throws {
        let text = try String(contentsOf: Self.agentConfig, encoding: .utf8)
        let start = try #require(text.range(of: "      - source_labels: [__address__]\n        action: hashmod\n"))
        let stop = try #require(text.range(of: "regex: ${SHARD:-0}\n", range: start.upperBound..<text.endIndex))
        let rules = String(text[start.lowerBound..<stop.upperBound])
        let targets = (1...12).map { "127.0.0.\($0):10250" }
        let config = """
            global:
              scrape_interval: 1h
            scrape_configs:
              - job_name: sharded
                static_configs:
                  - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]
                relabel_configs:
            \(rules.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

            """
        let directory = try Paths.temporaryDirectory("manifests-shards")
        defer { Paths.removeUnlessKept(directory) }
        let file = directory.appendingPathComponent("agent.yml")
        try config.write(to: file, atomically: true, encoding: .utf8)

        func activeTargets(shard: Int?) async throws -> Set<String> {
            let port = try freePort()
            let name = shard.map { "agent-\($0)" } ?? "agent-all"
            let agent = try ChildProcess(
                name: name, executable: Paths.agentBinary,
                arguments: [
                    "run", "--config.file=\(file.path)", "--config.expand-env",
                    "--storage.path=\(directory.path)/\(name)", "--web.listen-address=127.0.0.1:\(port)",
                ],
                logDirectory: directory, environment: shard.map { ["SHARDS": "3", "SHARD": "\($0)"] } ?? [:])
            var active: Set<String> = []
            let listed = await eventually(timeout: .seconds(20)) {
                guard
                    let response = try? await TestClient.get("http://127.0.0.1:\(port)/api/v1/targets?state=any", timeout: .seconds(2)),
                    let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                    let data = json["data"] as? [String: Any],
                    let activeList = data["activeTargets"] as? [[String: Any]],
                    let droppedList = data["droppedTargets"] as? [[String: Any]]
                else { return false }
                active = Set(activeList.compactMap { ($0["discoveredLabels"] as? [String: String])?["__address__"] })
                return activeList.count + droppedList.count == targets.count
            }
            let status = await agent.stop()
            #expect(listed, "\(agent.log)")
            #expect(status == 0, "\(agent.log)")
            return active
        }

        #expect(try await activeTargets(shard: nil) == Set(targets))
        var shards: [Set<String>] = []
        for shard in 0..<3 { shards.append(try await activeTargets(shard: shard)) }
        #expect(shards.reduce(Set<String>()) { $0.union($1) } == Set(targets), "\(shards)")
        #expect(shards.map(\.count).reduce(0, +) == targets.count, "a target in two shards: \(shards)")
        #expect(shards.filter { !$0.isEmpty }.count >= 2, "\(shards)")
    }
}
