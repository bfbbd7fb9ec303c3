import Model
import Foundation
import Logging
import Testing
import WAL

/// `agent wal dump` as a user runs it, over WALs the test writes with the WAL module.
@Suite("agent wal dump")
struct WALDumpCLITests {
    /// 2024-01-02T03:04:05.000Z.
    static let t0: Int64 = 1_704_164_645_000

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the agent binary with `arguments` in `directory` and waits for it (stdout and stderr
    /// apart).
    func agent(_ arguments: [String], in directory: URL) async throws -> Run {
        let run = try await ChildProcess.run(
            Paths.agentBinary, arguments, name: "wal-dump", currentDirectory: directory, separateStandardError: true)
        #expect(run.status != -1, "agent \(arguments) did not finish")
        return Run(status: run.status, stdout: run.output, stderr: run.errors)
    }

    /// A storage directory with a WAL holding one node scrape at t0 and one at t0+15s.
    func writeWAL(_ storage: URL, keepOpen: Bool = false) async throws -> WriteAheadLog {
        let wal = try WriteAheadLog(directory: storage.appendingPathComponent("wal").path, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        var batch = AppendBatch()
        batch.append(labels: Labels(["__name__": "up", "job": "node", "instance": "a:9100"]), timestamp: Self.t0, value: 1)
        batch.append(labels: Labels(["__name__": "node_load1", "job": "node", "instance": "a:9100"]), timestamp: Self.t0, value: 0.5)
        let refs = try await wal.commit(batch)
        batch.removeAll()
        batch.append(ref: refs[0], timestamp: Self.t0 + 15_000, value: 1)
        batch.append(ref: refs[1], timestamp: Self.t0 + 15_000, value: Double(bitPattern: 0x7ff0_0000_0000_0002))
        _ = try await wal.commit(batch)
        if !keepOpen { try await wal.close() }
        return wal
    }

    func segmentContents(_ storage: URL) throws -> [String: Data] {
        let wal = storage.appendingPathComponent("wal")
        var result: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: wal.path) {
            result[name] = try Data(contentsOf: wal.appendingPathComponent(name))
        }
        return result
    }

    @Test func dumpsTheRecordsOfTheDefaultStoragePath() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump")
        defer { Paths.removeUnlessKept(directory) }
        _ = try await writeWAL(directory.appendingPathComponent("data-agent"))

        let run = try await agent(["wal", "dump"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("00000000@0 series ref=1 {__name__=\"up\", instance=\"a:9100\", job=\"node\"}") }, "\(lines)")
        #expect(lines.contains { $0.hasSuffix(" sample ref=1 {__name__=\"up\", instance=\"a:9100\", job=\"node\"} 2024-01-02T03:04:05.000Z 1") }, "\(lines)")
        #expect(lines.contains { $0.hasSuffix(" sample ref=2 {__name__=\"node_load1\", instance=\"a:9100\", job=\"node\"} 2024-01-02T03:04:20.000Z stale") }, "\(lines)")
        #expect(lines.count == 6)
    }

    @Test func jsonLinesAndFiltersWorkThroughTheCommandLine() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-json")
        defer { Paths.removeUnlessKept(directory) }
        let storage = directory.appendingPathComponent("store")
        _ = try await writeWAL(storage)

