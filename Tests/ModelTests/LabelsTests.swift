import Model
import Testing

@Suite struct LabelsTests {
    @Test func pairsInAnyOrderAreSortedByNameBytesTheLaterDuplicateWinsAndEmptyValuesAreDropped() {
        let labels = Labels([Label("job", "a"), Label("__name__", "up"), Label("b", ""), Label("job", "node"), Label("Z", "upper")])
        #expect(labels.pairs == [Label("Z", "upper"), Label("__name__", "up"), Label("job", "node")])
        #expect(labels.count == 3)
    }

    @Test func filterKeepsTheAcceptedLabelsInOrderAndReturnsTheSameSetWhenItKeepsAll() {
        let labels = Labels(["__address__": "a:1", "job": "x", "__meta_k": "v", "zone": "z"])
        let public_ = labels.filter { name in !(name.count >= 2 && name[0] == 0x5F && name[1] == 0x5F) }
        #expect(public_ == Labels(["job": "x", "zone": "z"]))
        #expect(public_.count == 2)
        #expect(labels.filter { _ in true } == labels)
        #expect(labels.filter { _ in false } == .empty)
    }

    @Test func theBytesAreLengthPrefixedNamesAndValuesInOrder() {
        let labels = Labels(["__name__": "up", "job": "x"])
        #expect(labels.bytes == [8] + Array("__name__".utf8) + [2] + Array("up".utf8) + [3] + Array("job".utf8) + [1] + Array("x".utf8))
    }

    @Test func longValuesGetMultiByteLengths() {
        let long = String(repeating: "v", count: 300)
        let labels = Labels(["a": long])
        #expect(Array(labels.bytes.prefix(4)) == [1, UInt8(ascii: "a"), 0xAC, 0x02])
        #expect(labels["a"] == long)
    }

    @Test func equalityAndHashingFollowTheBytes() {
        let a = Labels(["a": "1", "b": "2"])
        let b = Labels([Label("b", "2"), Label("a", "1")])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.stableHash == b.stableHash)
        #expect(a != Labels(["a": "1", "b": "3"]))
        #expect(Set([a, b]).count == 1)
    }

    @Test func validatingRejectsUnsortedDuplicateEmptyAndTruncatedEncodings() {
        let good = Labels(["a": "1", "b": "2"])
        #expect(Labels(validating: good.bytes) == good)
        let unsorted = Labels(["b": "2"]).bytes + Labels(["a": "1"]).bytes
        #expect(Labels(validating: unsorted) == nil)
        let duplicate = Labels(["a": "1"]).bytes + Labels(["a": "2"]).bytes
        #expect(Labels(validating: duplicate) == nil)
        #expect(Labels(validating: [1, UInt8(ascii: "a"), 0]) == nil, "empty value")
        #expect(Labels(validating: Array(good.bytes.dropLast())) == nil, "truncated")
        #expect(Labels(validating: []) == .empty)
    }

    @Test func addingMissingIsASortedMergeInWhichTheSetsOwnLabelsWin() {
        let own = Labels(["__name__": "up", "cluster": "own", "job": "node"])
        let external = Labels(["cluster": "production", "region": "eu", "a": "first"])
        let merged = own.addingMissing(from: external)
        #expect(merged.pairs == [
            Label("__name__", "up"), Label("a", "first"), Label("cluster", "own"), Label("job", "node"), Label("region", "eu"),
        ])
        #expect(merged.count == 5)
        #expect(Labels(validating: merged.bytes) == merged)
        #expect(Labels.empty.addingMissing(from: external) == external)
        #expect(own.addingMissing(from: .empty) == own)
    }

    @Test func settingReplacesAddsOrRemovesALabel() {
        let labels = Labels(["a": "1", "c": "3"])
        #expect(labels.setting("b", to: "2") == Labels(["a": "1", "b": "2", "c": "3"]))
        #expect(labels.setting("a", to: "9") == Labels(["a": "9", "c": "3"]))
        #expect(labels.setting("a", to: "") == Labels(["c": "3"]))
    }

    @Test func lookupAndMetricNameAndDescription() {
        let labels = Labels(["__name__": "http_requests_total", "path": "/a\"b\\c\n"])
        #expect(labels.metricName == "http_requests_total")
        #expect(labels["path"] == "/a\"b\\c\n")
        #expect(labels["missing"] == nil)
        #expect(labels.description == #"http_requests_total{path="/a\"b\\c\n"}"#)
    }

    @Test func aBuilderTakesValuesPiecewiseAndIsReusable() {
        var builder = LabelsBuilder()
        Array("job".utf8).withUnsafeBytes { builder.beginLabel(name: $0) }
        Array("no".utf8).withUnsafeBytes { builder.appendToValue($0) }
        builder.appendToValue(byte: UInt8(ascii: "d"))
        builder.append("__name__", "up")
        #expect(builder.build() == Labels(["__name__": "up", "job": "nod"]))
        builder.reset()
        builder.append("x", "1")
        #expect(builder.build() == Labels(["x": "1"]))
    }

    @Test func theStableHashDoesNotDependOnTheProcess() {
        // Pinned: a change of the hash would silently change every cache key and shard.
        #expect(Labels(["__name__": "up", "job": "node"]).stableHash == 5_513_621_170_930_227_227)
        let a = Array("abcdefghijklmnopqrstuvwxyz".utf8).withUnsafeBytes { ByteHash.hash64($0) }
        let b = Array("abcdefghijklmnopqrstuvwxyZ".utf8).withUnsafeBytes { ByteHash.hash64($0) }
        #expect(a != b)
        let seeded = Array("abc".utf8).withUnsafeBytes { (ByteHash.hash64($0), ByteHash.hash64($0, seed: 1)) }
        #expect(seeded.0 != seeded.1)
    }
}
