import Curl
import Foundation

/// Runs the built `agent` with a generated config in a temporary directory.
///
/// The storage directory (`storagePath`) outlives the process: `kill()` (SIGKILL) and
/// `restart()` run a new process on the same storage, as a crash and a restart would.
final class AgentHarness: @unchecked Sendable {
    let directory: URL
    let listenPort: Int
    /// Flags added after the harness's own (e.g. `--storage.wal.sync-interval=100ms`).
    var extraArguments: [String] = []
    /// `--storage.remote.flush-deadline`; `nil` leaves the agent's default (1m). 20 s by
    /// default, so a test whose receiver is gone at the end does not wait a minute.
    var flushDeadline: String? = "20s"
    private(set) var process: ChildProcess?
    /// Processes started so far (each has its own log file, `agent.log`, `agent-2.log`, …).
    private(set) var starts = 0
    private var logFiles: [URL] = []

    init(directory: URL) throws {
        self.directory = directory
        listenPort = try freePort()
    }

    var configFile: URL { directory.appendingPathComponent("agent.yml") }
    var storagePath: String { "\(directory.path)/agent-data" }
    var walDirectory: String { "\(storagePath)/wal" }
    var baseURL: String { "http://127.0.0.1:\(listenPort)" }
    var metricsURL: String { "\(baseURL)/metrics" }

    func start(config: String) throws {
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        try launch()
    }

    /// Starts a new process with the current config file on the same storage directory.
    func restart() throws {
        precondition(process?.isRunning != true, "restart() while the agent runs")
        try launch()
    }

    private func launch() throws {
        starts += 1
        var arguments = [
            "run", "--config.file=\(configFile.path)", "--storage.path=\(storagePath)",
            "--web.listen-address=127.0.0.1:\(listenPort)", "--log.level=debug",
        ]
        if let flushDeadline { arguments.append("--storage.remote.flush-deadline=\(flushDeadline)") }
        let child = try ChildProcess(
            name: starts == 1 ? "agent" : "agent-\(starts)", executable: Paths.agentBinary,
            arguments: arguments + extraArguments, logDirectory: directory)
        process = child
        logFiles.append(child.logFile)
    }

    /// The current process's PID (0 when none was started).
    var pid: Int32 { process?.pid ?? 0 }

    /// SIGTERM and wait (SIGKILL after `timeout`); returns the exit status.
    func stop(timeout: Duration = .seconds(60)) async -> Int32 {
        await process?.stop(timeout: timeout) ?? -1
    }

    /// SIGKILL (a crash: nothing is flushed or synced by the agent) and wait until it is gone.
    func kill() async {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.pid, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// The current (last started) process's log.
    var log: String { process?.log ?? "" }

    /// Every process's log, oldest first, each under a header line.
    var allLogs: String {
        logFiles.map { "==== \($0.lastPathComponent)\n" + ((try? String(contentsOf: $0, encoding: .utf8)) ?? "") }
            .joined(separator: "\n")
    }

    /// The last `lines` lines of every process's log (for assertion messages).
    func logTail(_ lines: Int = 60) -> String {
        allLogs.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Waits until `/-/ready` answers 200.
    func waitUntilReady(timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { await TestClient.status("\(baseURL)/-/ready") == 200 }
    }

    /// `GET path` on the admin server (path starts with `/`).
    func get(_ path: String, timeout: Duration = .seconds(5)) async throws -> HTTPResponse {
        try await TestClient.get(baseURL + path, timeout: timeout)
    }

    /// `POST /-/reload` after writing `config` to the config file; the HTTP status (403 unless
    /// `extraArguments` has `--web.enable-lifecycle`).
    func reload(config: String) async throws -> Int {
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        return try await TestClient.post("\(baseURL)/-/reload").status
    }

    /// The self-metrics, parsed: one entry per sample line.
    func metrics() async throws -> AgentMetrics {
        let response = try await TestClient.get(metricsURL, timeout: .seconds(5))
        guard response.status == 200 else { throw HubError("GET /metrics: HTTP \(response.status)") }
        return AgentMetrics(text: String(decoding: response.body, as: UTF8.self))
    }

    /// The current process's OS threads, from `/proc/PID/task` (`nil` when it is not running).
    func threads() -> Int? {
        guard let process, process.isRunning else { return nil }
        return threadCount(ofProcess: process.pid)
    }

    /// Bytes of the regular files under the WAL directory (0 when it does not exist yet).
    func walSize() -> Int {
        directorySize(walDirectory)
    }

    /// The files of the WAL directory with their sizes.
    func walListing() -> [(name: String, size: Int)] {
        directoryListing(walDirectory)
    }
}

/// Total size of the regular files under `path` (recursively), tolerating files that vanish
/// while it is read.
func directorySize(_ path: String) -> Int {
    directoryListing(path).reduce(0) { $0 + $1.size }
}

/// The regular files under `path` (recursively) with their sizes, by name.
func directoryListing(_ path: String) -> [(name: String, size: Int)] {
    guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
    var files: [(name: String, size: Int)] = []
    while let name = enumerator.nextObject() as? String {
        var info = stat()
        if stat(path + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { files.append((name, Int(info.st_size))) }
    }
    return files.sorted { $0.name < $1.name }
}

/// Prometheus text exposition, read as `name{labels} value` lines (comments skipped).
struct AgentMetrics {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    let text: String
    let samples: [Sample]

    init(text: String) {
        self.text = text
        var samples: [Sample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                samples.append(Sample(name: String(series), labels: [:], value: value))
                continue
            }
            var labels: [String: String] = [:]
            // name="value" pairs; values here never hold escaped quotes or commas we care about.
            let body = series[series.index(after: brace)..<(series.lastIndex(of: "}") ?? series.endIndex)]
            var rest = Substring(body)
            while let equals = rest.firstIndex(of: "=") {
                let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { break }
                rest = rest.dropFirst()
                var value = ""
                var escaped = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { break } else { value.append(c) }
                }
                labels[key] = value
            }
            samples.append(Sample(name: String(series[..<brace]), labels: labels, value: value))
        }
        self.samples = samples
    }

    /// Whether any sample of that metric name is exposed.
    func has(_ name: String) -> Bool { samples.contains { $0.name == name } }

    /// The sum of the samples named `name` whose labels include `matching`.
    func sum(_ name: String, _ matching: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && matching.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    /// The samples named `name`, for assertion messages.
    func lines(_ name: String) -> String {
        text.split(separator: "\n").filter { $0.hasPrefix(name) }.joined(separator: "\n")
    }
}
