import Model
import Testing
@testable import WAL

/// The writer's series table on its own: lookups, removal, compaction, growth and order.
struct SeriesStoreTests {
    private func series(_ i: Int) -> Labels {
        labels("metric_\(i % 7)", ("instance", "host-\(i)"), ("job", "node"))
    }

    /// Every live series of `store` as (ref, labels), in the store's order.
    private func contents(_ store: SeriesStore) -> [(SeriesRef, Labels)] {
        var out: [(SeriesRef, Labels)] = []
        store.forEach { ref, n, bytes in out.append((ref, Labels(trustedBytes: Array(bytes), count: n))) }
        return out
    }

    @Test func insertedSeriesAreFoundByTheirLabelsAndKeepTheirFirstRef() {
        var store = SeriesStore()
        #expect(store.ref(of: series(1)) == nil)
        for i in 0..<100 {
            let r = store.findOrInsert(series(i), ref: SeriesRef(i + 1))
            #expect(r == (SeriesRef(i + 1), true))
        }
        for i in 0..<100 {
            #expect(store.ref(of: series(i)) == SeriesRef(i + 1))
            // Found again: the existing ref, nothing inserted.
            let again = store.findOrInsert(series(i), ref: 1000)
            #expect(again == (SeriesRef(i + 1), false))
        }
        #expect(store.count == 100)
        #expect(store.ref(of: series(100)) == nil)
        #expect(store.ref(of: labels("metric_1", ("instance", "host-1"))) == nil)
    }

