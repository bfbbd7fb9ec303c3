import Testing

@testable import Scraper

@Suite struct ScrapeScheduleTests {
    let now = ContinuousClock.now

    @Test func theFirstSlotIsTheNextWallTimeAtTheTargetsOffset() {
        // Wall time 12.300 s into a 10 s interval grid; offset 4 s: next slot at 14.000 s.
        let schedule = ScrapeSchedule(interval: .seconds(10), offset: .seconds(4), now: now, wallMilliseconds: 1_700_000_012_300)
        #expect(schedule.next == now + .milliseconds(1_700))
    }

    @Test func aSlotThatIsNowFiresNow() {
        let schedule = ScrapeSchedule(interval: .seconds(10), offset: .seconds(4), now: now, wallMilliseconds: 1_700_000_014_000)
        #expect(schedule.next == now)
    }

    @Test func slotsFollowEachOtherOneIntervalApart() {
        var schedule = ScrapeSchedule(interval: .seconds(10), offset: .zero, now: now, wallMilliseconds: 1_700_000_000_000)
        schedule.advance(past: now + .milliseconds(20))
        #expect(schedule.next == now + .seconds(10))
        schedule.advance(past: now + .seconds(10) + .milliseconds(20))
        #expect(schedule.next == now + .seconds(20))
    }

    @Test func aScrapeThatOverranSkipsTheSlotsItMissedInsteadOfScrapingBackToBack() {
        var schedule = ScrapeSchedule(interval: .seconds(10), offset: .zero, now: now, wallMilliseconds: 1_700_000_000_000)
        schedule.advance(past: now + .seconds(25))
        #expect(schedule.next == now + .seconds(30))
    }
}
