import Foundation

/// A process whose Kubernetes discovery ``KubernetesScaleTests`` measures (the agent, or vmagent
/// for comparison), and how to read its target set.
protocol DiscoverySubject: Sendable {
    /// `agent` or `vmagent`.
    var name: String { get }
    var pid: Int32 { get }
    /// Active targets, from the process's own metrics (cheap to poll).
    func targetCounts() async throws -> TargetCounts
    /// The active targets, from `GET /api/v1/targets?state=active`.
    func activeTargets() async throws -> Set<ScrapeTarget>
    /// The Kubernetes watch events the process has counted so far, if it counts them.
    func watchEvents() async throws -> Double?
    /// SIGTERM and wait; the exit status.
    func stop() async -> Int32
    /// The end of its log, for assertion messages.
    func logTail() -> String
}

/// How many active targets a process reports: per job, or (vmagent) only in all.
enum TargetCounts: Sendable, CustomStringConvertible {
    case byJob([String: Int])
    case total(Int)

    /// Whether they are `expected` (per job; a job not reported counts as 0).
    func agree(with expected: [String: Int]) -> Bool {
        switch self {
        case .byJob(let counts): expected.allSatisfy { counts[$0.key, default: 0] == $0.value }
        case .total(let total): total == expected.values.reduce(0, +)
        }
    }

    var description: String {
        switch self {
        case .byJob(let counts): counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        case .total(let total): "\(total) in all"
        }
    }
}

/// `scrape_configs` with a long interval: the targets only have to be discovered (their loopback
/// addresses refuse the scrapes, which must not cost the measurement much).
func scaleConfig(apiServer: String, remoteWrite: String?) -> String {
    var config = """
        global:
          scrape_interval: 5m
          scrape_timeout: 10s
        scrape_configs:

        """ + GeneratedCluster.scrapeConfigs(apiServer: apiServer)
    if let remoteWrite { config += "remote_write:\n  - url: \(remoteWrite)\n" }
    return config
}

/// Reads `/api/v1/targets` in Prometheus's shape (both agents serve it).
func decodeActiveTargets(_ body: [UInt8]) throws -> Set<ScrapeTarget> {
    struct Response: Decodable {
        struct Targets: Decodable { var activeTargets: [Active] }
        struct Active: Decodable {
            var scrapePool: String
            var scrapeUrl: String
            var labels: [String: String]
        }
        var data: Targets
    }
    let response = try JSONDecoder().decode(Response.self, from: Data(body))
    return Set(response.data.activeTargets.map { ScrapeTarget(job: $0.scrapePool, url: $0.scrapeUrl, labels: $0.labels) })
}

/// The agent under test (`Paths.agentBinary`), through ``AgentHarness``, logging at info level.
struct AgentSubject: DiscoverySubject {
    let harness: AgentHarness
    var name: String { "agent" }
    var pid: Int32 { harness.pid }

    static func start(directory: URL, apiServer: String, remoteWrite: String) throws -> AgentSubject {
        let harness = try AgentHarness(directory: directory)
        // The last --log.level wins: the harness asks for debug, which logs every failed scrape.
        harness.extraArguments = ["--log.level=info"]
        try harness.start(config: scaleConfig(apiServer: apiServer, remoteWrite: remoteWrite))
        return AgentSubject(harness: harness)
    }

    /// `prometheus_target_scrape_pool_targets{scrape_job}`.
    func targetCounts() async throws -> TargetCounts {
        let metrics = try await harness.metrics()
        var counts: [String: Int] = [:]
        for sample in metrics.samples where sample.name == "prometheus_target_scrape_pool_targets" {
            counts[sample.labels["scrape_job"] ?? "", default: 0] += Int(sample.value)
        }
        return .byJob(counts)
    }

    func activeTargets() async throws -> Set<ScrapeTarget> {
        let response = try await harness.get("/api/v1/targets?state=active", timeout: .seconds(120))
        guard response.status == 200 else { throw HubError("GET /api/v1/targets: HTTP \(response.status)") }
        return try decodeActiveTargets(response.body)
    }

    func watchEvents() async throws -> Double? {
        try await harness.metrics().sum("prometheus_sd_kubernetes_events_total")
    }

