import Foundation
import Model
import Testing

/// Issue 13: Kubernetes discovery at scale. A fake API server holds a generated cluster
/// (``GeneratedCluster``: 10,000 pods of about 7 KB of JSON in 50 namespaces, 2,000 Services with
/// their EndpointSlices, 200 nodes); the agent runs three jobs on it (annotated pods, annotated
/// service endpoints, nodes). The test measures and prints:
///
/// - the time from the process's start until `/api/v1/targets` shows exactly the expected target
///   set, the CPU seconds spent until then and the peak RSS (`VmHWM`) at that moment;
/// - then, after a quiet 10 s (the idle CPU rate), `SCALE_CHURN_RATE` pod events a second (50:
///   a pod deleted, its replacement added, the EndpointSlice updated each time) for
///   `SCALE_CHURN_SECONDS` (60): how long after the churn stops the set is exact again, the CPU
///   per API event (pod add/delete and slice update), and how much the RSS grew.
///
/// It always checks that the set is complete and exact (the first time within `SCALE_TIMEOUT`
/// seconds, 600 by default, and again within `SCALE_SETTLE_TIMEOUT`, 300, after the churn).
/// With `SCALE_ASSERT=1`, meant for a release build (`AGENT_BINARY=.build/release/agent`), it also
/// checks the issue's bars: the complete set within 10 s of the start, peak RSS under 300 MB, and
/// the set exact again within 10 s after the churn stops. (The debug build is several times slower.)
///
/// `SCALE_PODS=N` runs a cluster of the same proportions with N pods (a quick check of the harness).
/// `SCALE_SUBJECTS=vmagent,agent` runs vmagent (`VMAGENT_BINARY` or the PATH) too, on the same
/// cluster and jobs, and prints its figures for comparison; it is not held to the bars.
///
/// The completion is polled cheaply, from the per-job target counts in the process's metrics every
/// 250 ms; `/api/v1/targets` (tens of MB at this size) is fetched only when the counts agree.
@Suite("Kubernetes discovery at scale (issue 13)", .serialized)
struct KubernetesScaleTests {
    enum Subject: String, Sendable, CustomTestStringConvertible {
        case agent, vmagent
        var testDescription: String { rawValue }
    }

    struct Settings {
        var assertBars: Bool
        /// `SCALE_SUBJECTS`: comma-separated `agent`, `vmagent`; `agent` by default.
        var subjects: [Subject]
        var churnRate: Int
        var churnSeconds: Int
        var timeout: Duration
        var settleTimeout: Duration
        var seed: UInt64
        /// Issue 13's cluster, or a proportionally smaller one for a quick run (`SCALE_PODS`).
        var shape: GeneratedCluster.Shape

        static var current: Settings {
            let environment = ProcessInfo.processInfo.environment
            func number(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap(Int.init) ?? fallback }
            return Settings(
                assertBars: environment["SCALE_ASSERT"] == "1",
                subjects: (environment["SCALE_SUBJECTS"] ?? "agent").split(separator: ",").compactMap { Subject(rawValue: String($0)) },
                churnRate: number("SCALE_CHURN_RATE", 50), churnSeconds: number("SCALE_CHURN_SECONDS", 60),
                timeout: .seconds(number("SCALE_TIMEOUT", 600)), settleTimeout: .seconds(number("SCALE_SETTLE_TIMEOUT", 300)),
                seed: UInt64(number("SCALE_SEED", 13)), shape: shape(pods: number("SCALE_PODS", 10_000)))
        }

        /// Issue 13's proportions: a Service per 5 pods, a node per 50, 50 namespaces.
        static func shape(pods: Int) -> GeneratedCluster.Shape {
            let services = max(1, pods / 5)
            return GeneratedCluster.Shape(namespaces: min(50, services), nodes: max(1, pods / 50), services: services, pods: pods)
        }
    }

    static var subjects: [Subject] { Settings.current.subjects }

    /// Issue 13's bars, checked with `SCALE_ASSERT=1`.
    static let completeBar: Duration = .seconds(10)
    static let peakBar = 300 * 1_000_000
    static let settleBar: Duration = .seconds(10)
    /// Counts are polled this often; a mismatching full set is fetched again at most every 5 s.
    static let pollInterval: Duration = .milliseconds(250)
    static let fullCheckInterval: Duration = .seconds(5)
    static let quietWindow: Duration = .seconds(10)

