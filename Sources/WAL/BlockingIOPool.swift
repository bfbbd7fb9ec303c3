/// ``BlockingIOPool/run(_:)`` after ``BlockingIOPool/shutdown()``.
public struct BlockingIOPoolShutDownError: Error, CustomStringConvertible {
    public var pool: String
    public var description: String { "the blocking I/O pool \(pool) is shut down" }
}

/// A fixed number of dedicated OS threads for work that blocks (`fsync`, `pread`, writing a small
/// file), so that it never runs on Swift's cooperative pool, where a blocked thread stalls every
/// task of the process (two threads on a 2-core machine).
///
/// - The thread count is fixed at `init`; threads are not part of the cooperative pool.
/// - Jobs run in the order they were submitted (FIFO): with one thread, one after another; with
///   several, started in that order.
/// - ``run(_:)`` suspends the calling task (it does not block its thread) until the job is done
///   and returns its result or rethrows its error.
/// - Cancellation of the calling task neither removes a queued job nor interrupts a running one:
///   the call returns when the job is done. Jobs that can take long should check a deadline
///   themselves.
/// - A job must not wait for another job of the same pool (with one thread, it would wait
///   forever).
///
/// The WAL uses one for ``WriteAheadLog/sync()``; the agent uses them for progress-file writes and
/// WAL reads of remote-write endpoints. Shut it down with ``shutdown()`` when done (it is also
/// stopped, without waiting for it, when the last reference goes away).
public final class BlockingIOPool: Sendable {
    public let name: String
    public let threadCount: Int
    private let queue: ConditionLock<Queue>
    private let threads: [WorkerThread]

    typealias Job = @Sendable () -> Void

    struct Queue: Sendable {
        /// Submitted jobs not started yet, oldest first.
        var jobs: [Job] = []
        /// Set by ``shutdown()``: no new jobs; threads exit once `jobs` is empty.
        var stopping = false
        /// Threads that have not exited yet.
        var running: Int
        /// ``shutdown()`` calls waiting for every thread to exit; resumed once, by the last thread.
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Starts `threads` threads named `name-0`, `name-1`, … (`threads` at least 1).
    public init(threads: Int, name: String) throws {
        precondition(threads >= 1, "BlockingIOPool needs at least one thread, got \(threads)")
        self.name = name
        threadCount = threads
        let queue = ConditionLock(Queue(running: threads))
        self.queue = queue
        var started: [WorkerThread] = []
        do {
            for i in 0..<threads {
                started.append(try WorkerThread(name: "\(name)-\(i)") { Self.work(queue) })
            }
        } catch {
            // Stop the ones that started (they have no jobs) and give up.
            queue.withLock { q in
                q.stopping = true
                q.running -= threads - started.count
            }
            queue.broadcast()
            for t in started { t.join() }
            throw error
        }
        self.threads = started
    }

    deinit {
        // No job can be queued: every caller of `run` keeps the pool alive until its job is done.
        queue.withLock { $0.stopping = true }
        queue.broadcast()
        for t in threads { t.joinOrDetach() }
    }

    /// Runs `body` on one of the pool's threads and returns its result (or throws its error).
    ///
    /// Throws ``BlockingIOPoolShutDownError`` without running `body` once ``shutdown()`` was
    /// called. See the type's notes on order and cancellation.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            // The job resumes `continuation` exactly once: a queued job is taken by exactly one
            // thread (under the lock) and run once, and every queued job runs before the threads
            // exit (they exit only when `jobs` is empty). A job not queued is resumed here.
            let job: Job = { continuation.resume(with: Result(catching: body)) }
            let accepted = queue.withLock { q -> Bool in
                guard !q.stopping else { return false }
                q.jobs.append(job)
                return true
            }
            if accepted {
                queue.signal()
            } else {
                continuation.resume(throwing: BlockingIOPoolShutDownError(pool: name))
            }
        }
    }

    /// Refuses new jobs, lets the queued ones run, and returns when every thread has exited.
    /// Calling it again waits the same way. Must not be called from a job of this pool.
    public func shutdown() async {
        queue.withLock { $0.stopping = true }
        queue.broadcast()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let exited = queue.withLock { q -> Bool in
                if q.running == 0 { return true }
                q.exitWaiters.append(continuation)
                return false
            }
            if exited { continuation.resume() }
        }
        // Every thread has left its loop: joining waits only for the threads to end.
        for t in threads { t.join() }
    }

    /// Jobs waiting for a thread (not counting running ones), for tests.
    var queuedJobs: Int { queue.withLock { $0.jobs.count } }

    /// Whether ``shutdown()`` was called, for tests.
    var isShuttingDown: Bool { queue.withLock { $0.stopping } }

    /// A thread's loop: runs jobs in order until the pool stops and no job is left.
    private static func work(_ queue: ConditionLock<Queue>) {
        while true {
            let job = queue.withLock(waitingUntil: { !$0.jobs.isEmpty || $0.stopping }) { q -> Job? in
                q.jobs.isEmpty ? nil : q.jobs.removeFirst()
            }
            guard let job else { break }
            job()
        }
        let waiters = queue.withLock { q -> [CheckedContinuation<Void, Never>] in
            q.running -= 1
            guard q.running == 0 else { return [] }
            defer { q.exitWaiters.removeAll() }
            return q.exitWaiters
        }
        for w in waiters { w.resume() }
    }
}