        let run = try await agent(
            ["wal", "dump", "--storage.path", storage.path, "--format", "json", "--match", "up{job=\"node\"}",
             "--from", "2024-01-02T03:04:10Z", "--to", "1704164700"],
            in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let objects = try run.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["kind"] as? String } == ["series", "sample"])
        #expect(objects.last?["timestamp"] as? Int64 == Self.t0 + 15_000)
        #expect(objects.last?["value"] as? String == "1")
        #expect((objects.last?["labels"] as? [String: String])?["__name__"] == "up")
    }

    @Test func readsAWALAnotherProcessHasOpenWithoutChangingIt() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-live")
        defer { Paths.removeUnlessKept(directory) }
        let storage = directory.appendingPathComponent("data")
        let wal = try await writeWAL(storage, keepOpen: true)
        let before = try segmentContents(storage)

        let first = try await agent(["wal", "dump", "--storage.path=\(storage.path)", "--stats"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("samples:          4, 1 staleness marker"), "\(first.stdout)")
        #expect(try segmentContents(storage) == before, "the dump changed the WAL's files")

        // The writer goes on; a new dump sees its new commit.
        var batch = AppendBatch()
        batch.append(labels: Labels(["__name__": "up", "job": "late"]), timestamp: Self.t0 + 30_000, value: 0)
        _ = try await wal.commit(batch)
        let second = try await agent(["wal", "dump", "--storage.path=\(storage.path)"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("{__name__=\"up\", job=\"late\"} 2024-01-02T03:04:35.000Z 0"), "\(second.stdout)")
        try await wal.close()
    }

    @Test func dumpsTheWALOfARunningAgentAndItsLag() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-agent")
        defer { Paths.removeUnlessKept(directory) }
        let port = try freePort()
        let deadPort = try freePort()  // the hub: nothing listens, so nothing is ever acknowledged
        let config = directory.appendingPathComponent("agent.yml")
        try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: self
                static_configs:
                  - targets: ["127.0.0.1:\(port)"]
            remote_write:
              - name: hub
                url: http://127.0.0.1:\(deadPort)/api/v1/write
            """.write(to: config, atomically: true, encoding: .utf8)
        let storage = directory.appendingPathComponent("data").path
        let running = try ChildProcess(
            name: "agent", executable: Paths.agentBinary,
            arguments: ["run", "--config.file=\(config.path)", "--storage.path=\(storage)",
                        "--web.listen-address=127.0.0.1:\(port)", "--storage.remote.flush-deadline=1s"],
            logDirectory: directory)

        // While it scrapes: the dump sees its `up` samples, and every run exits 0.
        var ups = 0
        let scraped = await eventually(timeout: .seconds(30)) {
            guard let run = try? await agent(["wal", "dump", "--storage.path", storage, "--match", "up{job=\"self\"}"], in: directory),
                run.status == 0
            else { return false }
            ups = run.stdout.split(separator: "\n").filter { $0.contains(" sample ") && $0.hasSuffix(" 1") }.count
            return ups >= 3
        }
        #expect(scraped, "up samples seen: \(ups)\n\(running.log)")
        let live = try await agent(["wal", "dump", "--storage.path", storage, "--stats", "--format", "json"], in: directory)
        #expect(live.status == 0, "\(live.stderr)")

        #expect(await running.stop() == 0, "\(running.log)")
        let stats = try await agent(["wal", "dump", "--storage.path", storage, "--stats", "--format", "json"], in: directory)
        let lag = try await agent(["wal", "dump", "--storage.path", storage, "--lag", "--format", "json"], in: directory)
        #expect(stats.status == 0 && lag.status == 0, "\(stats.stderr)\(lag.stderr)")
        let statsObject = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        let lagObject = try #require(try JSONSerialization.jsonObject(with: Data(lag.stdout.utf8)) as? [String: Any])
        let samples = try #require(statsObject["samples"] as? Int)
        #expect(samples > 0)
        // The hub never answered: every sample in the WAL is unsent.
        #expect(lagObject["endpoint"] as? String == "hub")
        #expect(lagObject["url"] as? String == "http://127.0.0.1:\(deadPort)/api/v1/write")
        #expect(lagObject["unsent_samples"] as? Int == samples, "\(lag.stdout) vs \(stats.stdout)")
        #expect(lagObject["oldest_unsent_timestamp"] as? Int64 == statsObject["oldest_timestamp"] as? Int64)
    }

    @Test func lagReportsEachEndpointsProgressFile() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-lag")
        defer { Paths.removeUnlessKept(directory) }
        let storage = directory.appendingPathComponent("data")
        let wal = try await writeWAL(storage, keepOpen: true)
        let head = wal.head
        try await wal.close()
        try FileManager.default.createDirectory(at: storage.appendingPathComponent("remote"), withIntermediateDirectories: true)
        try EndpointProgressFile(directory: storage.appendingPathComponent("remote").path, endpointName: "hub")
            .store(EndpointProgress(acknowledged: Cursor(position: head), url: "http://hub:9090/api/v1/write"), durable: false)

        let run = try await agent(["wal", "dump", "--storage.path=\(storage.path)", "--lag"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("endpoint hub\n  url:            http://hub:9090/api/v1/write\n"), "\(run.stdout)")
        #expect(run.stdout.contains("  unsent samples: 0\n"), "\(run.stdout)")
    }

    @Test func aCorruptFinishedSegmentIsReportedOnStderrAndExitsOne() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-corrupt")
        defer { Paths.removeUnlessKept(directory) }
        let storage = directory.appendingPathComponent("data")
        _ = try await writeWAL(storage)
        _ = try await writeWAL(storage)  // reopened: segment 0 is finished, segment 1 has the same data again
        let segment0 = storage.appendingPathComponent("wal/00000000")
        var bytes = try Data(contentsOf: segment0)
        bytes[bytes.count - 3] ^= 0xff  // inside the last record's payload
        try bytes.write(to: segment0)

        let run = try await agent(["wal", "dump", "--storage.path", storage.path], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("agent wal dump: corrupt WAL record in segment 00000000 at offset "), "\(run.stderr)")
        #expect(run.stderr.contains(": checksum mismatch (file \(storage.path)/wal/00000000); skipped the rest of that segment"), "\(run.stderr)")
        #expect(run.stdout.contains("00000000@0 series ref=1 "), "\(run.stdout)")
        #expect(run.stdout.contains("00000001@0 series ref=1 "), "\(run.stdout)")
        // The damaged record (segment 0's last) is left out; segment 1 has the same samples again.
        #expect(run.stdout.components(separatedBy: " 2024-01-02T03:04:20.000Z stale").count - 1 == 1, "\(run.stdout)")
        #expect(run.stdout.contains("00000001@"), "segment 1 was not printed: \(run.stdout)")
    }

    @Test func aMissingStorageDirectoryIsAnErrorNamingIt() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-missing")
        defer { Paths.removeUnlessKept(directory) }
        let missing = directory.appendingPathComponent("nothing-here").path
        let run = try await agent(["wal", "dump", "--storage.path", missing], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr == "agent wal dump: storage directory \(missing) does not exist\n")
        #expect(run.stdout.isEmpty)
    }

    @Test func aStorageDirectoryWithoutWALIsAnErrorNamingTheWALPath() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-nowal")
        defer { Paths.removeUnlessKept(directory) }
        let run = try await agent(["wal", "dump", "--storage.path", directory.path], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr == "agent wal dump: no WAL in \(directory.path): \(directory.path)/wal does not exist\n")
    }

    @Test func aBadMatchIsAnErrorWithItsColumn() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-badmatch")
        defer { Paths.removeUnlessKept(directory) }
        _ = try await writeWAL(directory.appendingPathComponent("data-agent"))
        let run = try await agent(["wal", "dump", "--match", "{job=\"node\",mode}"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr == "agent wal dump: --match: invalid selector {job=\"node\",mode}: column 17: expected \"=\", \"!=\", \"=~\" or \"!~\", found \"}\"\n")
        #expect(run.stdout.isEmpty)
    }

    @Test func aBadTimeIsAnError() async throws {
        let directory = try Paths.temporaryDirectory("wal-dump-badtime")
        defer { Paths.removeUnlessKept(directory) }
        _ = try await writeWAL(directory.appendingPathComponent("data-agent"))
        let run = try await agent(["wal", "dump", "--from", "yesterday"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("agent wal dump: --from: invalid time \"yesterday\""), "\(run.stderr)")
    }
}
