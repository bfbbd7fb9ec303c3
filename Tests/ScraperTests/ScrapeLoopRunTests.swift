import AgentConfig
import Foundation
import Model
import TestSupport
import Testing
import WAL

@testable import Scraper

/// A handler that answers the `n`th request (from 0) with `respond(n)`.
func numbered(_ respond: @escaping @Sendable (Int) -> CannedResponse) -> @Sendable (ReceivedRequest) -> CannedResponse {
    let count = Locked(0)
    return { _ in
        respond(count.withLock { n in
            defer { n += 1 }
            return n
        })
    }
}

/// Whether `task` returns within `timeout` of real time (a generous bound for something that must happen).
func returns(_ task: Task<Void, Never>, within timeout: Duration) async -> Bool {
    let done = Locked(false)
    Task {
        await task.value
        done.withLock { $0 = true }
    }
    return await eventually(timeout: timeout) { done.value }
}

extension LoopHarness {
    /// The wall time (ms since the epoch) of the harness's clock at `instant`.
    func wall(at instant: ContinuousClock.Instant) -> Int64 { clock.startWallMilliseconds + (instant - clock.origin).milliseconds }

    /// Schedules the loop's target on a scheduler run as its own task; returns the scheduler,
    /// the task and the target's first slot (where the scheduler parks).
    func start() async throws -> (ScrapeScheduler, Task<Void, Never>, ContinuousClock.Instant) {
        let scheduler = ScrapeScheduler(clock: clock)
        scheduler.add(loop)
        let task = Task { await scheduler.run() }
        #expect(await clock.waitForSleepers(1, timeout: .seconds(20)), "the scheduler never waited for the first slot")
        return (scheduler, task, try #require(clock.nextDeadline))
    }

    /// `agent_scrape_lateness_seconds`'s sum and count.
    var lateness: (sum: Double?, count: Double?) {
        (metric(#"agent_scrape_lateness_seconds_sum{scrape_job="test"}"#), metric(#"agent_scrape_lateness_seconds_count{scrape_job="test"}"#))
    }
}

/// A target's scrapes on the ``ScrapeScheduler`` and a manual clock: when scrapes start, what an
/// overrun or a late start does, and what removing the target or stopping the scheduler leaves
/// in the WAL. The clock moves only when the test moves it,
/// once the loop is parked on it; curl's own timeouts are real (and long here).
@Suite("Scrape loop on the clock")
struct ScrapeLoopRunTests {
    @Test func scrapesStartExactlyOnTheTargetsSlotsOfTheClocksWallTime() async throws {
        // A wall time on no round number.
        let h = try await LoopHarness(startWallMilliseconds: 1_700_000_012_345) { _ in text("a 1\n") }
        let target = h.loop.target
        let (intervalMs, offsetMs) = (target.interval.milliseconds, target.offset.milliseconds)
        // The first wall time ≡ offset (mod interval) at or after now.
        let firstDelay = ((offsetMs - h.clock.wallMilliseconds % intervalMs) % intervalMs + intervalMs) % intervalMs
        let first = h.clock.now + .milliseconds(firstDelay)
        let (_, task, _) = try await h.start()
        var timestamps: [Int64] = []
        for n in 0...4 {
            let slot = first + target.interval * n
            #expect(await h.clock.waitForSleeper(until: slot, timeout: .seconds(20)), "scrape \(n): parked until \(h.clock.parkedDescription)")
            if n > 0, let up = try h.readNewRecords()[h.series("up")] { timestamps.append(up.timestamp) }
            #expect(h.requests.value.count == n, "a scrape before its slot")
            if n < 4 { h.clock.advance(to: slot) }
        }
        task.cancel()
        await task.value
        #expect(timestamps.count == 4)
        for t in timestamps {
            #expect(t % intervalMs == offsetMs, "scraped \(t % intervalMs) ms into the interval; the target's slot is at \(offsetMs) ms")
        }
        #expect(zip(timestamps.dropFirst(), timestamps).allSatisfy { $0 - $1 == intervalMs }, "\(timestamps)")
        #expect(h.lateness.sum == 0)
    }

    @Test func aScrapeThatOverrunsSkipsTheSlotsItMissedAndTheNextStartsOnItsSlot() async throws {
        let gate = ResponseGate()
        // The second scrape hangs until the test opens the gate.
        let h = try await LoopHarness(
            configure: {
                $0.scrapeInterval = .seconds(60)
                $0.scrapeTimeout = .seconds(60)
            },
            respond: numbered { n in
                var response = text("a 1\n")
                if n == 1 { response.gate = gate }
                return response
            })
        let interval = h.loop.target.interval
        let (_, task, slot0) = try await h.start()
        h.clock.advance(to: slot0)
        #expect(await h.clock.waitForSleeper(until: slot0 + interval, timeout: .seconds(20)))
        _ = try h.readNewRecords()
        h.clock.advance(to: slot0 + interval)
        #expect(await eventually(timeout: .seconds(20)) { h.requests.value.count == 2 })
        // It hangs for two and a half intervals of the clock: slots 2 and 3 pass meanwhile.
        h.clock.advance(to: slot0 + interval * 3.5)
        gate.open()
        // The next scrape is on slot 4: the missed slots are not made up for back to back.
        #expect(await h.clock.waitForSleeper(until: slot0 + interval * 4, timeout: .seconds(20)), "parked until \(h.clock.parkedDescription)")
        #expect(h.requests.value.count == 2)
        let overran = try h.readNewRecords()
        #expect(overran[h.series("up")]?.value == 1)
        #expect(overran[h.series("up")]?.timestamp == h.wall(at: slot0 + interval))
        #expect(overran[h.series("scrape_duration_seconds")]?.value == 150)
        h.clock.advance(to: slot0 + interval * 4)
        #expect(await h.clock.waitForSleeper(until: slot0 + interval * 5, timeout: .seconds(20)))
        #expect(try h.readNewRecords()[h.series("up")]?.timestamp == h.wall(at: slot0 + interval * 4))
        #expect(h.requests.value.count == 3)
        // Every scrape started on its slot.
        #expect(h.lateness.count == 3)
        #expect(h.lateness.sum == 0)
        task.cancel()
        await task.value
    }

    @Test func aScrapeThatStartsLateIsRecordedInAgentScrapeLatenessSecondsAndTheScheduleKeepsItsSlots() async throws {
        let h = try await LoopHarness { _ in text("a 1\n") }
        let interval = h.loop.target.interval
        let (_, task, slot0) = try await h.start()
        #expect(h.lateness.count == 0)
        // The process was busy: the clock is 1.5 s past the slot when the loop gets to run.
        h.clock.advance(to: slot0 + .milliseconds(1500))
        #expect(await h.clock.waitForSleeper(until: slot0 + interval, timeout: .seconds(20)), "parked until \(h.clock.parkedDescription)")
        #expect(try h.readNewRecords()[h.series("up")]?.timestamp == h.wall(at: slot0 + .milliseconds(1500)), "samples carry the scrape's start")
        #expect(h.lateness.sum == 1.5)
        #expect(h.lateness.count == 1)
        #expect(h.metric(#"agent_scrape_lateness_seconds_bucket{scrape_job="test",le="1.0"}"#) == 0)
        #expect(h.metric(#"agent_scrape_lateness_seconds_bucket{scrape_job="test",le="2.5"}"#) == 1)
        // The next scrape is on time.
        h.clock.advance(to: slot0 + interval)
        #expect(await h.clock.waitForSleeper(until: slot0 + interval * 2, timeout: .seconds(20)))
        #expect(h.lateness.sum == 1.5)
        #expect(h.lateness.count == 2)
        task.cancel()
        await task.value
    }

    @Test(arguments: [false, true])
    func removingTheTargetOrStoppingAbortsTheScrapeInFlightAtOnceAndOnlyARemovedTargetsSeriesGoStale(removed: Bool) async throws {
        // The first scrape is answered; the second never is (the scrape timeout is 5 minutes).
        let h = try await LoopHarness(
            configure: {
                $0.scrapeInterval = .seconds(300)
                $0.scrapeTimeout = .seconds(300)
            },
            respond: numbered { n in n == 0 ? text("a 1\n") : .noAnswer })
        let interval = h.loop.target.interval
        let (scheduler, task, slot0) = try await h.start()
        h.clock.advance(to: slot0)
        #expect(await h.clock.waitForSleeper(until: slot0 + interval, timeout: .seconds(20)))
        #expect(try h.readNewRecords()[h.series("a")]?.value == 1)
        h.clock.advance(to: slot0 + interval)
        #expect(await eventually(timeout: .seconds(20)) { h.requests.value.count == 2 })
        let closedBefore = h.server.connectionsClosed
        var after: [String: (timestamp: Int64, value: Double)] = [:]
        if removed {
            // The target left discovery.
            scheduler.remove(h.loop.target.id, stale: true)
            #expect(await eventually(timeout: .seconds(20)) { h.server.connectionsClosed > closedBefore }, "the scrape in flight was not aborted")
            #expect(await eventually(timeout: .seconds(20)) {
                after.merge((try? h.readNewRecords()) ?? [:]) { $1 }
                return after.count == 6
            }, "no staleness markers")
            #expect(scheduler.count == 0)
            task.cancel()
            #expect(await returns(task, within: .seconds(20)))
        } else {
            // The agent stops.
            task.cancel()
            #expect(await returns(task, within: .seconds(20)), "the scheduler waits for the target that never answers")
            #expect(await eventually(timeout: .seconds(20)) { h.server.connectionsClosed > closedBefore }, "the scrape in flight was not aborted")
            after = try h.readNewRecords()
        }
        if removed {
            #expect(isStale(after[h.series("a")]?.value), "a left with its target")
            for name in ScrapeLoop.syntheticNames { #expect(isStale(after[h.series(name)]?.value), "\(name) left with its target") }
            #expect(after.count == 6, "\(after.keys)")
            #expect(after.values.allSatisfy { $0.timestamp >= h.wall(at: slot0 + interval) }, "markers older than the last scrape")
        } else {
            #expect(after.isEmpty, "an aborted scrape of a target that stays stored \(after.map { "\($0.key)=\($0.value.value)" })")
        }
    }

    @Test func removingATargetBetweenScrapesMarksItsSeriesStaleAndLeavesNothingScheduled() async throws {
        let h = try await LoopHarness { _ in text("a 1\n") }
        let interval = h.loop.target.interval
        let (scheduler, task, slot0) = try await h.start()
        h.clock.advance(to: slot0)
        #expect(await h.clock.waitForSleeper(until: slot0 + interval, timeout: .seconds(20)))
        #expect(try h.readNewRecords()[h.series("a")]?.value == 1)
        scheduler.remove(h.loop.target.id, stale: true)
        var markers: [String: (timestamp: Int64, value: Double)] = [:]
        #expect(await eventually(timeout: .seconds(20)) {
            markers.merge((try? h.readNewRecords()) ?? [:]) { $1 }
            return markers.count == 6
        }, "no staleness markers")
        #expect(isStale(markers[h.series("a")]?.value))
        // Nothing is scheduled any more: the scheduler waits without a deadline and scrapes no more.
        #expect(await eventually(timeout: .seconds(20)) { h.clock.nextDeadline == nil })
        h.clock.advance(by: interval * 3)
        #expect(h.requests.value.count == 1)
        task.cancel()
        await task.value
    }
}
