#if canImport(Glibc)
import Model
import Glibc
#endif
import Foundation
import Testing
@testable import WAL

/// The writer thread: group commit, syncs that do not hold commits up, close.
@Suite(.timeLimit(.minutes(2)))
struct GroupCommitTests {
    let log = LogCapture()

    private func sample(_ name: String, _ pairs: (String, String)..., t: Int64, v: Double) -> AppendBatch {
        var b = AppendBatch()
        b.append(labels: Labels([Label("__name__", name)] + pairs.map { Label($0.0, $0.1) }), timestamp: t, value: v)
        return b
    }

    @Test func concurrentCommitsGetConsistentRefsAndEverySampleIsWrittenOnce() async throws {
        let dir = TempDir()
        // Small segments: the commits roll over many times while they run.
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 64 * 1024, logger: log.logger)
        let tasks = 200, commitsPerTask = 50, sharedSeries = 5
        let shared = (0..<sharedSeries).map { labels("shared", ("k", "\($0)")) }
        let writesBefore = wal.writeCalls

        // Each task: the shared series by labels every time, its own series by labels the first
        // time and every tenth commit, by ref otherwise. Values say who wrote what.
        let perTask = try await withThrowingTaskGroup(of: (task: Int, shared: [[SeriesRef]], own: [SeriesRef]).self) { group in
            for t in 0..<tasks {
                group.addTask {
                    let own = labels("own", ("task", "\(t)"))
                    var ownRef: SeriesRef?
                    var sharedRefs: [[SeriesRef]] = []
                    var ownRefs: [SeriesRef] = []
                    for j in 0..<commitsPerTask {
                        var b = AppendBatch()
                        for (k, l) in shared.enumerated() {
                            b.append(labels: l, timestamp: Int64(j), value: Double(t * 100 + k))
                        }
                        let byLabels = ownRef == nil || j % 10 == 0
                        if byLabels {
                            b.append(labels: own, timestamp: Int64(j), value: Double(t))
                        } else {
                            b.append(ref: ownRef!, timestamp: Int64(j), value: Double(t))
                        }
                        let refs = try await wal.commit(b)
                        sharedRefs.append(Array(refs.prefix(sharedSeries)))
                        if byLabels {
                            ownRefs.append(refs[sharedSeries])
                            ownRef = refs[sharedSeries]
                        }
                    }
                    return (t, sharedRefs, ownRefs)
                }
            }
            var all: [(task: Int, shared: [[SeriesRef]], own: [SeriesRef])] = []
            for try await r in group { all.append(r) }
            return all.sorted { $0.task < $1.task }
        }

        // The same label set got the same ref everywhere; different ones, different refs.
        let sharedRefs = perTask[0].shared[0]
        #expect(Set(sharedRefs).count == sharedSeries)
        #expect(perTask.allSatisfy { $0.shared.allSatisfy { $0 == sharedRefs } })
        #expect(perTask.allSatisfy { Set($0.own).count == 1 }, "a task's own series keeps its ref")
        let ownRefs = perTask.map { $0.own[0] }
        #expect(Set(ownRefs).count == tasks)
        #expect(Set(ownRefs).isDisjoint(with: sharedRefs))
        #expect(wal.seriesCount == tasks + sharedSeries)
        let commits = tasks * commitsPerTask
        #expect(wal.samplesAppended == commits * (sharedSeries + 1))
        #expect(wal.writeCalls - writesBefore < commits, "commits arriving together share writes")
        #expect(try wal.segments().count > 1)
        try await wal.close()

        // Every sample is in the log exactly once, after its series record.
        struct Key: Hashable {
            var ref: SeriesRef
            var timestamp: Int64
            var value: Double
        }
        var expected: [Key: Int] = [:]
        for r in perTask {
            for j in 0..<commitsPerTask {
                for k in 0..<sharedSeries {
                    expected[Key(ref: sharedRefs[k], timestamp: Int64(j), value: Double(r.task * 100 + k)), default: 0] += 1
                }
                expected[Key(ref: r.own[0], timestamp: Int64(j), value: Double(r.task)), default: 0] += 1
            }
        }
        var found: [Key: Int] = [:]
        var known = Set<SeriesRef>()
        var unknownRefs = 0
        for r in try readAll(dir.path) {
            switch r.record {
            case .series(let s):
                known.formUnion(s.map(\.ref))
            case .samples(let s):
                for x in s {
                    if !known.contains(x.ref) { unknownRefs += 1 }
                    found[Key(ref: x.ref, timestamp: x.timestamp, value: x.value), default: 0] += 1
                }
            default:
                break
            }
        }
        #expect(unknownRefs == 0)
        #expect(found == expected)

