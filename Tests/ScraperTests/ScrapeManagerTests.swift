import AgentConfig
import Curl
import Foundation
import Logging
import Model
import Prometheus
import ServiceLifecycle
import TestSupport
import Testing
import WAL

@testable import Scraper

/// A ScrapeManager in a ServiceGroup on a manual clock, scraping in-process targets into a real
/// WAL in a temporary directory.
final class ManagerHarness {
    let directory: String
    let wal: WriteAheadLog
    let pool: BlockingIOPool
    let transport = HTTPTransport()
    let clock = ManualClock()
    let manager: ScrapeManager
    let group: ServiceGroup
    let configuration: Configuration
    let registry = PrometheusCollectorRegistry()
    private let run: Task<Void, Never>
    private let finished = Locked(false)

    init(_ job: ScrapeConfig) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrape-manager-\(UUID().uuidString)").path
        wal = try WriteAheadLog(directory: directory, logger: Logger(label: "test"))
        pool = try BlockingIOPool(threads: 1, name: "scrape-manager-test")
        configuration = Configuration(scrapeConfigs: [job])
        manager = ScrapeManager(
            configuration: configuration, wal: wal, transport: transport, pool: pool, registry: registry,
            clock: clock, logger: Logger(label: "test"))
        group = ServiceGroup(services: [manager], logger: Logger(label: "test"))
        let (group, finished) = (group, finished)
        run = Task {
            do { try await group.run() } catch { Issue.record("service group failed: \(error)") }
            finished.withLock { $0 = true }
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    var hasFinished: Bool { finished.value }

    /// Moves the clock over every target's first slot, one slot at a time as the scheduler parks
    /// on it, waits until each target has scraped once and the scheduler waits for the earliest
    /// second slot; returns the second slots by target address.
    @discardableResult
    func scrapeEveryTargetOnce() async -> [String: ContinuousClock.Instant] {
        let targets = configuration.scrapeConfigs.flatMap(Target.targets(for:))
        let firstSlots = targets.map {
            ScrapeSchedule(interval: $0.interval, offset: $0.offset, now: clock.now, wallMilliseconds: clock.wallMilliseconds).next
        }
        for slot in Set(firstSlots).sorted() {
            #expect(await clock.waitForSleeper(until: slot, timeout: .seconds(20)), "parked until \(clock.parkedDescription)")
            clock.advance(to: slot)
        }
        #expect(
            await eventually(timeout: .seconds(20)) { manager.targetStatus.count == targets.count && manager.targetStatus.allSatisfy { $0.lastScrape != nil } },
            "not every target scraped")
        var next: [String: ContinuousClock.Instant] = [:]
        for (target, slot) in zip(targets, firstSlots) { next[target.address] = slot + target.interval }
        if let earliest = next.values.min() {
            #expect(await clock.waitForSleeper(until: earliest, timeout: .seconds(20)), "parked until \(clock.parkedDescription)")
        }
        return next
    }

    /// Every sample in the WAL, in order, by series text.
    func samples() throws -> [(series: String, timestamp: Int64, value: Double)] {
        var reader = try WALReader(directory: directory, from: WALPosition(segment: 0, offset: 0))
        var labels: [SeriesRef: String] = [:]
        var out: [(String, Int64, Double)] = []
        while let (record, _) = try reader.next() {
            switch record {
            case .series(let series):
                for entry in series { labels[entry.ref] = entry.labels.description }
            case .samples(let samples):
                for s in samples { out.append((labels[s.ref] ?? "ref \(s.ref)", s.timestamp, s.value)) }
            default:
                break
            }
        }
        return out
    }

    /// The series (as text) that got a staleness marker.
    func staleSeries() throws -> Set<String> { Set(try samples().filter { isStale($0.value) }.map(\.series)) }

