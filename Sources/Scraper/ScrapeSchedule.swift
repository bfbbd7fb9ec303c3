import Model

/// When a target's scrapes start: at wall-clock times ≡ `offset` (mod `interval`), so that a
/// target keeps its slot across restarts and many targets spread over the interval. A value
/// type without I/O; the loop sleeps until ``next`` on its clock.
struct ScrapeSchedule: Sendable, Equatable {
    let interval: Duration
    /// When the next scrape is due.
    private(set) var next: ContinuousClock.Instant

    /// The first slot at or after `now` (`wallMilliseconds` is the wall time at `now`).
    init(interval: Duration, offset: Duration, now: ContinuousClock.Instant, wallMilliseconds: Int64) {
        self.interval = interval
        let intervalMs = max(1, interval.milliseconds)
        let offsetMs = offset.milliseconds
        let firstDelay = ((offsetMs - wallMilliseconds % intervalMs) % intervalMs + intervalMs) % intervalMs
        next = now.advanced(by: .milliseconds(firstDelay))
    }

    /// After a scrape that ended at `now`: the first slot after the current one that is not in
    /// the past. Slots missed by a scrape that ran long are skipped: a target is never scraped
    /// twice back to back.
    mutating func advance(past now: ContinuousClock.Instant) {
        next = next.advanced(by: interval)
        while next < now { next = next.advanced(by: interval) }
    }
}
