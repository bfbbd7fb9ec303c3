import Curl
import Foundation
import Testing

/// Issue 11: a few dead scrape targets (they accept the TCP connection and never answer) must not
/// starve the healthy ones, and the agent must do it with a fixed number of OS threads.
///
/// One file_sd job of 2,000 targets at `scrape_interval: 10s`, `scrape_timeout: 10s`: 1,800 healthy
/// ones served in-process (``LoopbackTargetFarm``, one loopback address each) and 200 dead ones;
/// remote write to an in-process receiver that answers 204. After a warm-up of one interval the
/// test watches three intervals (plus half of one, for the scrapes started at their end) and checks:
///
/// - every healthy target was scraped in every interval: the distinct `lastScrape` values of
///   `/api/v1/targets`, polled four times per interval, are one interval apart (0.5–1.5
///   intervals: none skipped, none doubled) from the last scrape before the window to its end;
///   the same holds for the request times the targets themselves saw;
/// - the 99th percentile of `agent_scrape_lateness_seconds{scrape_job}` over the window is under
///   1 s: `count(le="1") / count >= 0.99` of the histogram's increase;
/// - `agent_threads` (and `/proc/PID/task`) stays at or under ``maxThreads``, and, in the first
///   variant, does not grow when the job grows from 200 targets to 2,000 in the same process.
///
/// The agent under test is `Paths.agentBinary` (the debug build unless `AGENT_BINARY` says
/// otherwise). Against the old agent (97f232e) these checks fail: it has neither metric, and its
/// four curl threads are held by the dead targets, so healthy targets miss whole intervals.
///
/// Series per healthy target: 10, not the ~200 of the benchmark (Benchmarks/Scenarios/dead_targets.py),
/// because the debug build cannot keep up with 1,800 × 200 series per 10 s on this 2-core machine.
/// See ``seriesPerTarget`` for the measurements.
@Suite("Dead targets do not starve healthy ones (issue 11)", .serialized)
struct DeadTargetsTests {
    struct Variant: Sendable, CustomTestStringConvertible {
        var name: String
        var deadMode: LoopbackTargetFarm.DeadMode
        var endpoints: Int
        /// Run 200 targets first (180 healthy, 20 dead) and compare the threads with the 2,000-target run.
        var smallRunFirst: Bool
        var testDescription: String { name }
    }

    static let variants = [
        Variant(name: "200 dead targets never answer (after a 200-target run)", deadMode: .never, endpoints: 1, smallRunFirst: true),
        Variant(name: "200 dead targets answer after 30 s", deadMode: .slow(.seconds(30)), endpoints: 1, smallRunFirst: false),
        Variant(name: "two remote_write endpoints at max_shards 50", deadMode: .never, endpoints: 2, smallRunFirst: false),
    ]

    static let healthyTargets = 1_800
    static let deadTargets = 200
    static let smallHealthy = 180
    static let smallDead = 20
    static let interval = 10.0
    static let observedIntervals = 3
    /// Polls of `/api/v1/targets` per interval: often enough that no scrape is missed between two
    /// polls (two scrapes of one target would have to finish within 2.5 s of each other).
    static let pollsPerInterval = 4
    /// The bound on the agent's OS threads (issue 11: a fixed number, independent of targets,
    /// dead targets and shards).
    static let maxThreads = 24
    static let job = "dead-targets"
    /// Series per healthy target (`DEAD_TARGETS_SERIES` overrides it).
    ///
    /// Measured 2026-12-06 on the 2-core machine with the debug build of 97f232e (the agent before
    /// issue 11), 1,800 healthy targets every 10 s and *no* dead targets, CPU of the agent in % of
    /// one core (one remote_write endpoint / two):
    /// - 200 series (bench farm, no debug logging): over 100 %, and only about a third of the
    ///   scrapes happen at all (scrape durations up to 21 s); 50 series: 104 %, the host saturated;
    /// - this test's exposition, `--log.level=debug`: 5 series 29 % / 44 %; 10 series 43 % / 54 %
    ///   (request lateness p99 0.07 s / 0.57 s); 20 series 58 % / 79 % (p99 0.42 s / 1.09 s, and 137
    ///   targets skipped an interval with two endpoints).
    /// (The release build needs 17 % of one core for 200 series.) 10 series leaves the debug agent
    /// half a core of headroom for the test process and the end-to-end suites running beside it:
    /// the test is about scheduling, threads and dead targets; 180 scrapes a second are kept.
    static let seriesPerTarget = ProcessInfo.processInfo.environment["DEAD_TARGETS_SERIES"].flatMap(Int.init) ?? 10

