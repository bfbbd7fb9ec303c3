#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The agent's source of time: a monotonic clock for intervals, deadlines, backoff and
/// sleeping, and the wall clock that sample timestamps come from.
///
/// Every part of the agent that waits or schedules takes one of these instead of reading
/// `ContinuousClock` or the system time itself. Production code passes ``SystemClock``; tests
/// pass a manual clock (TestSupport's `ManualClock`) that moves only when the test says so, so
/// that what a test checks does not depend on how fast or loaded the machine is.
///
/// Instants are `ContinuousClock.Instant`s so that values from either kind of clock compare and
/// subtract as usual. Sleeping honours task cancellation: a cancelled sleep throws
/// `CancellationError` at once.
public protocol AgentClock: Clock, Sendable where Instant == ContinuousClock.Instant {
    /// Milliseconds since the Unix epoch, now. Moves with ``now`` on a manual clock; may jump
    /// (NTP) on the system clock, which is why intervals use ``now`` instead.
    var wallMilliseconds: Int64 { get }
}

extension AgentClock {
    /// Sleeps for `duration` (nothing when it is zero or negative).
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now.advanced(by: duration), tolerance: nil)
    }

    /// Sleeps until `deadline`; returns `false` instead of throwing when cancelled.
    @discardableResult
    public func sleepUnlessCancelled(until deadline: Instant) async -> Bool {
        do {
            try await sleep(until: deadline, tolerance: nil)
            return true
        } catch {
            return false
        }
    }
}

/// The real clocks: `ContinuousClock` for instants and sleeping, `CLOCK_REALTIME` for wall time.
public struct SystemClock: AgentClock {
    public init() {}

    public var now: ContinuousClock.Instant { ContinuousClock.now }

    public var minimumResolution: Duration { ContinuousClock().minimumResolution }

    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration? = nil) async throws {
        try await ContinuousClock().sleep(until: deadline, tolerance: tolerance)
    }

    public var wallMilliseconds: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
