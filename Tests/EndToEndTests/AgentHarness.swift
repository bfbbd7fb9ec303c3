import Foundation

/// Runs the built `agent` with a generated config in a temporary directory.
final class AgentHarness: @unchecked Sendable {
    let directory: URL
    let listenPort: Int
    private(set) var process: ChildProcess?

    init(directory: URL) throws {
        self.directory = directory
        listenPort = try freePort()
    }

    func start(config: String) throws {
        let configFile = directory.appendingPathComponent("agent.yml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        process = try ChildProcess(
            name: "agent", executable: Paths.agentBinary,
            arguments: [
                "run", "--config.file=\(configFile.path)", "--storage.path=\(directory.path)/agent-data",
                "--web.listen-address=127.0.0.1:\(listenPort)", "--log.level=debug",
                "--storage.remote.flush-deadline=20s",
            ],
            logDirectory: directory)
    }

    /// SIGTERM and wait; returns the exit status.
    func stop() async -> Int32 {
        await process?.stop() ?? -1
    }

    var log: String { process?.log ?? "" }
}
