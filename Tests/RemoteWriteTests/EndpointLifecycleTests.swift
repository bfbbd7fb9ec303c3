import Testing
import WAL

@testable import RemoteWrite

@Suite struct EndpointLifecycleTests {
    let now = ContinuousClock.now
    let head = WALPosition(segment: 3, offset: 1_000)

    @Test func shutdownWhileSendingWorksDrainsUntilTheDeadline() {
        var lifecycle = EndpointLifecycle()
        lifecycle.requestAnswered()
        let action = lifecycle.shutdownRequested(deadline: now + .seconds(60), head: head, now: now)
        #expect(action == .drain(deadline: now + .seconds(60), head: head))
        #expect(lifecycle.drainHead == head)
        #expect(lifecycle.tick(now: now + .seconds(59)) == .none)
        #expect(lifecycle.tick(now: now + .seconds(60)) == .stopNow)
        #expect(lifecycle.state == .stopping)
    }

    @Test func shutdownWhileTheLastRequestFailedStopsAtOnce() {
        var lifecycle = EndpointLifecycle()
        #expect(lifecycle.requestFailed() == .none, "a failure while running only counts")
        #expect(lifecycle.isFailing)
        #expect(lifecycle.shutdownRequested(deadline: now + .seconds(60), head: head, now: now) == .stopNow)
        #expect(lifecycle.state == .stopping)
    }

    @Test func aSuccessAfterFailuresMakesShutdownDrainAgain() {
        var lifecycle = EndpointLifecycle()
        _ = lifecycle.requestFailed()
        _ = lifecycle.requestFailed()
        lifecycle.requestAnswered()
        #expect(!lifecycle.isFailing)
        #expect(lifecycle.shutdownRequested(deadline: now + .seconds(5), head: head, now: now) == .drain(deadline: now + .seconds(5), head: head))
    }

    @Test func aFailureWhileDrainingStopsAtOnce() {
        var lifecycle = EndpointLifecycle()
        _ = lifecycle.shutdownRequested(deadline: now + .seconds(60), head: head, now: now)
        #expect(lifecycle.requestFailed() == .stopNow)
        #expect(lifecycle.state == .stopping)
        #expect(lifecycle.requestFailed() == .none, "stopping is not asked for twice")
    }

    @Test func aDeadlineThatHasPassedStopsAtOnce() {
        var lifecycle = EndpointLifecycle()
        #expect(lifecycle.shutdownRequested(deadline: now, head: head, now: now) == .stopNow)
    }

    @Test func aLaterRequestOnlyEverBringsTheDeadlineForward() {
        var lifecycle = EndpointLifecycle()
        _ = lifecycle.shutdownRequested(deadline: now + .seconds(60), head: head, now: now)
        #expect(lifecycle.shutdownRequested(deadline: now + .seconds(90), head: head, now: now) == .none)
        #expect(lifecycle.drainDeadline == now + .seconds(60))
        #expect(lifecycle.shutdownRequested(deadline: now, head: head, now: now) == .stopNow)
    }

    @Test func stoppedIsFinal() {
        var lifecycle = EndpointLifecycle()
        _ = lifecycle.shutdownRequested(deadline: now, head: head, now: now)
        lifecycle.finished()
        #expect(lifecycle.state == .stopped)
        #expect(lifecycle.shutdownRequested(deadline: now + .seconds(1), head: head, now: now) == .none)
        #expect(lifecycle.tick(now: now + .seconds(100)) == .none)
    }
}