    @Test(arguments: subjects)
    func discoveryShowsTheExactTargetSetOfALargeClusterAndFollowsPodChurn(_ subject: Subject) async throws {
        let settings = Settings.current
        _ = raiseOpenFileLimit()
        let directory = try Paths.temporaryDirectory("k8s-scale")
        defer { Paths.removeUnlessKept(directory) }
        let clock = ContinuousClock()

        var cluster = GeneratedCluster(shape: settings.shape, seed: settings.seed)
        let api = try await FakeKubernetesAPIServer()
        let loadStart = clock.now
        let loaded = cluster.load(into: api)
        let loadTime = clock.now - loadStart
        let expected = cluster.expectedTargets()
        report(
            subject,
            "cluster: \(loaded) (a pod's JSON \(String(format: "%.1f", Double(loaded.averagePodBytes) / 1000)) KB on average,"
                + " generated and loaded in \(format(loadTime))); expected targets: \(describe(counts: GeneratedCluster.counts(expected)))")

        let receiver = try await TestHTTPServer { _ in CannedResponse(status: 204) }
        let started = clock.now
        let process: any DiscoverySubject =
            switch subject {
            case .agent: try AgentSubject.start(directory: directory, apiServer: api.url, remoteWrite: receiver.url("/api/v1/write"))
            case .vmagent: try VMAgentSubject.start(directory: directory, apiServer: api.url, remoteWrite: receiver.url("/api/v1/write"))
            }

        let complete = await waitForExactSet(process, expected, since: started, timeout: settings.timeout)
        guard case .reached(let first) = complete else {
            let status = await process.stop()
            try await receiver.stop()
            Issue.record("\(subject): no complete target set within \(settings.timeout): \(complete) (exit \(status))\n\(process.logTail())")
            return
        }
        let timeToComplete = first.at - started
        report(subject, "complete and exact target set (\(expected.count) targets) \(format(timeToComplete)) after the start")
        report(subject, "CPU until then: \(format(seconds: first.cpu)) s")
        report(subject, "peak RSS until then: \(format(bytes: first.peak))")

        // The idle rate: what the process spends with nothing changing (and a few refused scrapes).
        let quietStart = (clock.now, ProcStat.cpuSeconds(process.pid))
        try await clock.sleep(for: Self.quietWindow)
        let idleRate = (ProcStat.cpuSeconds(process.pid) - quietStart.1) / (clock.now - quietStart.0).seconds
        report(subject, "idle CPU after the complete set: \(String(format: "%.3f", idleRate)) s/s")

        // Churn.
        let churnCPU = ProcStat.cpuSeconds(process.pid)
        let churnRSS = ProcMemory.resident(process.pid)
        let watchedBefore = try? await process.watchEvents()
        let churnStart = clock.now
        var podEvents = 0
        var sliceUpdates = 0
        for event in 0..<(settings.churnRate * settings.churnSeconds) {
            try await clock.sleep(until: churnStart + .seconds(Double(event) / Double(settings.churnRate)))
            sliceUpdates += cluster.churn(api).sliceUpdates
            podEvents += 1
        }
        let churnEnd = clock.now
        let churnDuration = churnEnd - churnStart
        report(
            subject,
            "churn: \(podEvents) pod add/delete events (\(String(format: "%.1f", Double(podEvents) / churnDuration.seconds))/s)"
                + " and \(sliceUpdates) EndpointSlice updates in \(format(churnDuration))")

        let expectedAfter = cluster.expectedTargets()
        let settled = await waitForExactSet(process, expectedAfter, since: churnEnd, timeout: settings.settleTimeout)
        let endCPU = ProcStat.cpuSeconds(process.pid)
        let endRSS = ProcMemory.resident(process.pid)
        let peak = ProcMemory.peak(process.pid)
        let watchedAfter = try? await process.watchEvents()
        let status = await process.stop()
        try await receiver.stop()

        guard case .reached(let second) = settled else {
            Issue.record("\(subject): the target set was not exact within \(settings.settleTimeout) after the churn: \(settled)\n\(process.logTail())")
            return
        }
        let settleTime = second.at - churnEnd
        let apiEvents = podEvents + sliceUpdates
        let spent = second.cpu - churnCPU
        let net = spent - idleRate * (second.at - churnStart).seconds
        report(subject, "exact target set again (\(expectedAfter.count) targets) \(format(settleTime)) after the churn stopped")
        report(
            subject,
            "CPU from the churn's start until then: \(format(seconds: spent)) s = \(format(milliseconds: spent / Double(apiEvents))) ms per API event"
                + " (\(format(milliseconds: net / Double(apiEvents))) ms net of the idle rate; \(apiEvents) events)")
        if let before = watchedBefore ?? nil, let after = watchedAfter ?? nil, after > before {
            report(
                subject,
                "watch events it counted during the churn: \(Int(after - before)) = \(format(milliseconds: spent / (after - before))) ms each")
        }
        report(
            subject,
            "RSS \(format(bytes: churnRSS)) before the churn, \(format(bytes: endRSS)) after (\(format(bytes: endRSS - churnRSS, signed: true)));"
                + " peak RSS over the run \(format(bytes: peak)); CPU over the run \(format(seconds: endCPU)) s")

        #expect(status == 0, "exit status \(status)\n\(process.logTail())")
        guard subject == .agent, settings.assertBars else { return }
        #expect(timeToComplete <= Self.completeBar, "issue 13: the complete target set within 10 s of the start")
        #expect(peak < Self.peakBar, "issue 13: discovery's peak RSS under 300 MB")
        #expect(settleTime <= Self.settleBar, "the target set follows the churn within a few seconds")
    }

