import Foundation
import Testing
import WAL
@testable import WALInspect

/// `--match`, `--from` and `--to` over the fixture WAL.
@Suite("WAL dump filters")
struct WALDumpFilterTests {
    let storage: TestStorage

    init() async throws {
        storage = try TestStorage()
        try await writeFixtureWAL(storage)
    }

    @Test func equalityMatcherSelectsASeriesAndItsSamples() throws {
        try expectGolden(try storage.dump(match: [#"{job="node",__name__="node_cpu_seconds_total",mode="idle"}"#]), "match-equal.txt")
    }

    @Test func metricNameFormSelectsLikeTheNameMatcher() throws {
        let short = try storage.dump(match: [#"up{job="node"}"#])
        let long = try storage.dump(match: [#"{__name__="up",job="node"}"#])
        #expect(short == long)
        try expectGolden(short, "match-name.txt")
    }

    @Test func regexMatcherIsAnchoredAtBothEnds() throws {
        try expectGolden(try storage.dump(match: [#"{__name__=~"node_cpu.*"}"#]), "match-regex.txt")
        // Not a substring search: "cpu" alone matches no whole name.
        #expect(try storage.dump(match: [#"{__name__=~"cpu"}"#]).isEmpty)
    }

    @Test func negativeMatchersExcludeSeries() throws {
        try expectGolden(try storage.dump(match: [#"{job="node",mode!="idle",__name__!~"up|node_load.*"}"#]), "match-negative.txt")
    }

    @Test func aMissingLabelCountsAsEmpty() throws {
        // Only the prom job's odd_value series have a `kind` label.
        let lines = try storage.dump(.json, match: [#"{kind!="",kind!~"n.*"}"#])
        let kinds = Set(lines.compactMap { line -> String? in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (object?["labels"] as? [String: String])?["kind"]
        })
        #expect(kinds == ["pos_inf", "tiny", "small", "huge", "big", "third"])
    }

    @Test func repeatedMatchersSelectTheUnion() throws {
        let both = try storage.dump(match: [#"up{job="node"}"#, #"{kind="huge"}"#])
        let up = try storage.dump(match: [#"up{job="node"}"#])
        let huge = try storage.dump(match: [#"{kind="huge"}"#])
        #expect(Set(both) == Set(up).union(huge))
        #expect(both.count == up.count + huge.count)
        #expect(!up.isEmpty && !huge.isEmpty)
    }

    @Test func fromAndToBoundSamplesAndExemplarsInclusively() throws {
        // t0+15s exactly, by RFC 3339 and by Unix seconds.
        let from = try TimeArgument.milliseconds("2024-01-02T03:04:20Z")
        let to = try TimeArgument.milliseconds("1704164675")
        #expect(from == t0 + 15_000)
        #expect(to == t0 + 30_000)
        try expectGolden(try storage.dump(from: from, to: to - 1), "time-range.txt")
    }

    @Test func exemplarsAreFilteredByTheirOwnTimestamp() throws {
        // The second exemplar is at t0+14.9s, its samples at t0+15s.
        let lines = try storage.dump(match: [#"{mode="idle"}"#], from: t0 + 14_950)
        #expect(!lines.contains { $0.contains(" exemplar ") })
        #expect(lines.contains { $0.contains(" sample ") })
        let earlier = try storage.dump(match: [#"{mode="idle"}"#], from: t0 + 14_900)
        #expect(earlier.filter { $0.contains(" exemplar ") }.count == 1)
    }

    @Test func seriesRecordsAreNotFilteredByTime() throws {
        let lines = try storage.dump(from: t0 + 60_000)
        #expect(lines.allSatisfy { $0.contains(" series ") || $0.contains(" metadata ") }, "\(lines)")
        #expect(!lines.isEmpty)
    }

    @Test func metadataIsSelectedByItsFamilyName() throws {
        #expect(try storage.dump(match: [#"{__name__=~"node_cpu_seconds.*"}"#]).contains { $0.contains(" metadata node_cpu_seconds ") })
        #expect(try storage.dump(match: ["node_cpu_seconds_total"]).contains { $0.contains(" metadata node_cpu_seconds ") })
        #expect(!(try storage.dump(match: [#"up{job="node"}"#]).contains { $0.contains(" metadata ") }))
    }
}
