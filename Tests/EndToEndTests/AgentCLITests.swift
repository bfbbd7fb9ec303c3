import Curl
import Foundation
import Testing

/// The `agent` binary as a user runs it: its subcommands, exit codes and admin endpoints.
@Suite("agent command line")
struct AgentCLITests {
    func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let run = try await ChildProcess.run(Paths.agentBinary, arguments, name: "agent-cli", timeout: .seconds(30))
        #expect(run.status != -1, "agent \(arguments) did not finish within 30 s")
        return (run.status, run.output)
    }

    @Test func configCheckAcceptsTheDemoConfig() async throws {
        let demo = Paths.packageRoot.appendingPathComponent("config/demo.yaml").path
        let (status, output) = try await run(["config", "check", demo])
        #expect(status == 0, "\(output)")
        #expect(output.contains("\(demo): valid (2 scrape configs, 2 static targets, 1 remote write endpoints)"))
    }

    @Test func configCheckReportsEveryErrorWithFileLineAndKey() async throws {
        let directory = try Paths.temporaryDirectory("cli-bad")
        defer { Paths.removeUnlessKept(directory) }
        let bad = directory.appendingPathComponent("bad.yml")
        try "global:\n  scrape_intervall: 5s\nscrape_configs:\n  - job_name: a\n    scheme: ftp\n".write(to: bad, atomically: true, encoding: .utf8)
        let (status, output) = try await run(["config", "check", bad.path])
        #expect(status == 1)
        #expect(output.contains("\(bad.path):2:3: global.scrape_intervall: unknown key"), "\(output)")
        #expect(output.contains("\(bad.path):5:13: scrape_configs[0].scheme: must be http or https"), "\(output)")
    }

    @Test func runRefusesAnInvalidConfigWithExitCode1() async throws {
        let directory = try Paths.temporaryDirectory("cli-run-bad")
        defer { Paths.removeUnlessKept(directory) }
        let bad = directory.appendingPathComponent("bad.yml")
        try "remote_write:\n  - url: nowhere\n".write(to: bad, atomically: true, encoding: .utf8)
        let (status, output) = try await run(["run", "--config.file=\(bad.path)", "--storage.path=\(directory.path)/data", "--web.listen-address=127.0.0.1:0"])
        #expect(status == 1)
        #expect(output.contains("invalid URL"), "\(output)")
    }

    @Test func servesAdminEndpointsAndExitsZeroOnSIGINT() async throws {
        let directory = try Paths.temporaryDirectory("cli-run")
        defer { Paths.removeUnlessKept(directory) }
        let config = directory.appendingPathComponent("agent.yml")
        let port = try freePort()
        try "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: [\"127.0.0.1:\(port)\"]\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let agent = try ChildProcess(
            name: "agent", executable: Paths.agentBinary,
            arguments: ["run", "--config.file=\(config.path)", "--storage.path=\(directory.path)/data", "--web.listen-address=127.0.0.1:\(port)", "--log.format=json"],
            logDirectory: directory)
        func get(_ path: String) async -> HTTPResponse? {
            try? await TestClient.get("http://127.0.0.1:\(port)\(path)", timeout: .seconds(2))
        }
        let up = await eventually(timeout: .seconds(20)) { await get("/-/healthy")?.status == 200 }
        #expect(up, "\(agent.log)")
        #expect(await get("/-/ready")?.status == 200)
        #expect(await get("/nope")?.status == 404)
        let metrics = String(decoding: await get("/metrics")?.body ?? [], as: UTF8.self)
        #expect(metrics.contains("agent_build_info{version=\""), "\(metrics)")
        kill(agent.pid, SIGINT)
        let stopped = await eventually(timeout: .seconds(20)) { !agent.isRunning }
        #expect(stopped)
        #expect(agent.process.terminationStatus == 0, "\(agent.log)")
        let firstLine = agent.log.split(separator: "\n").first.map(String.init) ?? ""
        #expect((try? JSONSerialization.jsonObject(with: Data(firstLine.utf8))) is [String: Any], "json log: \(firstLine)")
    }
}
