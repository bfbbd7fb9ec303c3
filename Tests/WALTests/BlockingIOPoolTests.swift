import Foundation
import Testing
@testable import WAL

@Suite(.timeLimit(.minutes(1)))
struct BlockingIOPoolTests {
    struct Failure: Error, Equatable {}

    @Test func jobsRunOnThePoolsOwnThreadsAndReturnTheirResultsOrErrors() async throws {
        let pool = try BlockingIOPool(threads: 2, name: "test-io")
        #expect(pool.threadCount == 2)
        // The OS-level name, as `top -H` and `ps -L` show it.
        let name = try await pool.run { try String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8) }
        #expect(name.hasPrefix("test-io-"), "\(name)")
        #expect(try await pool.run { 6 * 7 } == 42)
        await #expect(throws: Failure.self) { try await pool.run { throw Failure() } }
        await pool.shutdown()
    }

    @Test func jobsStartInTheOrderTheyWereSubmitted() async throws {
        let pool = try BlockingIOPool(threads: 1, name: "test-fifo")
        let gate = Gate()
        let order = ConditionLock<[Int]>([])
        let blocker = Task { try await pool.run { gate.pass() } }
        await gate.waitForArrivals(1)
        // Submitted one after another while the only thread is busy.
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<20 {
            tasks.append(Task { try await pool.run { order.withLock { $0.append(i) } } })
            await waitUntil { pool.queuedJobs == i + 1 }
        }
        gate.open()
        try await blocker.value
        for t in tasks { try await t.value }
        #expect(order.withLock { $0 } == Array(0..<20))
        await pool.shutdown()
    }

    @Test func cancellingTheCallerDoesNotInterruptTheJob() async throws {
        let pool = try BlockingIOPool(threads: 1, name: "test-cancel")
        let gate = Gate()
        let task = Task { try await pool.run { gate.pass(); return "done" } }
        await gate.waitForArrivals(1)
        task.cancel()
        gate.open()
        #expect(try await task.value == "done")
        await pool.shutdown()
    }

    @Test func shutdownLetsQueuedJobsFinishThenRefusesNewOnes() async throws {
        let pool = try BlockingIOPool(threads: 1, name: "test-stop")
        let gate = Gate()
        let running = Task { try await pool.run { gate.pass(); return 1 } }
        await gate.waitForArrivals(1)
        let queued = Task { try await pool.run { 2 } }
        await waitUntil { pool.queuedJobs == 1 }
        let stopped = Task { await pool.shutdown() }
        // New jobs are refused at once, even while the old ones still run.
        await waitUntil { pool.isShuttingDown }
        await #expect(throws: BlockingIOPoolShutDownError.self) { try await pool.run { 0 } }
        gate.open()
        await stopped.value
        #expect(try await running.value == 1)
        #expect(try await queued.value == 2)
        await pool.shutdown()  // again: returns at once
    }
}
