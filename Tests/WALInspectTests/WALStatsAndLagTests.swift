import Foundation
import Testing
import WAL
@testable import WALInspect

@Suite("WAL dump --stats and --lag")
struct WALStatsAndLagTests {
    func size(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    @Test func statsCountTheFixtureWAL() async throws {
        let storage = try TestStorage()
        try await writeFixtureWAL(storage)
        let result = try storage.inspect(.init(format: .text, records: false, stats: true))
        let stats = result.report.stats
        let bytes = try size(storage.segmentPath(0)) + size(storage.segmentPath(1))
        #expect(stats.segments == [0, 1])
        #expect(stats.bytes == bytes)
        // node: up, 2 CPU counters, load; prom: up, 9 odd values, build_info.
        #expect(stats.series == 15)
        // 4 + 11 + 4 + 3 samples in the four commits; one staleness marker.
        #expect(stats.samples == 22)
        #expect(stats.allSamples == 22)
        #expect(stats.staleMarkers == 1)
        #expect(stats.exemplars == 2)
        #expect(stats.oldestSample == t0)
        #expect(stats.newestSample == t0 + 30_000)
        #expect(stats.bytesPerSample == Double(bytes) / 22)
        #expect(stats.unreadableTail == nil)
        #expect(!stats.filtered)
        try expectGolden(result.lines, "stats.txt")
        try expectGolden(try storage.inspect(.init(format: .json, records: false, stats: true)).lines, "stats.json")
    }

    @Test func statsWithFiltersCountTheSelectionAndKeepWholeWALFigures() async throws {
        let storage = try TestStorage()
        try await writeFixtureWAL(storage)
        let selection = Selection(selectors: [try SeriesSelector(parsing: #"{job="node"}"#)], from: t0 + 1)
        let result = try storage.inspect(.init(format: .text, selection: selection, records: false, stats: true))
        let stats = result.report.stats
        #expect(stats.series == 4)
        // The node job's samples after t0: 4 at t0+15s (one stale), 3 at t0+30s.
        #expect(stats.samples == 7)
        #expect(stats.staleMarkers == 1)
        #expect(stats.allSamples == 22)
        #expect(stats.exemplars == 1)
        #expect(stats.oldestSample == t0 + 15_000)
        #expect(stats.filtered)
        try expectGolden(result.lines, "stats-filtered.txt")
    }

    @Test func lagCountsWhatEachEndpointHasNotAcknowledged() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        // One shard: everything before the second sample of the third commit is acknowledged.
        try storage.storeProgress("hub", EndpointProgress(
            acknowledged: Cursor(position: positions.samples[2], samplesDone: 1), url: "https://hub.example/api/v1/write"))
        // Two shards (shard = ref % 2): the low-water mark is at the second commit's samples; shard 0
        // (even refs) has everything; shard 1 (odd refs) has what lies before the third sample of
        // the third commit.
        try storage.storeProgress("sharded", EndpointProgress(
            acknowledged: Cursor(position: positions.samples[1]),
            shards: [Cursor(position: positions.head), Cursor(position: positions.samples[2], samplesDone: 2)],
            url: "http://mimir:8080/api/v1/push"))

        let result = try storage.inspect(.init(format: .text, records: false, lag: true))
        #expect(result.problems.isEmpty)
        let lag = result.report.lag
        #expect(lag.map(\.name) == ["hub", "sharded"])
        let segment0 = try size(storage.segmentPath(0))
        let segment1 = try size(storage.segmentPath(1))

        // hub: samples 2-4 of the third commit (refs 2, 3, 4) and the fourth commit's 3.
        #expect(lag[0].unsentSamples == 6)
        #expect(lag[0].oldestUnsent == t0 + 15_000)
        #expect(lag[0].unsentBytes == segment0 - positions.samples[2].offset + segment1)
        #expect(!lag[0].cursorSegmentGone)

        // sharded: odd refs (1 = up, 3 = user CPU) from the third commit's third sample on: ref 3
        // there, refs 1 and 3 in the fourth commit. The prom job's odd refs in the second commit
        // lie before shard 1's cursor.
        #expect(lag[1].unsentSamples == 3)
        #expect(lag[1].oldestUnsent == t0 + 15_000)
        #expect(lag[1].unsentBytes == segment0 - positions.samples[1].offset + segment1)
        try expectGolden(result.lines, "lag.txt")
        try expectGolden(try storage.inspect(.init(format: .json, records: false, lag: true)).lines, "lag.json")
    }

    @Test func anEndpointThatHasEverythingHasNoLag() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        try storage.storeProgress("hub", EndpointProgress(acknowledged: Cursor(position: positions.head)))
        let lag = try storage.inspect(.init(records: false, lag: true)).report.lag
        #expect(lag.first?.unsentSamples == 0)
        #expect(lag.first?.unsentBytes == 0)
        #expect(lag.first?.oldestUnsent == nil)
    }

    @Test func samplesInADeletedSegmentBeforeTheCursorDoNotCount() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        try storage.storeProgress("hub", EndpointProgress(acknowledged: Cursor(position: positions.samples[1], samplesDone: 3)))
        try FileManager.default.removeItem(atPath: storage.segmentPath(0))
        let result = try storage.inspect(.init(format: .text, records: false, lag: true))
        let lag = try #require(result.report.lag.first)
        #expect(lag.cursorSegmentGone)
        #expect(lag.unsentSamples == 3)
        #expect(lag.oldestUnsent == t0 + 30_000)
        #expect(lag.unsentBytes == (try size(storage.segmentPath(1))))
        #expect(result.lines.contains("  cursor:         \(RecordPrinter.position(positions.samples[1]))+3 (segment 00000000 no longer exists)"),
                "\(result.lines)")
    }

    @Test func anUnreadableProgressFileIsReportedAndTheOthersAreShown() async throws {
        let storage = try TestStorage()
        let positions = try await writeFixtureWAL(storage)
        try storage.storeProgress("hub", EndpointProgress(acknowledged: Cursor(position: positions.head)))
        try Data("{\"position\":".utf8).write(to: URL(fileURLWithPath: storage.remote + "/broken.json"))
        let result = try storage.inspect(.init(records: false, lag: true))
        #expect(result.report.lag.map(\.name) == ["hub"])
        #expect(result.report.unreadableProgressFiles == [storage.remote + "/broken.json"])
        #expect(!result.report.isClean)
        #expect(result.problems.count == 1)
        #expect(result.problems.first?.hasPrefix("cannot read progress file \(storage.remote)/broken.json: ") == true, "\(result.problems)")
    }

    @Test func lagWithoutProgressFilesSaysSo() async throws {
        let storage = try TestStorage()
        try await writeFixtureWAL(storage)
        let result = try storage.inspect(.init(records: false, lag: true))
        #expect(result.lines == ["no remote endpoints: no progress files in \(storage.remote)"])
    }

    @Test func lagHonoursTheSelection() async throws {
        let storage = try TestStorage()
        try await writeFixtureWAL(storage)
        try storage.storeProgress("hub", EndpointProgress(acknowledged: Cursor(position: WALPosition(segment: 0, offset: 0))))
        let selection = Selection(selectors: [try SeriesSelector(parsing: "up")])
        let lag = try storage.inspect(.init(selection: selection, records: false, lag: true)).report.lag
        // up of node at t0, t0+15s, t0+30s and up of prom at t0+0.5s.
        #expect(lag.first?.unsentSamples == 4)
    }
}
