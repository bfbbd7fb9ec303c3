import Foundation
import Testing

/// `agent config check` agrees with Debian's `promtool check config` on the same files.
@Suite("config check agrees with promtool")
struct DifferentialConfigTests {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/configs")

    static func files(_ kind: String) -> [String] {
        let folder = directory.appendingPathComponent(kind)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yml") }.sorted().map { folder.appendingPathComponent($0).path }
    }

    func exitStatus(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
        let run = try await ChildProcess.run(executable, arguments, name: "config-check", timeout: .seconds(30))
        return (run.status, run.output)
    }

    @Test func fixturesExist() {
        #expect(Self.files("valid").count >= 3 && Self.files("invalid").count >= 15)
    }

    @Test(arguments: files("valid") + files("invalid"))
    func bothAcceptOrBothReject(file: String) async throws {
        let shouldPass = file.contains("/valid/")
        let (promtool, promtoolOutput) = try await exitStatus("/usr/bin/promtool", ["check", "config", file])
        let (agent, agentOutput) = try await exitStatus(Paths.agentBinary, ["config", "check", file])
        #expect((promtool == 0) == shouldPass, "promtool on \(file):\n\(promtoolOutput)")
        #expect((agent == 0) == shouldPass, "agent on \(file):\n\(agentOutput)")
        if !shouldPass {
            #expect(agent == 1 && agentOutput.contains("\(file):"), "errors name the file:\n\(agentOutput)")
        }
    }

    /// A deliberate difference: a file with nothing to scrape and nowhere to send (an empty file
    /// from a broken template) passes promtool but not the agent, at start as in `config check`.
    @Test func anEmptyFilePassesPromtoolButNotTheAgent() async throws {
        let directory = try Paths.temporaryDirectory("config-empty")
        defer { Paths.removeUnlessKept(directory) }
        let empty = directory.appendingPathComponent("agent.yml").path
        try "# the template rendered nothing\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let (promtool, promtoolOutput) = try await exitStatus("/usr/bin/promtool", ["check", "config", empty])
        #expect(promtool == 0, "\(promtoolOutput)")
        let (check, checkOutput) = try await exitStatus(Paths.agentBinary, ["config", "check", empty])
        #expect(check == 1 && checkOutput.contains("\(empty): nothing to scrape and nowhere to send"), "\(checkOutput)")
        let (run, runOutput) = try await exitStatus(
            Paths.agentBinary, ["run", "--config.file=\(empty)", "--storage.path=\(directory.path)/data", "--web.listen-address=127.0.0.1:0"])
        #expect(run == 1 && runOutput.contains("nothing to scrape and nowhere to send"), "\(runOutput)")
    }
}
