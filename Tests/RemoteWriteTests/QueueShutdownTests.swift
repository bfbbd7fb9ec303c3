import Model
import AgentConfig
import Foundation
import Testing
import TestSupport

@testable import RemoteWrite
@testable import WAL

// Shutdown, restart and reload on the endpoint's ManualClock. The flush deadline, the backoff and
// the batch deadline are all on that clock: a run() that returns while the clock stands still has
// waited for none of them.

@Suite("Queue: shutdown, restart and reload")
struct QueueShutdownTests {
    @Test func samplesQueuedWhenShutdownBeginsAreSentBeforeRunReturns() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock)
        let fixture = try WALFixture()
        for scrape in 0..<5 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        // A long batch deadline: nothing is sent before the shutdown.
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, shards: 2, deadline: .seconds(30))], flushDeadline: .seconds(10), clock: clock)
        #expect(
            await clock.waitForSleeper(until: t0 + .seconds(30), count: 2),
            "both shards should wait for the batch deadline; parked until \(clock.parkedDescription)")
        #expect(receiver.arrivals.isEmpty)
        // Some more, perhaps not yet read when the shutdown begins.
        try await fixture.scrape(nodeSeries(10), at: baseTimestamp + 5000)
        #expect(await running.stop(timeout: .seconds(30)) != nil, "run() did not return")
        #expect(counts(receiver.accepted) == counts(fixture.committed))
        #expect(clock.now == t0, "the flush needs neither the batch deadline nor the flush deadline")
        await receiver.stop()
    }

    @Test func shutdownWhileTheReceiverIsDownStopsAtOnceAndARestartSendsEverything() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock, Receiver.answering(503))
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(10), at: baseTimestamp)
        let first = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 10)], flushDeadline: .seconds(60), clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { !$0.isEmpty })
        #expect(await clock.waitForSleeper(until: t0 + .milliseconds(10)), "the sender should wait to retry")
        // The flush deadline is 60 s of a clock that stands still: returning at all is returning at once.
        #expect(await first.stop(timeout: .seconds(30)) != nil, "run() did not return: it waits for the flush deadline")
        #expect(clock.now == t0)
        #expect(clock.sleeperCount == 0, "a task still waits on the clock after run() returned: \(clock.parkedDescription)")
        let requests = receiver.arrivals.count
        clock.advance(by: .seconds(120))
        #expect(receiver.arrivals.count == requests, "a request after run() returned")
        // Nothing was acknowledged: it all stays in the WAL.
        try expectStoredProgress(fixture, acknowledges: [])

        receiver.answer(Receiver.answering(204))
        let second = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 10)], clock: clock)
        #expect(await receiver.waitForAccepted(10, timeout: .seconds(20)))
        #expect(await second.stop(timeout: .seconds(30)) != nil, "run 2 did not return")
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed), "nothing lost, nothing twice")
    }

    @Test func shutdownWhileTheReceiverIsDownStopsAtOnceEvenWithTheWatcherWaitingForRoom() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock, Receiver.answering(503))
        let fixture = try WALFixture()
        for scrape in 0..<20 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, capacity: 20, maxPerSend: 10)], flushDeadline: .seconds(60), clock: clock)
        #expect(await clock.waitForSleeper(until: t0 + .milliseconds(10)), "the sender should wait to retry")
        #expect(await eventually(timeout: .seconds(20)) { running.watcherWaitsForRoom() }, "the watcher never waited for room")
        #expect(await running.stop(timeout: .seconds(30)) != nil, "run() did not return: it waits for the flush deadline")
        #expect(clock.now == t0)
        #expect(clock.sleeperCount == 0, "a task still waits on the clock after run() returned: \(clock.parkedDescription)")
        await receiver.stop()
    }

    @Test func shutdownWhileRequestsSucceedDrainsWhatIsQueuedAndWhatIsOnlyInTheWALBeforeReturning() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let held = HeldResponses()
        // The first request is answered, the second hangs until the test lets it through.
        let receiver = try await Receiver(clock: clock) { _, index in index == 1 ? held.hold() : CannedResponse(status: 204) }
        let fixture = try WALFixture()
        for scrape in 0..<20 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, capacity: 20, maxPerSend: 10)], flushDeadline: .seconds(60), clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 2 })
        // 10 samples in flight, 10 queued, 180 only in the WAL.
        #expect(await eventually(timeout: .seconds(20)) { running.watcherWaitsForRoom() }, "the watcher never waited for room")
        await running.beginStop()
        #expect(await clock.waitForSleeper(until: t0 + .seconds(60)), "draining should be bounded by the flush deadline")
        #expect(!running.hasFinished, "run() returned with a request in flight and 180 samples unread")
        held.releaseAll()
        #expect(await running.waitUntilFinished(), "run() did not return")
        #expect(counts(receiver.accepted) == counts(fixture.committed), "the drain sent everything up to the WAL's end")
        if let bad = firstOutOfOrder(receiver.accepted) {
            Issue.record("series \(bad.series): \(bad.next) arrived after \(bad.previous)")
        }
        #expect(clock.now == t0, "the drain needs no deadline")
        #expect(clock.sleeperCount == 0, "a task still waits on the clock after run() returned: \(clock.parkedDescription)")
        try expectStoredProgress(fixture, acknowledges: receiver.accepted, exactly: true)
        await receiver.stop()
    }

    @Test func aRequestFailingWhileDrainingStopsTheEndpointAtOnceAndARestartSendsExactlyTheRest() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let held = HeldResponses()
        // The first request is answered; the second hangs, then fails.
        let receiver = try await Receiver(clock: clock) { _, index in
            index == 1 ? held.hold(CannedResponse(status: 503)) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        for scrape in 0..<10 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let first = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, capacity: 20, maxPerSend: 10)], flushDeadline: .seconds(60), clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 2 })
        await first.beginStop()
        #expect(await clock.waitForSleeper(until: t0 + .seconds(60)), "the endpoint should be draining")
        held.releaseAll()
        // No backoff, no flush deadline: the clock stands still.
        #expect(await first.waitUntilFinished(), "run() did not return: it waits for the backoff or the flush deadline")
        #expect(receiver.arrivals.count == 2, "a request after the one that failed while draining")
        #expect(clock.now == t0)
        #expect(clock.sleeperCount == 0, "a task still waits on the clock after run() returned: \(clock.parkedDescription)")
        let acceptedFirst = receiver.accepted
        #expect(acceptedFirst.count == 10)
        try expectStoredProgress(fixture, acknowledges: acceptedFirst, exactly: true)

        try await expectARestartSendsTheRest(fixture, receiver, clock: clock)
    }

    /// With the receiver answering again, a second run sends what the first left unacknowledged
    /// (100 samples in all), and together they delivered every committed sample exactly once.
    func expectARestartSendsTheRest(_ fixture: WALFixture, _ receiver: Receiver, clock: ManualClock) async throws {
        receiver.answer(Receiver.answering(204))
        let second = try RunningService(fixture, endpoints: [endpoint(receiver.url, capacity: 20, maxPerSend: 10)], clock: clock)
        #expect(await receiver.waitForAccepted(100, timeout: .seconds(20)))
        #expect(await second.stop(timeout: .seconds(30)) != nil, "run 2 did not return")
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed), "nothing twice, nothing skipped")
    }

    @Test func theFlushDeadlineStopsADrainingEndpointWhoseReceiverIsSlowAndAbortsTheTransferInFlight() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let held = HeldResponses()
        // The first request is answered; the second is never answered.
        let receiver = try await Receiver(clock: clock) { _, index in index == 1 ? held.hold() : CannedResponse(status: 204) }
        let fixture = try WALFixture()
        for scrape in 0..<10 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let first = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, capacity: 20, maxPerSend: 10) { $0.remoteTimeout = .seconds(600) }],
            flushDeadline: .seconds(5), clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 2 })
        let closedBefore = receiver.server.connectionsClosed
        await first.beginStop()
        let deadline = t0 + .seconds(5)
        #expect(await clock.waitForSleeper(until: deadline), "parked until \(clock.parkedDescription)")
        clock.advance(to: deadline - .milliseconds(1))
        #expect(await clock.waitForSleeper(until: deadline), "the deadline watch gave up before the deadline")
        #expect(!first.hasFinished, "run() returned before the flush deadline")
        clock.advance(to: deadline)
        #expect(await first.waitUntilFinished(), "run() did not return at the flush deadline")
        #expect(
            await eventually(timeout: .seconds(20)) { receiver.server.connectionsClosed > closedBefore }, "the transfer in flight was not aborted")
        #expect(clock.sleeperCount == 0, "a task still waits on the clock after run() returned: \(clock.parkedDescription)")
        #expect(receiver.arrivals.count == 2)
        try expectStoredProgress(fixture, acknowledges: receiver.accepted, exactly: true)

        // What was in flight was not acknowledged: a restart sends it, and the rest.
        try await expectARestartSendsTheRest(fixture, receiver, clock: clock)
    }

    @Test func aRestartSendsExactlyWhatTheStoredProgressLeftUnsent() async throws {
        // Run 1: the first two requests are accepted, then the receiver fails.
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock) { _, index in CannedResponse(status: index < 2 ? 204 : 503) }
        let fixture = try WALFixture()
        for scrape in 0..<10 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let first = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, maxPerSend: 10)], clock: clock)
        // Each shard's first request is accepted, its second fails: both wait to retry.
        #expect(
            await clock.waitForSleeper(until: t0 + .milliseconds(10), count: 2),
            "both shards should wait to retry; parked until \(clock.parkedDescription)")
        #expect(await first.stop(timeout: .seconds(30)) != nil, "run 1 did not return")
        let acceptedFirst = receiver.accepted
        #expect(acceptedFirst.count == 20, "run 1 had \(acceptedFirst.count) samples accepted")
        // The stored progress covers no sample that was not accepted.
        try expectStoredProgress(fixture, acknowledges: acceptedFirst)

        // Run 2, receiver healthy: exactly the rest.
        receiver.answer(Receiver.answering(204))
        let second = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, maxPerSend: 10)], clock: clock)
        #expect(await receiver.waitForAccepted(100, timeout: .seconds(20)))
        #expect(await second.stop(timeout: .seconds(30)) != nil, "run 2 did not return")
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed), "nothing twice, nothing skipped")
    }

    @Test func aReloadThatChangesAnEndpointStartsItsReplacementOnlyAfterTheOldInstanceReturnedAndFromItsFinalProgress() async throws {
        let clock = ManualClock()
        let held = HeldResponses()
        // Two batches are accepted; the third hangs until the old instance is stopped.
        let receiver = try await Receiver(clock: clock) { _, index in index == 2 ? held.hold() : CannedResponse(status: 204) }
        let fixture = try WALFixture()
        for scrape in 0..<3 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        // The service's own I/O pool, one thread, which the test can hold up.
        let pool = try BlockingIOPool(threads: 1, name: "reload-io")
        let before = endpoint(receiver.url, maxPerSend: 10)
        let running = try RunningService(fixture, endpoints: [before], clock: clock, pool: pool)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 3 })
        let old = try #require(running.service.endpoints["hub"])

        // While the pool is held the old instance cannot store its final progress, so it cannot return.
        let hold = PoolHold(pool)
        #expect(await hold.waitUntilHeld())
        var after = before
        after.queueConfig.maxSamplesPerSend = 20
        running.reload(endpoints: [after])
        #expect(await eventually(timeout: .seconds(20)) { running.service.endpoints["hub"] !== old }, "the reload did not replace the endpoint")
        let replacement = try #require(running.service.endpoints["hub"])
        let startedAfterTheOldReturned = Task {
            await replacement.started.wait()
            return old.finished.hasFired
        }
        #expect(await eventually(timeout: .seconds(20)) { pool.queuedJobs >= 1 }, "the old instance did not stop")
        #expect(!old.finished.hasFired)
        #expect(!replacement.started.hasFired, "the replacement started while the old instance was still stopping")
        await hold.release()
        #expect(await startedAfterTheOldReturned.value, "the replacement started before the old instance returned")

        // It goes on from the old instance's final progress: the batch that was in flight, as it
        // was, then the rest, with the new queue_config.
        for scrape in 3..<5 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        #expect(await receiver.waitForAccepted(50, timeout: .seconds(20)))
        #expect(await running.stop(timeout: .seconds(30)) != nil, "run() did not return")
        await receiver.stop()
        await pool.shutdown()

        let arrivals = receiver.arrivals
        #expect(arrivals.map(\.samples.count) == [10, 10, 10, 10, 20], "request sizes")
        if arrivals.count >= 4 {
            #expect(arrivals[3].samples == arrivals[2].samples, "the replacement resends the batch that was in flight, as it was")
        }
        #expect(counts(receiver.accepted) == counts(fixture.committed), "nothing twice, nothing lost")
    }

    @Test func stoppingTheServiceAwaitsEveryChildSoNothingIsSentOrScheduledAfterRunReturns() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let down = try await Receiver(clock: clock, Receiver.answering(503))
        let up = try await Receiver(clock: clock)
        let fixture = try WALFixture()
        try await fixture.commit(
            nodeSeries(5).map { (labels: $0, timestamp: baseTimestamp, value: 1.0) },
            metadata: [MetricMetadata(family: "node_cpu_seconds", type: .counter, help: "CPU time.")])
        let running = try RunningService(
            fixture,
            endpoints: [
                endpoint(down.url, name: "down", maxPerSend: 5),
                endpoint(up.url, name: "up", maxPerSend: 100, deadline: .seconds(30)) {
                    $0.metadataConfig.send = true
                    $0.metadataConfig.sendInterval = .seconds(60)
                },
            ],
            clock: clock)
        // "down" waits to retry; "up" waits for its batch deadline and its metadata interval.
        #expect(await clock.waitForSleeper(until: t0 + .milliseconds(10)), "parked until \(clock.parkedDescription)")
        #expect(await clock.waitForSleeper(until: t0 + .seconds(30)), "parked until \(clock.parkedDescription)")
        #expect(await clock.waitForSleeper(until: t0 + .seconds(60)), "parked until \(clock.parkedDescription)")
        let endpoints = Array(running.service.endpoints.values)
        #expect(endpoints.count == 2)

        #expect(await running.stop(timeout: .seconds(30)) != nil, "run() did not return")
        #expect(clock.now == t0)
        #expect(clock.sleeperCount == 0, "tasks still wait on the clock after run() returned: \(clock.parkedDescription)")
        for endpoint in endpoints {
            #expect(endpoint.finished.hasFired && !endpoint.isRunning, "\(endpoint.config.name) is still running")
        }
        #expect(counts(up.accepted) == counts(fixture.committed), "the healthy endpoint flushed its partial batch")
        #expect(down.accepted.isEmpty)
        let requests = (down.arrivals.count, up.arrivals.count)
        try await fixture.scrape(nodeSeries(5), at: baseTimestamp + 1000)
        clock.advance(by: .seconds(3600))
        #expect(down.arrivals.count == requests.0 && up.arrivals.count == requests.1, "a request after run() returned")
        await down.stop()
        await up.stop()
    }
}
