import Foundation
import Testing

/// A password in a remote-write URL (`http://user:password@hub/...`) authenticates the requests
/// but is shown nowhere: not in the log (start, failure and recovery lines), not in the `url`
/// label of `/metrics`, not in the stored progress, not in `agent config check`'s errors.
@Suite("Passwords in remote-write URLs")
struct URLPasswordRedactionTests {
    static let password = "s3cr3t-Pa55"

    @Test("the receiver gets the password as basic auth; logs, /metrics and the progress file show user:xxxxx@")
    func passwordIsUsedButNeverShown() async throws {
        let directory = try Paths.temporaryDirectory("url-password")
        defer { Paths.removeUnlessKept(directory) }
        // The receiver refuses the first requests (503: retried and logged as failures), then
        // accepts; it records the Authorization header of each request.
        let expected = "Basic " + Data("agent:\(Self.password)".utf8).base64EncodedString()
        let authorizations = Locked<[String]>([])
        let receiver = try await TestHTTPServer { request in
            let count = authorizations.withLock { list in
                list.append(request.header("Authorization") ?? "")
                return list.count
            }
            return CannedResponse(status: count <= 2 ? 503 : 204)
        }
        let target = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(target.server.address)"]
            remote_write:
              - url: http://agent:\(Self.password)@\(receiver.address)/api/v1/write
                name: hub
                queue_config:
                  batch_send_deadline: 200ms
                  min_backoff: 100ms
                  max_backoff: 200ms
            """)
        #expect(await agent.waitUntilReady())
        let delivered = try await eventually(timeout: .seconds(30)) {
            try await agent.metrics().sum("prometheus_remote_storage_samples_total", ["remote_name": "hub"]) > 0
        }
        #expect(delivered, "\(agent.logTail())")
        let metricsText = String(decoding: try await agent.get("/metrics").body, as: UTF8.self)
        #expect(await agent.stop() == 0)

        let seen = authorizations.value
        #expect(seen.count >= 3 && seen.allSatisfy { $0 == expected }, "Authorization headers: \(Set(seen))")

        let shown = "http://agent:xxxxx@\(receiver.address)/api/v1/write"
        let log = agent.allLogs
        #expect(log.contains("remote write starting") && log.contains("remote write failed; retrying"), "\(agent.logTail())")
        #expect(log.contains(shown), "\(agent.logTail())")
        #expect(metricsText.contains("url=\"\(shown)\""), "\(metricsText)")
        // Every file the agent stored (the WAL and the endpoint's progress file).
        let stored = directoryListing(agent.storagePath).compactMap { file in
            FileManager.default.contents(atPath: "\(agent.storagePath)/\(file.name)").map { String(decoding: $0, as: UTF8.self) }
        }.joined(separator: "\n")
        #expect(stored.contains(shown), "the progress file records the URL redacted")
        for (place, text) in [("log", log), ("/metrics", metricsText), ("stored files", stored)] {
            #expect(!text.contains(Self.password), "the password is in the \(place)")
        }
    }

    @Test("agent config check and agent run report an invalid URL without its password")
    func configErrorsDoNotShowThePassword() async throws {
        let directory = try Paths.temporaryDirectory("url-password-check")
        defer { Paths.removeUnlessKept(directory) }
        let file = directory.appendingPathComponent("agent.yml")
        try "remote_write:\n  - url: htp://agent:\(Self.password)@hub.example/api/v1/write\n".write(to: file, atomically: true, encoding: .utf8)
        let check = try await ChildProcess.run(Paths.agentBinary, ["config", "check", file.path], name: "check", timeout: .seconds(30))
        #expect(check.status == 1)
        #expect(check.output.contains("invalid URL \"htp://agent:xxxxx@hub.example/api/v1/write\""), "\(check.output)")
        let run = try await ChildProcess.run(
            Paths.agentBinary,
            ["run", "--config.file=\(file.path)", "--storage.path=\(directory.path)/data", "--web.listen-address=127.0.0.1:0"],
            name: "run", timeout: .seconds(30))
        #expect(run.status == 1)
        #expect(run.output.contains("agent:xxxxx@"), "\(run.output)")
        for output in [check.output, run.output] { #expect(!output.contains(Self.password), "\(output)") }
    }
}