    // MARK: Waiting for the set

    struct Reached: Sendable {
        /// When the counts first agreed in the poll whose full set then matched.
        var at: ContinuousClock.Instant
        /// CPU seconds and peak RSS of the process at that moment.
        var cpu: Double
        var peak: Int
    }

    enum Completion: Sendable, CustomStringConvertible {
        case reached(Reached)
        case timedOut(counts: TargetCounts?, expected: [String: Int], difference: String)

        var description: String {
            switch self {
            case .reached: "reached"
            case .timedOut(let counts, let expected, let difference):
                "last counts \(counts.map(String.init(describing:)) ?? "none"), expected \(describe(counts: expected)); \(difference)"
            }
        }
    }

    /// Polls the per-job counts until they agree with `expected`, then compares the full set;
    /// after a mismatch the full set is fetched again no sooner than ``fullCheckInterval``.
    func waitForExactSet(
        _ process: any DiscoverySubject, _ expected: Set<ScrapeTarget>, since start: ContinuousClock.Instant, timeout: Duration
    ) async -> Completion {
        let clock = ContinuousClock()
        let expectedCounts = GeneratedCluster.counts(expected)
        var lastCounts: TargetCounts?
        var difference = "the full set was never fetched"
        var nextFullCheck = clock.now
        while clock.now - start < timeout {
            let polled = clock.now
            if let counts = try? await process.targetCounts() {
                lastCounts = counts
                if counts.agree(with: expectedCounts), polled >= nextFullCheck {
                    let reached = Reached(at: polled, cpu: ProcStat.cpuSeconds(process.pid), peak: ProcMemory.peak(process.pid))
                    do {
                        let actual = try await process.activeTargets()
                        if actual == expected { return .reached(reached) }
                        difference = Self.difference(actual: actual, expected: expected)
                    } catch {
                        difference = "GET /api/v1/targets failed: \(error)"
                    }
                    nextFullCheck = clock.now + Self.fullCheckInterval
                }
            }
            try? await clock.sleep(until: polled + Self.pollInterval)
        }
        return .timedOut(counts: lastCounts, expected: expectedCounts, difference: difference)
    }

    static func difference(actual: Set<ScrapeTarget>, expected: Set<ScrapeTarget>) -> String {
        let missing = expected.subtracting(actual), unexpected = actual.subtracting(expected)
        return "\(missing.count) missing, e.g. \(missing.prefix(3).map(\.description)); "
            + "\(unexpected.count) unexpected, e.g. \(unexpected.prefix(3).map(\.description))"
    }

    // MARK: Reporting

    func report(_ subject: Subject, _ line: String) {
        // Unbuffered: each line as it happens, also when the output is a file.
        FileHandle.standardOutput.write(Data("k8s-scale [\(subject.rawValue)]: \(line)\n".utf8))
    }
}

private func describe(counts: [String: Int]) -> String {
    counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        + " (total \(counts.values.reduce(0, +)))"
}

private func format(_ duration: Duration) -> String { String(format: "%.1f s", duration.seconds) }
private func format(seconds: Double) -> String { String(format: "%.1f", seconds) }
private func format(milliseconds seconds: Double) -> String { String(format: "%.2f", seconds * 1000) }
private func format(bytes: Int, signed: Bool = false) -> String {
    String(format: signed ? "%+.0f MB" : "%.0f MB", Double(bytes) / 1_000_000)
}