    @Test func theIndexGrowsAndKeepsEverySeries() {
        var store = SeriesStore()
        let n = 50_000
        for i in 0..<n { _ = store.findOrInsert(series(i), ref: SeriesRef(i + 1)) }
        #expect(store.count == n)
        for i in stride(from: 0, to: n, by: 7) { #expect(store.ref(of: series(i)) == SeriesRef(i + 1)) }
        let listed = contents(store)
        #expect(listed.map(\.0) == (1...SeriesRef(n)).map { $0 })
        #expect(listed[12_345].1 == series(12_345))
    }

    @Test func labelSetsLongerThanAChunkGetTheirOwnChunk() {
        var store = SeriesStore()
        let big = labels("big", ("v", String(repeating: "x", count: SeriesStore.chunkLimit + 10)))
        _ = store.findOrInsert(series(0), ref: 1)
        _ = store.findOrInsert(big, ref: 2)
        _ = store.findOrInsert(series(1), ref: 3)
        #expect(store.ref(of: big) == 2)
        #expect(contents(store).map(\.1) == [series(0), big, series(1)])
    }

    @Test func removingTheNewestSeriesGivesItsBytesBackAndLeavesTheOthersFindable() {
        var store = SeriesStore()
        for i in 0..<20 { _ = store.findOrInsert(series(i), ref: SeriesRef(i + 1)) }
        let memory = store.memoryBytes
        store.remove(ref: 20)
        store.remove(ref: 19)
        #expect(store.count == 18)
        #expect(store.entries.count == 18)
        #expect(store.ref(of: series(19)) == nil)
        #expect(store.ref(of: series(18)) == nil)
        for i in 0..<18 { #expect(store.ref(of: series(i)) == SeriesRef(i + 1)) }
        #expect(store.memoryBytes <= memory)
        // Removing an unknown ref does nothing.
        store.remove(ref: 999)
        #expect(store.count == 18)
        // Inserted again, under a new ref.
        #expect(store.findOrInsert(series(18), ref: 21) == (21, true))
    }

    @Test func aSeriesRemovedFromTheMiddleIsSkippedUntilCompactionDropsIt() {
        var store = SeriesStore()
        for i in 0..<10 { _ = store.findOrInsert(series(i), ref: SeriesRef(i + 1)) }
        store.remove(ref: 4)
        #expect(store.count == 9)
        #expect(store.entries.count == 10)
        #expect(store.ref(of: series(3)) == nil)
        #expect(!contents(store).map(\.0).contains(4))
        #expect(!store.refs.contains(4))
        store.removeAll(in: RefSet())
        #expect(store.entries.count == 9)
        #expect(contents(store).map(\.0) == [1, 2, 3, 5, 6, 7, 8, 9, 10])
        for i in 0..<10 where i != 3 { #expect(store.ref(of: series(i)) == SeriesRef(i + 1)) }
    }

    @Test func compactionDropsReleasedSeriesMovesTheRestTogetherAndKeepsThemFindable() {
        var store = SeriesStore()
        let n = 30_000
        // Long labels, so that the table spans several chunks.
        func long(_ i: Int) -> Labels { labels("m", ("i", "\(i)"), ("pad", String(repeating: "p", count: 100))) }
        for i in 0..<n { _ = store.findOrInsert(long(i), ref: SeriesRef(i + 1)) }
        let before = store.memoryBytes
        let released = RefSet((1...SeriesRef(n)).filter { $0 % 3 != 0 })
        store.removeAll(in: released)
        #expect(store.count == n / 3)
        #expect(store.memoryBytes < before)
        #expect(contents(store).map(\.0) == (1...SeriesRef(n)).filter { $0 % 3 == 0 })
        for i in 0..<n {
            let expected: SeriesRef? = (i + 1) % 3 == 0 ? SeriesRef(i + 1) : nil
            #expect(store.ref(of: long(i)) == expected)
        }
        // Inserting after compaction works as before.
        #expect(store.findOrInsert(long(0), ref: SeriesRef(n + 1)) == (SeriesRef(n + 1), true))
        #expect(store.ref(of: long(0)) == SeriesRef(n + 1))
        // Everything released: empty, and still usable.
        store.removeAll(in: RefSet(store.refs))
        #expect(store.isEmpty)
        #expect(store.ref(of: long(2)) == nil)
        #expect(store.findOrInsert(long(2), ref: 99_999) == (99_999, true))
    }

    @Test func seriesInsertedOutOfRefOrderAreSortedByRefAndStayFindable() {
        // What a replay does: newest segment first, refs in any order; the first ref found wins.
        var store = SeriesStore()
        let refs: [SeriesRef] = [50, 10, 40, 20, 30, 60, 5]
        for (i, ref) in refs.enumerated() { _ = store.findOrInsert(series(i), ref: ref) }
        #expect(store.findOrInsert(series(0), ref: 1) == (50, false))
        #expect(!store.isSortedByRef)
        store.sortByRef()
        #expect(store.isSortedByRef)
        #expect(contents(store).map(\.0) == refs.sorted())
        for (i, ref) in refs.enumerated() { #expect(store.ref(of: series(i)) == ref) }
        // Removal by ref works on the sorted table, and compaction after it.
        store.remove(ref: 30)
        #expect(store.ref(of: series(4)) == nil)
        store.removeAll(in: RefSet([5]))
        #expect(contents(store).map(\.0) == [10, 20, 40, 50, 60])
        #expect(store.ref(of: series(2)) == 40)
    }

    @Test func aReplayedLogWritesItsHeadInRefOrder() async throws {
        let dir = TempDir()
        let log = LogCapture()
        do {
            let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1 << 20, compression: .none, logger: log.logger)
            for round in 0..<3 {
                var b = AppendBatch()
                for k in 0..<50 { _ = b.append(labels: series(round * 50 + k), timestamp: Int64(round), value: 1) }
                _ = try await wal.commit(b)
            }
            try await wal.close()
        }
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1 << 20, compression: .none, logger: log.logger)
        #expect(wal.seriesCount == 150)
        let head = try readAll(dir.path, from: WALPosition(segment: wal.head.segment, offset: 0))
        let refs = allSeries(head).map(\.ref)
        #expect(refs == (1...150).map { SeriesRef($0) })
        // The same label sets get their old refs back.
        var b = AppendBatch()
        _ = b.append(labels: series(77), timestamp: 10, value: 1)
        #expect(try await wal.commit(b) == [78])
        try await wal.close()
    }
}
