import Synchronization

/// What the loops of one job read at every scrape and the ``ScrapeManager`` changes while they
/// run: whether `target_limit` fails every scrape, and where failed scrapes are logged.
/// Shared by reference between the pool and its loops.
final class ScrapePoolControl: Sendable {
    private struct State {
        var forcedFailure: String?
        var failureLog: ScrapeFailureLog?
    }

    private let state = Mutex(State())

    init() {}

    /// When set, every scrape of the pool fails with this error without a request (the job has
    /// more targets than its `target_limit`).
    var forcedFailure: String? {
        get { state.withLock { $0.forcedFailure } }
        set { state.withLock { $0.forcedFailure = newValue } }
    }

    /// The job's `scrape_failure_log_file`, opened; nil: failures are not logged to a file.
    var failureLog: ScrapeFailureLog? {
        get { state.withLock { $0.failureLog } }
        set { state.withLock { $0.failureLog = newValue } }
    }
}