    @Test(arguments: variants)
    func healthyTargetsAreScrapedEveryIntervalOnTimeWithBoundedThreads(_ variant: Variant) async throws {
        let fileLimit = raiseOpenFileLimit()
        let directory = try Paths.temporaryDirectory("dead-targets")
        defer { Paths.removeUnlessKept(directory) }
        let farm = try await LoopbackTargetFarm.start(
            healthy: Self.healthyTargets, dead: Self.deadTargets, deadMode: variant.deadMode, seriesPerTarget: Self.seriesPerTarget)
        let writes = Locked<[String: Int]>([:])
        let receiver: TestHTTPServer
        do {
            receiver = try await TestHTTPServer { request in
                writes.withLock { $0[request.uri, default: 0] += 1 }
                return CannedResponse(status: 204)
            }
        } catch {
            await farm.stop()
            throw error
        }
        let run: Observation
        do {
            run = try await observe(variant, farm: farm, writeURL: "http://\(receiver.address)/api/v1/write", directory: directory)
        } catch {
            await farm.stop()
            try? await receiver.stop()
            throw error
        }
        await farm.stop()
        try await receiver.stop()

        // Every healthy target, every interval: from the agent's API and from the targets' side.
        let from = run.start - 1.5 * Self.interval
        var apiProblems: [String] = []
        var serverProblems: [String] = []
        var apiTimes: [[Double]] = []
        var serverTimes: [[Double]] = []
        for (index, instance) in farm.healthy.enumerated() {
            let times = (run.seen[instance] ?? []).filter { $0 >= from && $0 <= run.end }.sorted()
            apiTimes.append(times)
            if let problem = Self.scheduleProblem(times, from: from, to: run.end, interval: Self.interval) {
                apiProblems.append("\(instance): \(problem)")
            }
            let requests = farm.requestTimes(index).filter { $0 >= from && $0 <= run.end }
            serverTimes.append(requests)
            if let problem = Self.scheduleProblem(requests, from: from, to: run.end, interval: Self.interval) {
                serverProblems.append("\(instance): \(problem)")
            }
        }
        let lateness = Self.latenessSummary(start: run.metricsAtStart, end: run.metricsAtEnd, job: Self.job)
        let requests = writes.value
        let observed = run.end - run.start

        print("""
            [\(variant.name)] \(Self.healthyTargets) healthy × \(farm.seriesPerTarget) series (\(farm.bodySize) B), \
            \(Self.deadTargets) dead (\(variant.deadMode)), \(variant.endpoints) endpoint(s), agent \(Paths.agentBinary), \
            RLIMIT_NOFILE \(fileLimit)
              observed \(String(format: "%.1f", observed)) s; agent CPU \(String(format: "%.2f", run.cpuSeconds)) s \
            (\(String(format: "%.0f", 100 * run.cpuSeconds / observed)) % of one core); targets served \(farm.requestsServed) requests
              /api/v1/targets: \(apiProblems.count) of \(Self.healthyTargets) healthy targets skipped or doubled an interval\
            \(apiProblems.prefix(3).map { "\n    \($0)" }.joined())
                lastScrape lateness \(Self.describeLateness(apiTimes))\
            \(run.pollFailures.isEmpty ? "" : "; \(run.pollFailures.count) polls failed: \(run.pollFailures[0])")
              targets' side: \(serverProblems.count) of \(Self.healthyTargets) skipped or doubled an interval\
            \(serverProblems.prefix(3).map { "\n    \($0)" }.joined())
                request lateness \(Self.describeLateness(serverTimes))
              agent_scrape_lateness_seconds{scrape_job="\(Self.job)"}: \(lateness.description)
              threads: agent_threads max \(run.bigThreads.metricMax.map(String.init) ?? "n/a"), /proc max \(run.bigThreads.procMax)\
            \(variant.smallRunFirst ? " (200-target run: agent_threads \(run.smallThreads.metricMax.map(String.init) ?? "n/a"), /proc \(run.smallThreads.procMax))" : "")
              remote write requests: \(requests.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            """)

        #expect(run.stillRunning, "the agent exited:\n\(run.logTail)")
        #expect(apiProblems.count == 0, "healthy targets were not scraped once per interval (agent's /api/v1/targets), e.g. \(apiProblems.prefix(3).joined(separator: "; "))")
        #expect(serverProblems.count == 0, "healthy targets were not scraped once per interval (requests they saw), e.g. \(serverProblems.prefix(3).joined(separator: "; "))")
        #expect(lateness.total != nil, "agent_scrape_lateness_seconds{scrape_job=\"\(Self.job)\"} is not exposed")
        if let total = lateness.total {
            #expect(total > 0 && (lateness.withinOneSecond ?? 0) / total >= 0.99, "p99 of scrape lateness is not under 1 s: \(lateness.description)")
        }
        let threads = run.bigThreads
        #expect(threads.metricMax != nil, "agent_threads is not exposed")
        if let metric = threads.metricMax { #expect(metric <= Self.maxThreads, "agent_threads reached \(metric)") }
        #expect(threads.procMax <= Self.maxThreads, "/proc/PID/task of the agent reached \(threads.procMax) threads")
        if variant.smallRunFirst {
            let small = run.smallThreads
            if let big = threads.metricMax, let before = small.metricMax {
                #expect(big <= before, "agent_threads grew from \(before) (200 targets) to \(big) (2,000 targets)")
            }
            #expect(threads.procMax <= small.procMax, "OS threads grew from \(small.procMax) (200 targets) to \(threads.procMax) (2,000 targets)")
        }
        for index in 1...variant.endpoints {
            let uri = "/api/v1/write" + (index == 1 ? "" : "?endpoint=\(index)")
            #expect((requests[uri] ?? 0) > 0, "remote_write endpoint \(index) received nothing")
        }
    }

    /// What one run of the agent showed.
    struct Observation {
        /// Wall-clock bounds of the observation (seconds since 1970).
        var start: Double
        var end: Double
        /// `instance` → distinct `lastScrape` values seen while polling.
        var seen: [String: Set<Double>]
        var metricsAtStart: AgentMetrics?
        var metricsAtEnd: AgentMetrics?
        var smallThreads: ThreadSamples
        var bigThreads: ThreadSamples
        var cpuSeconds: Double
        var pollFailures: [String]
        var stillRunning: Bool
        var logTail: String
    }

    /// Starts the agent, runs the 200-target phase if asked, grows the job to 2,000 targets, warms
    /// up for one interval and polls through the observation; kills the agent at the end.
    private func observe(_ variant: Variant, farm: LoopbackTargetFarm, writeURL: String, directory: URL) async throws -> Observation {
        let targetsFile = directory.appendingPathComponent("targets.json")
        func writeTargets(healthy: Int, dead: Int) throws {
            let groups: [[String: Any]] = [
                ["targets": Array(farm.healthy.prefix(healthy)), "labels": [String: String]()],
                ["targets": Array(farm.dead.prefix(dead)), "labels": [String: String]()],
            ]
            try JSONSerialization.data(withJSONObject: groups).write(to: targetsFile, options: .atomic)
        }
        if variant.smallRunFirst {
            try writeTargets(healthy: Self.smallHealthy, dead: Self.smallDead)
        } else {
            try writeTargets(healthy: Self.healthyTargets, dead: Self.deadTargets)
        }
        let endpoints = (1...variant.endpoints).map { index in
            let queue = variant.endpoints > 1 ? "\n    queue_config:\n      max_shards: 50" : ""
            return "  - url: \(writeURL)\(index == 1 ? "" : "?endpoint=\(index)")\n    name: endpoint-\(index)\(queue)"
        }
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 10s
              scrape_timeout: 10s
            scrape_configs:
              - job_name: \(Self.job)
                file_sd_configs:
                  - files: ["\(targetsFile.path)"]
            remote_write:
            \(endpoints.joined(separator: "\n"))
            """)
        try #require(await agent.waitUntilReady(), "agent did not become ready:\n\(agent.logTail())")
        let pid = agent.process!.process.processIdentifier
        let api = AgentAPI(port: agent.listenPort)

        // The 200-target phase: threads while every target gets about one scrape.
        var smallThreads = ThreadSamples()
        if variant.smallRunFirst {
            try #require(await api.waitForActiveTargets(Self.smallHealthy + Self.smallDead), "\(agent.logTail())")
            let until = ContinuousClock.now + .seconds(Self.interval + 2)
            while ContinuousClock.now < until {
                smallThreads.record(metric: try? await agent.metrics(), proc: ProcStat.threads(pid))
                try await Task.sleep(for: .seconds(1))
            }
            try writeTargets(healthy: Self.healthyTargets, dead: Self.deadTargets)
        }
        let all = Self.healthyTargets + Self.deadTargets
        try #require(await api.waitForActiveTargets(all), "the agent did not list all \(all) targets:\n\(agent.logTail())")

        // Warm-up: one interval, so that every target has had its first scrape.
        var bigThreads = ThreadSamples()
        let warmUpEnd = ContinuousClock.now + .seconds(Self.interval)
        while ContinuousClock.now < warmUpEnd {
            bigThreads.record(metric: try? await agent.metrics(), proc: ProcStat.threads(pid))
            try await Task.sleep(for: .seconds(2))
        }

        // Observation: the targets API and /metrics, four times per interval.
        let start = Date().timeIntervalSince1970
        let cpuAtStart = ProcStat.cpuSeconds(pid)
        let polls = Self.observedIntervals * Self.pollsPerInterval + Self.pollsPerInterval / 2
        let pollEvery = Self.interval / Double(Self.pollsPerInterval)
        var seen: [String: Set<Double>] = [:]
        var metricsAtStart: AgentMetrics?
        var metricsAtEnd: AgentMetrics?
        var pollFailures: [String] = []
        for poll in 0...polls {
            let wait = start + Double(poll) * pollEvery - Date().timeIntervalSince1970
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            do {
                for (instance, time) in try await api.lastScrapes() { seen[instance, default: []].insert(time) }
            } catch {
                pollFailures.append("\(error)")
            }
            let metrics = try? await agent.metrics()
            if poll == 0 { metricsAtStart = metrics }
            if poll == polls { metricsAtEnd = metrics }
            bigThreads.record(metric: metrics, proc: ProcStat.threads(pid))
        }
        let end = Date().timeIntervalSince1970
        let cpu = ProcStat.cpuSeconds(pid) - cpuAtStart
        let stillRunning = agent.process?.isRunning == true
        let logTail = agent.logTail()
        // SIGKILL: the shutdown is not under test here, and a graceful one may wait for dead targets.
        await agent.kill()
        return Observation(
            start: start, end: end, seen: seen, metricsAtStart: metricsAtStart, metricsAtEnd: metricsAtEnd,
            smallThreads: smallThreads, bigThreads: bigThreads, cpuSeconds: cpu, pollFailures: pollFailures,
            stillRunning: stillRunning, logTail: logTail)
    }

    @Test("the checks themselves, on made-up data (no agent)")
    func checksOnMadeUpData() throws {
        let i = Self.interval
        #expect(Self.scheduleProblem([100, 110, 120.4, 130, 140], from: 95, to: 145, interval: i) == nil)
        #expect(Self.scheduleProblem([100, 120, 130, 140], from: 95, to: 145, interval: i) == "20.0 s between two scrapes")
        #expect(Self.scheduleProblem([100, 103, 110, 120, 130, 140], from: 95, to: 145, interval: i) == "two scrapes 3.0 s apart")
        #expect(Self.scheduleProblem([100, 110], from: 95, to: 145, interval: i) == "no scrape in the last 35.0 s")
        #expect(Self.scheduleProblem([120, 130, 140], from: 100, to: 145, interval: i) == "first scrape 20.0 s after the window opened")
        #expect(Self.scheduleProblem([], from: 95, to: 145, interval: i) == "no scrape seen")
        #expect(Self.describeLateness([[100, 110.5, 120], [3, 13, 23]]) == "p50 0.000 s, p99 0.500 s, max 0.500 s")

        let before = AgentMetrics(text: """
            # TYPE agent_scrape_lateness_seconds histogram
            agent_scrape_lateness_seconds_bucket{scrape_job="\(Self.job)",le="0.1"} 90
            agent_scrape_lateness_seconds_bucket{scrape_job="\(Self.job)",le="1"} 100
            agent_scrape_lateness_seconds_bucket{scrape_job="\(Self.job)",le="+Inf"} 100
            agent_scrape_lateness_seconds_bucket{scrape_job="other",le="+Inf"} 7
            agent_threads 12
            """)
        let after = AgentMetrics(text: """
            agent_scrape_lateness_seconds_bucket{scrape_job="\(Self.job)",le="0.1"} 1070
            agent_scrape_lateness_seconds_bucket{scrape_job="\(Self.job)",le="1"} 1095
            agent_scrape_lateness_seconds_bucket{scrape_job="\(Self.job)",le="+Inf"} 1100
            agent_threads 14
            """)
        let lateness = Self.latenessSummary(start: before, end: after, job: Self.job)
        #expect(lateness.total == 1000 && lateness.withinOneSecond == 995)
        #expect(lateness.description == "1000 scrapes in the window, 99.500 % within 1 s, p99 ≤ 1 s")
        #expect(Self.latenessSummary(start: nil, end: AgentMetrics(text: "up 1"), job: Self.job).total == nil)
        var threads = ThreadSamples()
        threads.record(metric: before, proc: 15)
        threads.record(metric: after, proc: 13)
        threads.record(metric: nil, proc: 9)
        #expect(threads.metricMax == 14 && threads.procMax == 15)

        let json = """
            {"status":"success","data":{"activeTargets":[
              {"labels":{"instance":"127.0.1.1:9100","job":"j"},"lastScrape":"2026-12-06T05:39:45.123Z"},
              {"labels":{"instance":"127.0.1.2:9100","job":"j"},"lastScrape":"2026-12-06T05:39:45Z"},
              {"labels":{"instance":"127.0.1.3:9100","job":"j"},"lastScrape":"0001-01-01T00:00:00Z"},
              {"labels":{"instance":"127.0.1.4:9100","job":"j"},"lastScrape":"1970-01-01T00:00:00Z"}],
             "droppedTargets":[]}}
            """
        let times = AgentAPI.lastScrapes(in: try AgentAPI.activeTargets(json: Array(json.utf8)))
        #expect(times.count == 2)
        #expect(abs((times["127.0.1.1:9100"] ?? 0) - 1_796_535_585.123) < 0.0005)
        #expect(times["127.0.1.2:9100"] == 1_796_535_585)
    }

    // MARK: Checks, without I/O

    /// Why the scrape times of one target (sorted) are not "once per interval" over [from, to], or
    /// nil when they are: every gap between consecutive scrapes, and from `from` to the first and
    /// from the last to `to`, at most 1.5 intervals (none skipped), and consecutive scrapes at
    /// least half an interval apart (none doubled).
    static func scheduleProblem(_ times: [Double], from: Double, to: Double, interval: Double) -> String? {
        guard let first = times.first, let last = times.last else { return "no scrape seen" }
        if first - from > 1.5 * interval { return String(format: "first scrape %.1f s after the window opened", first - from) }
        if to - last > 1.5 * interval { return String(format: "no scrape in the last %.1f s", to - last) }
        for (a, b) in zip(times, times.dropFirst()) {
            if b - a > 1.5 * interval { return String(format: "%.1f s between two scrapes", b - a) }
            if b - a < 0.5 * interval { return String(format: "two scrapes %.1f s apart", b - a) }
        }
        return nil
    }

    /// Lateness from scrape times alone (as Benchmarks/Scenarios/dead_targets.py computes it from
    /// `up` timestamps): per target slot = min_k(t_k − k·interval), lateness_k = t_k − (slot + k·interval).
    static func describeLateness(_ perTarget: [[Double]]) -> String {
        var all: [Double] = []
        for times in perTarget where !times.isEmpty {
            let slot = times.enumerated().map { $0.element - Double($0.offset) * interval }.min()!
            all += times.enumerated().map { $0.element - (slot + Double($0.offset) * interval) }
        }
        guard !all.isEmpty else { return "n/a" }
        all.sort()
        func q(_ p: Double) -> Double { all[min(all.count - 1, max(0, Int((p * Double(all.count)).rounded(.up)) - 1))] }
        return String(format: "p50 %.3f s, p99 %.3f s, max %.3f s", q(0.5), q(0.99), all.last!)
    }

    struct Lateness {
        var total: Double?
        var withinOneSecond: Double?
        var description: String
    }

    /// The increase of `agent_scrape_lateness_seconds{scrape_job}` between two readings.
    static func latenessSummary(start: AgentMetrics?, end: AgentMetrics?, job: String) -> Lateness {
        func buckets(_ metrics: AgentMetrics?) -> [String: Double] {
            var result: [String: Double] = [:]
            for sample in metrics?.samples ?? [] where sample.name == "agent_scrape_lateness_seconds_bucket" && sample.labels["scrape_job"] == job {
                if let le = sample.labels["le"] { result[le] = sample.value }
            }
            return result
        }
        let before = buckets(start)
        let after = buckets(end)
        guard let infinity = after["+Inf"] else { return Lateness(total: nil, withinOneSecond: nil, description: "n/a (not exposed)") }
        let total = infinity - (before["+Inf"] ?? 0)
        let one = after.first { Double($0.key) == 1 }.map { $0.value - (before[$0.key] ?? 0) }
        let bounds = after.keys.compactMap(Double.init).filter(\.isFinite).sorted()
        let cumulative = bounds.map { bound -> (Double, Double) in
            let key = after.keys.first { Double($0) == bound }!
            return (bound, after[key]! - (before[key] ?? 0))
        }
        let p99 = cumulative.first { $0.1 >= 0.99 * total }.map { String(format: "≤ %g s", $0.0) } ?? "over the largest bucket"
        let share = one.map { total > 0 ? String(format: "%.3f %%", 100 * $0 / total) : "–" } ?? "no le=\"1\" bucket"
        return Lateness(
            total: total, withinOneSecond: one,
            description: "\(Int(total)) scrapes in the window, \(share) within 1 s, p99 \(p99)")
    }

    /// Thread counts seen: `agent_threads` and `/proc/PID/task`.
    struct ThreadSamples {
        var metricMax: Int?
        var procMax = 0

        mutating func record(metric metrics: AgentMetrics?, proc: Int) {
            procMax = max(procMax, proc)
            if let metrics, metrics.has("agent_threads") {
                let value = Int(metrics.sum("agent_threads"))
                metricMax = max(metricMax ?? 0, value)
            }
        }
    }
}

/// The agent's `/api/v1/targets`, read for its healthy targets' `lastScrape`.
struct AgentAPI: Sendable {
    let port: Int

    /// `labels.instance` → `lastScrape` (seconds since 1970) of every active target scraped at least once.
    func lastScrapes() async throws -> [String: Double] {
        Self.lastScrapes(in: try await activeTargets())
    }

    /// `lastScrape` of each entry of `activeTargets`, by instance: RFC 3339 with or without
    /// fractional seconds; targets never scraped (`0001-01-01T00:00:00Z`, vmagent's 1970) are left out.
    static func lastScrapes(in targets: [[String: Any]]) -> [String: Double] {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let whole = ISO8601DateFormatter()
        var result: [String: Double] = [:]
        for target in targets {
            guard let instance = (target["labels"] as? [String: Any])?["instance"] as? String,
                let text = target["lastScrape"] as? String,
                let date = fractional.date(from: text) ?? whole.date(from: text),
                date.timeIntervalSince1970 > 0
            else { continue }
            result[instance] = date.timeIntervalSince1970
        }
        return result
    }

    func activeTargets() async throws -> [[String: Any]] {
        let response = try await TestClient.get("http://127.0.0.1:\(port)/api/v1/targets?state=active", timeout: .seconds(20))
        guard response.status == 200 else { throw HubError("GET /api/v1/targets: HTTP \(response.status)") }
        return try Self.activeTargets(json: response.body)
    }

    static func activeTargets(json: [UInt8]) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
        return (object?["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []
    }

    /// Polls once a second until `/api/v1/targets` lists `count` active targets (30 s at most).
    func waitForActiveTargets(_ count: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if (try? await activeTargets().count) == count { return true }
            try? await Task.sleep(for: .seconds(1))
        }
        return false
    }
}
