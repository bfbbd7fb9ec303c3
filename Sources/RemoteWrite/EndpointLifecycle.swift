import Model
import WAL

/// Where a remote endpoint is in its life, and what each event makes it do: a value type
/// without I/O (tested alone), kept under the endpoint's lock. Each transition returns the
/// ``Action`` the caller must perform, so that an illegal combination of flags cannot be written.
///
/// ```
/// running ──shutdown, sending works──► draining(deadline, head) ──drained──► stopped
///    │                                   │ deadline passed / a send failed
///    │ shutdown while sending fails,     ▼
///    └─ or a reload removed it ───────► stopping (everything unsent stays in the WAL) ──► stopped
/// ```
///
/// Draining sends what the WAL holds up to `head` (the WAL's end when shutdown began: the
/// scraper has stopped by then) for as long as requests succeed, until `deadline`. An endpoint
/// whose receiver is failing when shutdown begins stops at once: retrying a receiver that is
/// down would only hold the process until the deadline, and the WAL keeps every sample for the
/// next start.
struct EndpointLifecycle: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case running
        case draining(deadline: ContinuousClock.Instant, head: WALPosition)
        case stopping
        case stopped
    }

    enum Action: Sendable, Equatable {
        /// Nothing to do.
        case none
        /// Send what the WAL holds up to `head`, until `deadline`.
        case drain(deadline: ContinuousClock.Instant, head: WALPosition)
        /// Cancel everything the endpoint runs now; its progress is stored as it is.
        case stopNow
    }

    private(set) var state: State = .running
    /// Requests that failed in a row (reset by any answer that ends a batch: accepted or refused).
    private(set) var consecutiveFailures = 0

    /// Whether the last request failed and no request has succeeded since.
    var isFailing: Bool { consecutiveFailures > 0 }

    /// Graceful shutdown (or a reload's removal, with a deadline that has passed already).
    mutating func shutdownRequested(deadline: ContinuousClock.Instant, head: WALPosition, now: ContinuousClock.Instant) -> Action {
        switch state {
        case .running:
            if deadline <= now || isFailing {
                state = .stopping
                return .stopNow
            }
            state = .draining(deadline: deadline, head: head)
            return .drain(deadline: deadline, head: head)
        case .draining(let current, _):
            // A second request can only make the deadline earlier.
            guard deadline < current else { return .none }
            if deadline <= now {
                state = .stopping
                return .stopNow
            }
            state = .draining(deadline: deadline, head: head)
            return .drain(deadline: deadline, head: head)
        case .stopping, .stopped:
            return .none
        }
    }

    /// A request failed in a way that is worth retrying (5xx, network, 429).
    mutating func requestFailed() -> Action {
        consecutiveFailures += 1
        if case .draining = state {
            state = .stopping
            return .stopNow
        }
        return .none
    }

    /// The receiver answered a batch for good (accepted or refused it).
    mutating func requestAnswered() {
        consecutiveFailures = 0
    }

    /// The clock reached `now`: a draining endpoint past its deadline stops.
    mutating func tick(now: ContinuousClock.Instant) -> Action {
        if case .draining(let deadline, _) = state, now >= deadline {
            state = .stopping
            return .stopNow
        }
        return .none
    }

    /// Everything the endpoint ran has returned.
    mutating func finished() {
        state = .stopped
    }

    /// While draining: where reading stops.
    var drainHead: WALPosition? {
        if case .draining(_, let head) = state { return head }
        return nil
    }

    /// While draining: when sending gives up.
    var drainDeadline: ContinuousClock.Instant? {
        if case .draining(let deadline, _) = state { return deadline }
        return nil
    }

    /// Shutdown has begun (draining, stopping or stopped).
    var isShuttingDown: Bool { state != .running }
}
