import AgentConfig
import Foundation
import Model
import Prometheus
import Synchronization
import Testing
import TestSupport
import WAL

@testable import RemoteWrite

// The watcher's input: records from memory (the WAL's window of committed records, here a test
// double) when it holds them, else from the segment files; either way the same records.

/// Serves records from memory as the WAL's window of committed records would: the records
/// from `first` on, exactly as a reader at the asked position would return them; nil for a
/// position before the window or at its end (a snapshot cannot know what came since).
final class MemoryWindow: CommittedRecordSource {
    let entries: [WALReadAhead.Entry]
    let first: Int
    private let served = Mutex(0)

    /// The window holds every record of `wal` read now, from the `first`th on.
    init(_ wal: WriteAheadLog, from first: Int = 0) throws {
        entries = try readAll(wal)
        self.first = first
    }

    /// Records handed out so far.
    var recordsServed: Int { served.withLock { $0 } }

    func committedRecords(from position: WALPosition, maxRecords: Int) -> [WALReadAhead.Entry]? {
        // A reader at the end of a record (or of a segment) reads the next record on.
        guard let index = entries.indices.first(where: { entries[$0].start == position || entries[$0].next == position })
        else { return nil }
        let start = entries[index].start == position ? index : index + 1
        // Past its last record the window is stale (a snapshot): the files know what came since.
        guard start >= first, start < entries.count else { return nil }
        let answer = Array(entries[start..<min(entries.count, start + maxRecords)])
        served.withLock { $0 += answer.count }
        return answer
    }
}

/// Every record of `wal` with its places, read from the files.
func readAll(_ wal: WriteAheadLog) throws -> [WALReadAhead.Entry] {
    var reader = try WALReader(directory: wal.directory, from: WALPosition(segment: 0, offset: 0))
    var entries: [WALReadAhead.Entry] = []
    while let (record, next) = try reader.next() {
        entries.append(WALReadAhead.Entry(record: record, start: reader.lastRecordStart, next: next))
    }
    return entries
}

/// Commits `scrapes` scrapes of `series` series, with a segment boundary when the segments are small.
private func fill(_ fixture: WALFixture, series: Int, scrapes: Int) async throws -> [Labels] {
    let all = (0..<series).map { Labels(["__name__": "m", "i": "\($0)"]) }
    for scrape in 0..<scrapes { try await fixture.scrape(all, at: Int64(1000 * (scrape + 1))) }
    return all
}

private func sameRecords(_ a: [WALReadAhead.Entry], _ b: [WALReadAhead.Entry]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.record == $1.record && $0.start == $1.start && $0.next == $1.next }
}

@Suite struct WALInputTests {
    /// Everything `input` returns until the WAL's end.
    private func drain(_ input: inout WALInput) async throws -> [WALReadAhead.Entry] {
        var all: [WALReadAhead.Entry] = []
        while true {
            let batch = try await input.read()
            if batch.entries.isEmpty { return all }
            all += batch.entries
        }
    }

    @Test func recordsFromMemoryAreTheRecordsFromTheFiles() async throws {
        let fixture = try WALFixture(segmentSize: 16 * 1024)
        _ = try await fill(fixture, series: 200, scrapes: 12)
        let expected = try readAll(fixture.wal)
        #expect(Set(expected.map(\.start.segment)).count > 1, "the records span several segments")
        let window = try MemoryWindow(fixture.wal)
        var input = WALInput(
            reader: try WALReader(directory: fixture.wal.directory, from: WALPosition(segment: 0, offset: 0)), pool: fixture.pool,
            committed: window, maxRecords: 5)
        let read = try await drain(&input)
        #expect(sameRecords(read, expected))
        #expect(input.counts.memory == expected.count && input.counts.files == 0)
    }

    @Test func anInputBehindTheWindowReadsTheFilesThenMemory() async throws {
        let fixture = try WALFixture(segmentSize: 16 * 1024)
        _ = try await fill(fixture, series: 200, scrapes: 12)
        let expected = try readAll(fixture.wal)
        let window = try MemoryWindow(fixture.wal, from: expected.count / 2)
        var input = WALInput(
            reader: try WALReader(directory: fixture.wal.directory, from: WALPosition(segment: 0, offset: 0)), pool: fixture.pool,
            committed: window, maxRecords: 3)
        let read = try await drain(&input)
        #expect(sameRecords(read, expected))
        #expect(input.counts.files >= expected.count / 2 && input.counts.files < expected.count / 2 + 3)
        #expect(input.counts.memory == expected.count - input.counts.files)
        // New commits after the window: the files again, from where memory stopped.
        try await fixture.scrape([Labels(["__name__": "m", "i": "0"])], at: 99_000)
        let more = try await drain(&input)
        #expect(more.count == 1 && more.first?.start == expected.last?.next)
    }
}

