import Model
import Testing
import TestSupport

@Suite struct ManualClockTests {
    @Test func aSleeperWakesOnlyWhenTheTimeReachesItsDeadline() async throws {
        let clock = ManualClock()
        let start = clock.now
        let woke = Locked<ContinuousClock.Instant?>(nil)
        async let sleeper: Void = {
            try await clock.sleep(until: start.advanced(by: .seconds(10)), tolerance: nil)
            woke.withLock { $0 = clock.now }
        }()
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(9))
        #expect(clock.sleeperCount == 1)
        #expect(woke.value == nil)
        clock.advance(by: .seconds(1))
        try await sleeper
        #expect(woke.value == start.advanced(by: .seconds(10)))
    }

    @Test func wallTimeMovesWithTheClock() {
        let clock = ManualClock(startWallMilliseconds: 1_000)
        clock.advance(by: .milliseconds(1_500))
        #expect(clock.wallMilliseconds == 2_500)
    }

    @Test func cancellingASleeperEndsItAtOnceWithCancellationError() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(for: .seconds(3600)) }
        #expect(await clock.waitForSleepers(1))
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.sleeperCount == 0)
    }

    @Test func aDeadlineInThePastReturnsWithoutParking() async throws {
        let clock = ManualClock()
        clock.advance(by: .seconds(5))
        try await clock.sleep(until: clock.origin, tolerance: nil)
        #expect(clock.sleeperCount == 0)
    }

    @Test func runStepsThroughEachWakeUpSoAPeriodicTaskTicksOncePerPeriod() async {
        let clock = ManualClock()
        let ticks = Locked(0)
        let task = Task {
            while !Task.isCancelled {
                do { try await clock.sleep(for: .seconds(1)) } catch { return }
                ticks.withLock { $0 += 1 }
            }
        }
        await clock.run(for: .seconds(10))
        #expect(await clock.waitForSleepers(1))
        #expect(ticks.value == 10)
        task.cancel()
        await task.value
    }
}