    /// The value of the self-metric whose exposition line starts with `series`.
    func metric(_ series: String) -> Double? {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func stop() async -> Bool {
        await group.triggerGracefulShutdown()
        let done = await eventually(timeout: .seconds(20)) { self.hasFinished }
        await pool.shutdown()
        return done
    }
}

/// `up{instance=…, job=…}` and the other series a target of `job` at `address` has, as text.
func seriesOfTarget(job: String, address: String, exposed: [String] = ["a"]) -> Set<String> {
    Set((exposed + ScrapeLoop.syntheticNames).map { Labels(["__name__": $0, "job": job, "instance": address]).description })
}

@Suite("Scrape manager: structured lifecycle")
struct ScrapeManagerTests {
    @Test func stoppingTheServiceReturnsPromptlyWithTargetsThatNeverAnswerAndWritesNoStalenessMarkers() async throws {
        // Three targets answer their first scrape and never the next (the scrape timeout is 5 minutes).
        let requests = Locked(0)
        var servers: [TestHTTPServer] = []
        for _ in 0..<3 {
            let respond = numbered { n in n == 0 ? text("a 1\n") : .noAnswer }
            servers.append(try await TestHTTPServer { request in
                requests.withLock { $0 += 1 }
                return respond(request)
            })
        }
        var job = ScrapeConfig(jobName: "hang", scrapeInterval: .seconds(300), scrapeTimeout: .seconds(300))
        job.staticConfigs = [StaticConfig(targets: servers.map(\.address))]
        let h = try ManagerHarness(job)
        await h.scrapeEveryTargetOnce()
        #expect(try h.samples().count == 3 * 6)
        // Every target's second scrape starts and hangs.
        h.clock.advance(by: job.scrapeInterval)
        #expect(await eventually(timeout: .seconds(20)) { requests.value == 6 && h.clock.sleeperCount == 0 })
        #expect(await h.stop(), "run() waits for targets that never answer")
        let (stale, stored) = (try h.staleSeries(), try h.samples().count)
        #expect(stale.isEmpty, "stopping the agent wrote staleness markers: \(stale)")
        #expect(stored == 3 * 6, "the aborted scrapes stored samples")
        for server in servers {
            #expect(await eventually(timeout: .seconds(20)) { server.connectionsClosed >= 1 }, "a scrape in flight was not aborted")
            try await server.stop()
        }
    }

    @Test func aReloadThatRemovesATargetWritesItsStalenessMarkersAndLeavesTheOthersAlone() async throws {
        let kept = try await TestHTTPServer { _ in text("a 1\n") }
        let removed = try await TestHTTPServer { _ in text("a 1\n") }
        var job = ScrapeConfig(jobName: "node", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        job.staticConfigs = [StaticConfig(targets: [kept.address, removed.address])]
        job.fingerprint = "static_configs: [kept, removed]"  // what the loader derives from the YAML
        let h = try ManagerHarness(job)
        let nextSlots = await h.scrapeEveryTargetOnce()
        #expect(try h.staleSeries().isEmpty)

        var reloaded = job
        reloaded.staticConfigs = [StaticConfig(targets: [kept.address])]
        reloaded.fingerprint = "static_configs: [kept]"
        h.manager.apply(Configuration(scrapeConfigs: [reloaded]))
        let gone = seriesOfTarget(job: "node", address: removed.address)
        #expect(
            await eventually(timeout: .seconds(20)) { (try? h.staleSeries()) == gone },
            "stale after the reload: \((try? h.staleSeries()) ?? [])")
        #expect(h.manager.targetStatus.map(\.target.address) == [kept.address])
        // Only the kept target (restarted: its job changed) is scheduled: the scheduler waits for its slot.
        #expect(
            await eventually(timeout: .seconds(20)) { h.clock.deadlines == [nextSlots[kept.address]].compactMap { $0 } },
            "the loops wait until \(h.clock.parkedDescription)")
        #expect(await h.stop())
        #expect(try h.staleSeries() == gone, "stopping the agent wrote staleness markers for the kept target")
        try await kept.stop()
        try await removed.stop()
    }
}