/// A watcher on its own: an endpoint context with one shard that nobody sends from.
private struct LoneWatcher {
    let fixture: WALFixture
    let context: EndpointContext
    let task: Task<Void, any Error>

    init(_ fixture: WALFixture, committed: any CommittedRecordSource, capacity: Int = 100_000) throws {
        let config = RemoteWriteConfig(url: "http://127.0.0.1:1/api/v1/write", name: "lone")
        let clock = SystemClock()
        let start = Cursor(position: WALPosition(segment: 0, offset: 0))
        let context = EndpointContext(
            config: config, metrics: RemoteWriteMetrics(registry: PrometheusCollectorRegistry(), name: "lone", url: config.url),
            logger: quietLogger, clock: clock, client: RemoteWriteClient(config: config, transport: sharedTransport, clock: clock),
            sets: ShardSets(first: ShardSet(count: 1, capacity: capacity, start: start, previous: nil, clock: clock)),
            series: SeriesCache(externalLabels: Labels(["cluster": "c"]), writeRelabelConfigs: [], attachMetadata: false),
            readPosition: start)
        let watcher = WALWatcher(
            context: context, wal: fixture.wal, pool: fixture.pool, resume: EndpointProgress(acknowledged: start), committed: committed)
        let reader = try WALReader(directory: fixture.wal.directory, from: start.position)
        self.fixture = fixture
        self.context = context
        task = Task { try await watcher.run(from: reader) }
    }

    var queue: ShardQueue { context.sets.current.queues[0] }

    /// Waits until `count` samples are queued.
    func waitForQueued(_ count: Int) async -> Bool {
        await eventually(timeout: .seconds(20)) { queue.pendingCounts.samples >= count }
    }

    /// Takes everything queued, as the sender would, and acknowledges it.
    func takeAll() async -> [QueuedSample] {
        guard let batch = await queue.nextBatch(maxPerBatch: 1_000_000, deadline: .zero) else { return [] }
        queue.completeBatch()
        return batch.samples
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

@Suite struct WatcherInputTests {
    @Test func aCaughtUpWatcherQueuesFromMemoryWhatItWouldHaveReadFromTheFiles() async throws {
        let fixture = try WALFixture(segmentSize: 16 * 1024)
        _ = try await fill(fixture, series: 100, scrapes: 10)
        let fromFiles = try LoneWatcher(fixture, committed: NoCommittedRecords())
        #expect(await fromFiles.waitForQueued(1000))
        let window = try MemoryWindow(fixture.wal)
        let fromMemory = try LoneWatcher(fixture, committed: window)
        #expect(await fromMemory.waitForQueued(1000))
        let a = await fromFiles.takeAll(), b = await fromMemory.takeAll()
        await fromFiles.stop()
        await fromMemory.stop()
        #expect(window.recordsServed == window.entries.count)
        #expect(a.count == 1000)
        #expect(a.map { "\($0.ref) \($0.timestamp) \($0.value) \($0.place)" } == b.map { "\($0.ref) \($0.timestamp) \($0.value) \($0.place)" })
    }

    @Test func aSeriesTheWALForgotKeepsItsLabelsUntilItsQueuedSamplesAreGone() async throws {
        let fixture = try WALFixture(segmentSize: 16 * 1024)
        let kept = (0..<50).map { Labels(["__name__": "kept", "i": "\($0)"]) }
        let gone = Labels(["__name__": "gone"])
        try await fixture.scrape(kept + [gone], at: 1000)
        let goneRef = try #require(fixture.refs[gone])
        var release = AppendBatch()
        release.release(ref: goneRef)
        _ = try await fixture.wal.commit(release)
        // Scrape the kept series until the WAL starts a new segment, whose head does not list `gone`.
        var scrape = 2
        while fixture.wal.head.segment == 0 {
            try await fixture.scrape(kept, at: Int64(1000 * scrape))
            scrape += 1
        }
        try await fixture.scrape(kept, at: Int64(1000 * scrape))
        let watcher = try LoneWatcher(fixture, committed: NoCommittedRecords())
        let total = 51 + 50 * (scrape - 1)
        #expect(await watcher.waitForQueued(total))
        #expect(await eventually(timeout: .seconds(20)) { watcher.context.reading.withLock { $0.position.position } == fixture.wal.head })
        #expect(watcher.context.series.resolvedForTest([goneRef]).first??.labels == gone, "its sample of the first segment is still queued")
        #expect(watcher.context.series.withLock { $0.status(of: goneRef) } == .unknown)
        let taken = await watcher.takeAll()
        #expect(taken.contains { $0.ref == goneRef })
        // The next samples record read lets the cache drop it.
        try await fixture.scrape(kept, at: Int64(1000 * (scrape + 1)))
        #expect(await watcher.waitForQueued(50))
        #expect(watcher.context.series.resolvedForTest([goneRef]).first! == nil)
        await watcher.stop()
    }
}
