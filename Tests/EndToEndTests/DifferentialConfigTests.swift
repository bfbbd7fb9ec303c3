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
}
