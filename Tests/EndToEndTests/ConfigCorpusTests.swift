import Foundation
import Testing

/// Real-world configurations (Fixtures/corpus, sources in its README.md) and Grafana Agent's
/// examples after `agent config convert`: each loads or fails as Fixtures/corpus/expectations.txt
/// says, and where Debian's promtool (2.42) knows the keys it gives the same answer.
@Suite("configuration corpus")
struct ConfigCorpusTests {
    static let corpus = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/corpus")
    static let grafanaAgent = Paths.packageRoot.appendingPathComponent("Tests/ConfigConversionTests/Fixtures/grafana-agent")

    /// One line of expectations.txt: `FILE AGENT PROMTOOL # why`, AGENT `loads` or `fails`,
    /// PROMTOOL `loads`, `fails` or `skip`.
    struct Expectation: CustomTestStringConvertible, Sendable {
        var file: String
        var agentLoads: Bool
        var promtool: Bool?
        var why: String
        var line: Int
        var testDescription: String { file }
    }

    static let expectations: [Expectation] = {
        let text = (try? String(contentsOf: corpus.appendingPathComponent("expectations.txt"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            let parts = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let fields = (parts.first ?? "").split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count == 3 else { return nil }
            return Expectation(
                file: fields[0], agentLoads: fields[1] == "loads", promtool: fields[2] == "skip" ? nil : fields[2] == "loads",
                why: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "", line: index + 1)
        }
    }()

    static var corpusFiles: [String] {
        let own = ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { $0.hasSuffix(".yml") }
        let converted = ((try? FileManager.default.contentsOfDirectory(atPath: grafanaAgent.path)) ?? []).filter { $0.hasSuffix(".yaml") }
        return (own + converted.map { "grafana-agent/\($0)" }).sorted()
    }

    /// Exit status, stdout and stderr (stderr in the output unless `separately`).
    func run(_ executable: String, _ arguments: [String], separately: Bool = false) async throws -> (Int32, String, String) {
        let result = try await ChildProcess.run(executable, arguments, name: "corpus", separateStandardError: separately, timeout: .seconds(30))
        return (result.status, result.output, result.errors)
    }

    @Test func everyFileHasOneExpectation() {
        let listed = Self.expectations.map(\.file)
        for file in Self.corpusFiles where !listed.contains(file) {
            Issue.record("Fixtures/corpus/expectations.txt has no line for \(file)")
        }
        for expectation in Self.expectations where !Self.corpusFiles.contains(expectation.file) {
            Issue.record("expectations.txt:\(expectation.line): no file \(expectation.file)")
        }
        for expectation in Self.expectations where expectation.promtool != nil && expectation.promtool != expectation.agentLoads && expectation.why.isEmpty {
            Issue.record("expectations.txt:\(expectation.line): the agent and promtool disagree on \(expectation.file): say why")
        }
    }

    @Test(arguments: expectations)
    func loadsAsExpected(expectation: Expectation) async throws {
        let directory = try Paths.temporaryDirectory("corpus")
        defer { Paths.removeUnlessKept(directory) }
        var file = Self.corpus.appendingPathComponent(expectation.file)
        var promtoolFile = file
        if expectation.file.hasPrefix("grafana-agent/") {
            // Converted as a user would, keeping whatever was dropped out of the way.
            let source = Self.grafanaAgent.appendingPathComponent(String(expectation.file.dropFirst("grafana-agent/".count)))
            // A file with ${VAR} references was run with -config.expand-env by Grafana Agent.
            let expand = try String(contentsOf: source, encoding: .utf8).contains("${") ? ["--config.expand-env"] : []
            let (status, converted, errors) = try await run(
                Paths.agentBinary, ["config", "convert", "--from=grafana-agent", "--allow-partial"] + expand + [source.path], separately: true)
            #expect(status == 0 || !expectation.agentLoads, "agent config convert:\n\(errors)")
            file = directory.appendingPathComponent("converted.yml")
            try converted.write(to: file, atomically: true, encoding: .utf8)
            // promtool does not know the agent's own `wal` section.
            promtoolFile = directory.appendingPathComponent("converted-for-promtool.yml")
            try Self.removingTopLevelKey("wal", from: converted).write(to: promtoolFile, atomically: true, encoding: .utf8)
        }
        // A file with ${VAR} references is checked with --config.expand-env, as it would run.
        let expand = try String(contentsOf: file, encoding: .utf8).contains("${") ? ["--config.expand-env"] : []
        let (agent, agentOutput, _) = try await run(Paths.agentBinary, ["config", "check"] + expand + [file.path])
        if (agent == 0) != expectation.agentLoads {
            Issue.record("""
                expectations.txt:\(expectation.line): \(expectation.file) now \(agent == 0 ? "loads" : "fails") in `agent config check`: \
                change its AGENT column to "\(agent == 0 ? "loads" : "fails")" (and the reason):
                \(agentOutput)
                """)
        }
        if let promtoolLoads = expectation.promtool {
            let (promtool, promtoolOutput, _) = try await run("/usr/bin/promtool", ["check", "config", "--syntax-only", promtoolFile.path])
            #expect((promtool == 0) == promtoolLoads, "expectations.txt:\(expectation.line): promtool on \(expectation.file):\n\(promtoolOutput)")
        }
    }

    /// `yaml` without the block of the top-level `key` (the agent's own output format: the key
    /// at column 0, its content indented).
    static func removingTopLevelKey(_ key: String, from yaml: String) -> String {
        var out: [Substring] = []
        var skipping = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("\(key):") { skipping = true; continue }
            if skipping, line.first.map({ $0 == " " || $0 == "-" }) == true { continue }
            skipping = false
            out.append(line)
        }
        return out.joined(separator: "\n")
    }
}