        // Replay finds the same table: refs are stable across the restart.
        let reopened = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(reopened.seriesCount == tasks + sharedSeries)
        #expect(try await reopened.commit(sample("shared", ("k", "0"), t: 1000, v: 0)) == [sharedRefs[0]])
        #expect(try await reopened.commit(sample("own", ("task", "7"), t: 1000, v: 0)) == [ownRefs[7]])
        try await reopened.close()
    }

    @Test func commitsQueuedWhileTheWriterIsBusyAreWrittenWithOneWrite() async throws {
        let dir = TempDir()
        let gate = Gate()
        let groups = ConditionLock<[Int]>([])
        let hooks = WALTestHooks(beforeGroup: { size in
            let first = groups.withLock { $0.append(size); return $0.count == 1 }
            if first { gate.pass() }  // hold the writer on the first group
        })
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger, hooks: hooks)
        let writesBefore = wal.writeCalls

        let firstCommit = Task { try await wal.commit(sample("first", t: 0, v: 0)) }
        await gate.waitForArrivals(1)
        let waiting = 50
        let queued = (0..<waiting).map { i in
            Task { try await wal.commit(sample("queued", ("i", "\(i)"), t: 1, v: Double(i))) }
        }
        await waitUntil { wal.queuedCommits == waiting }
        gate.open()

        #expect(try await firstCommit.value == [1])
        var refs: Set<SeriesRef> = []
        for task in queued { refs.formUnion(try await task.value) }
        #expect(refs == Set(2...SeriesRef(waiting + 1)))
        #expect(groups.withLock { $0 } == [1, waiting])
        #expect(wal.writeCalls - writesBefore == 2, "one write for the first commit, one for the 50 queued behind it")

        // Each commit's records are whole, in the order the writer took them.
        let records = try readAll(dir.path)
        #expect(allSamples(records).count == waiting + 1)
        #expect(allSeries(records).map(\.ref) == Array(1...SeriesRef(waiting + 1)))
        #expect(records.last?.next == wal.head)
        try await wal.close()
    }

    @Test func aSyncInProgressDoesNotHoldUpCommits() async throws {
        let dir = TempDir()
        let gate = Gate()
        let hooks = WALTestHooks(syncSegment: { file in
            gate.pass()
            try Syscall.fsyncFile(file.fd, path: file.path)
        })
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger, hooks: hooks)
        _ = try await wal.commit(sample("a", t: 1, v: 1))

        let sync = Task { try await wal.sync() }
        await gate.waitForArrivals(1)
        // The fsync is held: commits go on all the same.
        let headBefore = wal.head
        for t in 2..<10 { _ = try await wal.commit(sample("a", t: Int64(t), v: 1)) }
        #expect(wal.head > headBefore)
        #expect(gate.arrivals == 1, "still in the first sync")
        #expect(allSamples(try readAll(dir.path)).count == 9)

        gate.open()
        try await sync.value
        try await wal.sync()
        #expect(wal.writeFailures == 0)
        try await wal.close()
    }

    @Test func aRolloverDuringASyncIsSafe() async throws {
        let dir = TempDir()
        let gate = Gate()
        let held = ConditionLock<[SegmentFile]>([])
        let hooks = WALTestHooks(syncSegment: { file in
            held.withLock { $0.append(file) }
            if held.withLock({ $0.count }) == 1 { gate.pass() }
            try Syscall.fsyncFile(file.fd, path: file.path)
        })
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 4096, compression: .none, logger: log.logger, hooks: hooks)
        let padding = String(repeating: "p", count: 1000)
        _ = try await wal.commit(sample("big", ("pad", padding), t: 0, v: 0))
        let first = wal.head.segment

        let sync = Task { try await wal.sync() }
        await gate.waitForArrivals(1)
        // While the sync holds segment `first`'s file, commits fill it and move on: the writer
        // fsyncs it and lets it go.
        var t: Int64 = 1
        while wal.head.segment < first + 2 {
            _ = try await wal.commit(sample("big", ("pad", padding), ("t", "\(t)"), t: t, v: 0))
            t += 1
        }
        // The held descriptor is still open, and still the first segment's file.
        let file = try #require(held.withLock { $0.first })
        #expect(file.path == dir.segmentPath(first))
        var heldStat = stat()
        var pathStat = stat()
        #expect(fstat(file.fd, &heldStat) == 0)
        #expect(stat(dir.segmentPath(first), &pathStat) == 0)
        #expect(heldStat.st_ino == pathStat.st_ino && heldStat.st_dev == pathStat.st_dev)

        gate.open()
        try await sync.value
        // The next sync gets the segment being written now.
        try await wal.sync()
        #expect(held.withLock { $0.last?.path } == dir.segmentPath(wal.head.segment))
        #expect(wal.writeFailures == 0)
        try await wal.close()

        let records = try readAll(dir.path)
        #expect(allSamples(records).count == Int(t))
        let reopened = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(reopened.openReport.corruptions == 0)
        try await reopened.close()
    }

    @Test func closeWritesTheQueuedCommitsAndLaterCommitsThrowClosed() async throws {
        let dir = TempDir()
        let gate = Gate()
        let groups = ConditionLock(0)
        let hooks = WALTestHooks(beforeGroup: { _ in
            if groups.withLock({ $0 += 1; return $0 }) == 1 { gate.pass() }
        })
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger, hooks: hooks)
        let firstCommit = Task { try await wal.commit(sample("first", t: 0, v: 0)) }
        await gate.waitForArrivals(1)
        let waiting = 20
        let queued = (0..<waiting).map { i in
            Task { try await wal.commit(sample("queued", ("i", "\(i)"), t: 1, v: Double(i))) }
        }
        await waitUntil { wal.queuedCommits == waiting }

        let close = Task { try await wal.close() }
        // Closing: syncs and commits are refused at once, while the queued commits still wait.
        await waitUntil {
            do {
                try await wal.sync()
                return false
            } catch {
                return true
            }
        }
        await #expect(throws: WALError.self) { try await wal.commit(sample("late", t: 2, v: 0)) }
        #expect(wal.queuedCommits == waiting)

        gate.open()
        try await close.value
        _ = try await firstCommit.value
        for task in queued { _ = try await task.value }  // none failed
        #expect(wal.samplesAppended == waiting + 1)
        try await wal.close()  // again: nothing to do
        await #expect(throws: WALError.self) { try await wal.commit(sample("later", t: 3, v: 0)) }
        await #expect(throws: WALError.self) { try await wal.sync() }

        let records = try readAll(dir.path)
        #expect(allSamples(records).count == waiting + 1)
        #expect(Set(allSeries(records).map { $0.labels.metricName }) == ["first", "queued"])
    }

    @Test func concurrentClosesBothReturnAfterTheLogIsClosed() async throws {
        let dir = TempDir()
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        _ = try await wal.commit(sample("a", t: 1, v: 1))
        async let a: Void = wal.close()
        async let b: Void = wal.close()
        _ = try await (a, b)
        await #expect(throws: WALError.self) { try await wal.commit(sample("a", t: 2, v: 1)) }
        #expect(allSamples(try readAll(dir.path)).count == 1)
    }

    @Test func aLogThatGoesAwayWithoutCloseLeavesAReadableLog() async throws {
        let dir = TempDir()
        do {
            let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
            _ = try await wal.commit(sample("a", t: 1, v: 1))
        }
        let reopened = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(reopened.openReport.corruptions == 0)
        #expect(reopened.seriesCount == 1)
        try await reopened.close()
        #expect(allSamples(try readAll(dir.path)).count == 1)
    }

    @Test func theLogUsesThePoolItIsGivenAndLeavesItRunning() async throws {
        let dir = TempDir()
        let pool = try BlockingIOPool(threads: 2, name: "test-io")
        let wal = try WriteAheadLog(directory: dir.path, ioPool: pool, logger: log.logger)
        _ = try await wal.commit(sample("a", t: 1, v: 1))
        try await wal.sync()
        try await wal.close()
        #expect(try await pool.run { 42 } == 42, "closing the log does not shut a pool it was given down")
        await pool.shutdown()
    }
}

/// Holds the threads that call ``pass()`` until ``open()``. Blocks them: for hooks that run on
/// dedicated threads (the writer thread, an I/O pool), never on the cooperative pool.
final class Gate: Sendable {
    private struct State: Sendable {
        var open = false
        var arrivals = 0
    }

    private let state = ConditionLock(State())

    func pass() {
        state.withLock { $0.arrivals += 1 }
        state.broadcast()
        state.withLock(waitingUntil: { $0.open }) { _ in }
    }

    func open() {
        state.withLock { $0.open = true }
        state.broadcast()
    }

    var arrivals: Int { state.withLock { $0.arrivals } }

    /// Suspends (polling) until `count` threads have arrived.
    func waitForArrivals(_ count: Int) async {
        await waitUntil { self.arrivals >= count }
    }
}

/// Suspends, polling every millisecond, until `condition` holds.
func waitUntil(_ condition: () async -> Bool) async {
    while await !condition() {
        try? await Task.sleep(for: .milliseconds(1))
    }
}