    func stop() async -> Int32 { await harness.stop() }
    func logTail() -> String { harness.logTail(40) }
}

/// vmagent (`VMAGENT_BINARY`, else `vmagent` on the PATH) on the same jobs, for comparison.
///
/// `-promscrape.kubernetesSDCheckInterval=5s`: vmagent applies discovered changes to its scrapers
/// every 30 s by default; 5 s is the batching Prometheus (and the agent) use.
struct VMAgentSubject: DiscoverySubject {
    let process: ChildProcess
    let baseURL: String
    var name: String { "vmagent" }
    var pid: Int32 { process.pid }

    static var binary: String? {
        if let path = ProcessInfo.processInfo.environment["VMAGENT_BINARY"] { return path }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/vmagent" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func start(directory: URL, apiServer: String, remoteWrite: String) throws -> VMAgentSubject {
        guard let binary else { throw HubError("vmagent not found: set VMAGENT_BINARY or put it on the PATH") }
        let configFile = directory.appendingPathComponent("vmagent.yml")
        try scaleConfig(apiServer: apiServer, remoteWrite: nil).write(to: configFile, atomically: true, encoding: .utf8)
        let port = try freePort()
        let process = try ChildProcess(
            name: "vmagent", executable: binary,
            arguments: [
                "-promscrape.config=\(configFile.path)", "-remoteWrite.url=\(remoteWrite)",
                "-remoteWrite.tmpDataPath=\(directory.path)/vmagent-data", "-httpListenAddr=127.0.0.1:\(port)",
                "-promscrape.kubernetesSDCheckInterval=5s", "-promscrape.suppressScrapeErrors",
                "-promscrape.suppressDuplicateScrapeTargetErrors", "-loggerLevel=WARN",
            ],
            logDirectory: directory)
        return VMAgentSubject(process: process, baseURL: "http://127.0.0.1:\(port)")
    }

    /// `vm_promscrape_active_scrapers{type="kubernetes_sd_configs"}`: vmagent counts its targets
    /// by discovery type, not by job.
    func targetCounts() async throws -> TargetCounts {
        .total(Int(try await metrics().sum("vm_promscrape_active_scrapers", ["type": "kubernetes_sd_configs"])))
    }

    func metrics() async throws -> AgentMetrics {
        let response = try await TestClient.get(baseURL + "/metrics", timeout: .seconds(10))
        guard response.status == 200 else { throw HubError("GET /metrics: HTTP \(response.status)") }
        return AgentMetrics(text: String(decoding: response.body, as: UTF8.self))
    }

    func activeTargets() async throws -> Set<ScrapeTarget> {
        let response = try await TestClient.get(baseURL + "/api/v1/targets?state=active", timeout: .seconds(120))
        guard response.status == 200 else { throw HubError("GET /api/v1/targets: HTTP \(response.status)") }
        return try decodeActiveTargets(response.body)
    }

    /// `vm_promscrape_discovery_kubernetes_objects_{added,updated,removed}_total`, per shared
    /// watch (vmagent watches pods once for both jobs that need them).
    func watchEvents() async throws -> Double? {
        let metrics = try await metrics()
        return ["added", "updated", "removed"].reduce(0) { $0 + metrics.sum("vm_promscrape_discovery_kubernetes_objects_\($1)_total") }
    }

    func stop() async -> Int32 { await process.stop() }

    func logTail() -> String {
        process.log.split(separator: "\n", omittingEmptySubsequences: false).suffix(40).map { $0.prefix(300) }.joined(separator: "\n")
    }
}

/// What `/proc/PID/status` says about a process's memory, in bytes.
enum ProcMemory {
    /// `VmRSS`: resident now.
    static func resident(_ pid: Int32) -> Int { field("VmRSS", pid) }
    /// `VmHWM`: the peak resident size so far (the kernel's high-water mark).
    static func peak(_ pid: Int32) -> Int { field("VmHWM", pid) }

    private static func field(_ name: String, _ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            // "VmHWM:	  123456 kB"
            let kilobytes = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
            return (kilobytes ?? 0) * 1024
        }
        return 0
    }
}
