import Model
import PrometheusProto
import Snappy
import Testing
import WAL

@testable import RemoteWrite

// The encoder lays requests out by hand from cached bytes; these tests read them back with the
// libprotobuf-c generated code (and, for 2.0, with a reader written from the spec's field
// numbers) and check them field by field.

private let staleMarker = Double(bitPattern: 0x7ff0_0000_0000_0002)

/// A series of a test request: its ref is its labels' hash, so equal label sets are one series.
private struct TestSeries {
    let labels: Labels
    let metadata: MetricMetadata?
    var ref: SeriesRef { labels.stableHash }
}

private func series(_ pairs: KeyValuePairs<String, String>, metadata: MetricMetadata? = nil) -> TestSeries {
    TestSeries(labels: Labels(pairs), metadata: metadata)
}

/// The series a test request may refer to, as a ``SeriesSource``: each with its own metadata.
private struct Catalog: SeriesSource {
    var entries: [SeriesRef: TestSeries] = [:]
    var mergedLabels: Labels

    init(_ all: [TestSeries], merging: Labels = .empty) {
        for item in all { entries[item.ref] = item }
        mergedLabels = merging
    }

    func resolve(_ refs: [SeriesRef], into series: inout ResolvedSeries) -> [MetricMetadata] {
        var families: [MetricMetadata] = []
        for ref in refs {
            guard let item = entries[ref] else {
                series.unknown()
                continue
            }
            var family: Int32 = -1
            if let metadata = item.metadata {
                family = Int32(families.count)
                families.append(metadata)
            }
            series.append(item.labels, family: family)
        }
        return families
    }
}

private func protoLabels(_ labels: Labels) -> [ProtoLabel] {
    labels.pairs.map { ProtoLabel(name: $0.name, value: $0.value) }
}

private func decodeV1(_ body: [UInt8]) throws -> WriteRequest {
    try WriteRequest(serializedBytes: Snappy.decompress(body))
}

private func decodeV2(_ body: [UInt8]) throws -> WriteRequestV2 {
    try WriteRequestV2(serializedBytes: Snappy.decompress(body))
}

/// Three series and samples interleaved A B A C B, with awkward values and timestamps.
private struct Fixture {
    let a = series(["__name__": "http_requests_total", "job": "api", "instance": "10.0.0.1:80", "cluster": "prod"],
                   metadata: MetricMetadata(family: "http_requests", type: .counter, help: "Requests served.", unit: ""))
    let b = series(["__name__": "temperature", "room": "ünïcødé ✓", "job": "api"],
                   metadata: MetricMetadata(family: "temperature", type: .gauge, help: "", unit: "celsius"))
    let c = series(["__name__": "up", "job": "api", "instance": "10.0.0.1:80"])

    var catalog: Catalog { Catalog([a, b, c]) }

    var samples: [QueuedSample] {
        [
            QueuedSample(ref: a.ref, timestamp: 1_700_000_000_000, value: 1),
            QueuedSample(ref: b.ref, timestamp: 1_700_000_000_001, value: -0.0),
            QueuedSample(ref: a.ref, timestamp: 1_700_000_015_000, value: staleMarker),
            QueuedSample(ref: c.ref, timestamp: 0, value: 0),
            QueuedSample(ref: b.ref, timestamp: -5, value: .nan),
        ]
    }
}

@Suite struct RequestEncoderV1Tests {
    @Test func groupsSamplesPerSeriesInOrderOfFirstAppearance() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV1(encoder.encodeV1(samples: fixture.samples, exemplars: [], series: fixture.catalog))
        #expect(request.timeseries.map(\.labels) == [fixture.a, fixture.b, fixture.c].map { protoLabels($0.labels) })
        #expect(request.timeseries.map { $0.samples.map(\.timestamp) } == [
            [1_700_000_000_000, 1_700_000_015_000], [1_700_000_000_001, -5], [0],
        ])
        #expect(request.metadata.isEmpty)
    }

    @Test func labelsAreSentSortedByNameAsTheSeriesHasThem() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV1(encoder.encodeV1(samples: [QueuedSample(ref: fixture.a.ref, timestamp: 1, value: 1)], exemplars: [], series: fixture.catalog))
        #expect(request.timeseries[0].labels.map(\.name) == ["__name__", "cluster", "instance", "job"])
        #expect(request.timeseries[0].labels.map(\.value) == ["http_requests_total", "prod", "10.0.0.1:80", "api"])
    }

    @Test func negativeZeroAndNaNPayloadsKeepTheirBits() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV1(encoder.encodeV1(samples: fixture.samples, exemplars: [], series: fixture.catalog))
        #expect(request.timeseries[0].samples.map(\.value.bitPattern) == [(1.0 as Double).bitPattern, 0x7ff0_0000_0000_0002])
        #expect(request.timeseries[1].samples.map(\.value.bitPattern) == [(-0.0 as Double).bitPattern, Double.nan.bitPattern])
        #expect(request.timeseries[2].samples.map(\.value.bitPattern) == [0])
    }

    @Test func bytesAreWhatLibprotobufCPacksForTheSameRequest() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let exemplars = [
            QueuedExemplar(ref: fixture.c.ref, timestamp: 7, value: 0.25, labels: Labels(["trace_id": "abc"])),
            QueuedExemplar(ref: fixture.b.ref, timestamp: 0, value: -0.0, labels: Labels([])),
        ]
        encoder.buildV1(samples: fixture.samples, exemplars: exemplars, series: fixture.catalog)
        let reference = WriteRequest(timeseries: [
            ProtoTimeSeries(labels: protoLabels(fixture.a.labels), samples: [
                ProtoSample(value: 1, timestamp: 1_700_000_000_000), ProtoSample(value: staleMarker, timestamp: 1_700_000_015_000),
            ]),
            ProtoTimeSeries(labels: protoLabels(fixture.b.labels), samples: [
                ProtoSample(value: -0.0, timestamp: 1_700_000_000_001), ProtoSample(value: .nan, timestamp: -5),
            ], exemplars: [ProtoExemplar(labels: [], value: -0.0, timestamp: 0)]),
            ProtoTimeSeries(labels: protoLabels(fixture.c.labels), samples: [ProtoSample(value: 0, timestamp: 0)],
                            exemplars: [ProtoExemplar(labels: [ProtoLabel(name: "trace_id", value: "abc")], value: 0.25, timestamp: 7)]),
        ])
        #expect(encoder.uncompressedBody == reference.serialized())
    }

    @Test func exemplarsGoInTheirSeriesOrInAnExemplarOnlySeries() throws {
        let fixture = Fixture()
        let d = series(["__name__": "latency_seconds_bucket", "le": "0.5"])
        var encoder = RequestEncoder()
        let request = try decodeV1(encoder.encodeV1(
            samples: [QueuedSample(ref: fixture.a.ref, timestamp: 10, value: 2)],
            exemplars: [
                QueuedExemplar(ref: d.ref, timestamp: 9, value: 0.42, labels: Labels(["trace_id": "t1", "span_id": "s1"])),
                QueuedExemplar(ref: fixture.a.ref, timestamp: 10, value: staleMarker, labels: Labels(["trace_id": "t2"])),
            ], series: Catalog([fixture.a, fixture.b, fixture.c, d])))
        #expect(request.timeseries.count == 2)
        #expect(request.timeseries[0].samples == [ProtoSample(value: 2, timestamp: 10)])
        #expect(request.timeseries[0].exemplars == [
            ProtoExemplar(labels: [ProtoLabel(name: "trace_id", value: "t2")], value: staleMarker, timestamp: 10),
        ])
        #expect(request.timeseries[1].labels == protoLabels(d.labels))
        #expect(request.timeseries[1].samples.isEmpty)
        #expect(request.timeseries[1].exemplars == [
            ProtoExemplar(labels: [ProtoLabel(name: "span_id", value: "s1"), ProtoLabel(name: "trace_id", value: "t1")], value: 0.42, timestamp: 9),
        ])
    }

    @Test func metadataRequestCarriesEveryFamily() throws {
        var encoder = RequestEncoder()
        let entries = MetricType.allCases.map {
            MetricMetadata(family: "family_\($0.rawValue)", type: $0, help: $0 == .counter ? "" : "Help \($0).", unit: $0 == .gauge ? "bytes" : "")
        }
        let request = try decodeV1(encoder.encodeV1Metadata(entries))
        #expect(request.timeseries.isEmpty)
        #expect(request.metadata.map(\.type.rawValue) == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(request.metadata.map(\.metricFamilyName) == entries.map(\.family))
        #expect(request.metadata.map(\.help) == entries.map(\.help))
        #expect(request.metadata.map(\.unit) == entries.map(\.unit))
    }

    @Test func emptyRequestIsAnEmptyWriteRequest() throws {
        var encoder = RequestEncoder()
        #expect(try decodeV1(encoder.encodeV1(samples: [], exemplars: [], series: Catalog([]))) == WriteRequest())
    }

    @Test func requestsDoNotSeeTheScratchOfEarlierOnes() throws {
        let fixture = Fixture()
        let many = (0..<3000).map { index in
            QueuedSample(ref: series(["__name__": "m", "i": "\(index)"]).ref, timestamp: Int64(index), value: Double(index))
        }
        let small = [QueuedSample(ref: fixture.c.ref, timestamp: 3, value: 4)]
        var reused = RequestEncoder()
        let manySeries = Catalog((0..<3000).map { series(["__name__": "m", "i": "\($0)"]) })
        _ = reused.encodeV1(samples: many, exemplars: [], series: manySeries)
        _ = reused.encodeV2(samples: many, exemplars: [], series: manySeries)
        var fresh = RequestEncoder()
        let catalog = fixture.catalog
        #expect(reused.encodeV1(samples: small, exemplars: [], series: catalog) == fresh.encodeV1(samples: small, exemplars: [], series: catalog))
        #expect(reused.encodeV2(samples: small, exemplars: [], series: catalog) == fresh.encodeV2(samples: small, exemplars: [], series: catalog))
    }

    @Test func manySeriesAndRepeatsGroupCorrectly() throws {
        // More distinct series than the grouping table's first size, each sent three times.
        let all = (0..<500).map { series(["__name__": "m", "i": "\($0)"]) }
        let samples = (0..<1500).map { QueuedSample(ref: all[$0 % 500].ref, timestamp: Int64($0), value: Double($0)) }
        var encoder = RequestEncoder()
        let request = try decodeV1(encoder.encodeV1(samples: samples, exemplars: [], series: Catalog(all)))
        #expect(request.timeseries.count == 500)
        for (index, item) in request.timeseries.enumerated() {
            #expect(item.labels == protoLabels(all[index].labels))
            #expect(item.samples.map(\.timestamp) == [Int64(index), Int64(index + 500), Int64(index + 1000)])
        }
    }

    @Test func externalLabelsAreMergedInNameOrderAndTheSeriesOwnLabelWins() throws {
        let fixture = Fixture()
        let external = Labels(["aaa": "first", "cluster": "external", "zone": "last"])
        var encoder = RequestEncoder()
        encoder.buildV1(
            samples: [QueuedSample(ref: fixture.a.ref, timestamp: 1, value: 1), QueuedSample(ref: fixture.c.ref, timestamp: 2, value: 2)],
            exemplars: [QueuedExemplar(ref: fixture.c.ref, timestamp: 2, value: 0.5, labels: Labels(["trace_id": "t"]))],
            series: Catalog([fixture.a, fixture.c], merging: external))
        let reference = WriteRequest(timeseries: [
            ProtoTimeSeries(labels: protoLabels(fixture.a.labels.addingMissing(from: external)), samples: [ProtoSample(value: 1, timestamp: 1)]),
            ProtoTimeSeries(labels: protoLabels(fixture.c.labels.addingMissing(from: external)), samples: [ProtoSample(value: 2, timestamp: 2)],
                            exemplars: [ProtoExemplar(labels: [ProtoLabel(name: "trace_id", value: "t")], value: 0.5, timestamp: 2)]),
        ])
        #expect(encoder.uncompressedBody == reference.serialized())
        let request = try WriteRequest(serializedBytes: encoder.uncompressedBody)
        #expect(request.timeseries[0].labels.map(\.name) == ["__name__", "aaa", "cluster", "instance", "job", "zone"])
        #expect(request.timeseries[0].labels.first { $0.name == "cluster" }?.value == "prod", "the series' own label wins")
    }

    @Test func longLabelsKeepTheirMultiByteLengths() throws {
        // Names and values of 127, 128 and 300 bytes: varint lengths of one and two bytes, and
        // `Label` messages longer than 127 bytes.
        let long = series(["__name__": String(repeating: "n", count: 127), "v": String(repeating: "é", count: 150),
                           String(repeating: "k", count: 128): "x"])
        var encoder = RequestEncoder()
        encoder.buildV1(samples: [QueuedSample(ref: long.ref, timestamp: 5, value: 5)], exemplars: [],
                        series: Catalog([long], merging: Labels(["w": String(repeating: "z", count: 300)])))
        let reference = WriteRequest(timeseries: [
            ProtoTimeSeries(labels: protoLabels(long.labels.addingMissing(from: Labels(["w": String(repeating: "z", count: 300)]))),
                            samples: [ProtoSample(value: 5, timestamp: 5)]),
        ])
        #expect(encoder.uncompressedBody == reference.serialized())
    }

    @Test func samplesOfSeriesTheSourceDoesNotKnowAreLeftOutAndCounted() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV1(encoder.encodeV1(samples: fixture.samples, exemplars: [
            QueuedExemplar(ref: fixture.b.ref, timestamp: 1, value: 1, labels: Labels(["trace_id": "x"])),
        ], series: Catalog([fixture.a, fixture.c])))
        #expect(request.timeseries.map(\.labels) == [fixture.a, fixture.c].map { protoLabels($0.labels) })
        #expect(encoder.unknown.samples == 2 && encoder.unknown.exemplars == 1)
        _ = encoder.encodeV2(samples: fixture.samples, exemplars: [], series: Catalog([fixture.b]))
        #expect(encoder.unknown.samples == 3 && encoder.unknown.exemplars == 0)
    }
}

@Suite struct RequestEncoderV2Tests {
    @Test func symbolTableStartsWithTheEmptyStringAndHoldsEachStringOnce() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(samples: fixture.samples, exemplars: [
            QueuedExemplar(ref: fixture.a.ref, timestamp: 1, value: 1, labels: Labels(["trace_id": "api"])),
        ], series: fixture.catalog))
        #expect(request.symbols.first == "")
        #expect(Set(request.symbols).count == request.symbols.count)
        var expected: Set<String> = ["", "trace_id", "Requests served.", "celsius"]
        for item in [fixture.a, fixture.b, fixture.c] {
            for label in item.labels.pairs { expected.insert(label.name); expected.insert(label.value) }
        }
        #expect(Set(request.symbols) == expected)
    }

    @Test func labelsRefsResolveToTheExactLabelSets() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(samples: fixture.samples, exemplars: [], series: fixture.catalog))
        #expect(request.timeseries.map { request.labels($0.labelsRefs) } == [fixture.a, fixture.b, fixture.c].map { protoLabels($0.labels) })
    }

    @Test func samplesAreGroupedWithTimestampsAndExactBits() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(samples: fixture.samples, exemplars: [], series: fixture.catalog))
        #expect(request.timeseries.map { $0.samples.map(\.timestamp) } == [
            [1_700_000_000_000, 1_700_000_015_000], [1_700_000_000_001, -5], [0],
        ])
        #expect(request.timeseries.map { $0.samples.map(\.value.bitPattern) } == [
            [(1.0 as Double).bitPattern, 0x7ff0_0000_0000_0002], [(-0.0 as Double).bitPattern, Double.nan.bitPattern], [0],
        ])
    }

    @Test func exemplarLabelRefsResolve() throws {
        let fixture = Fixture()
        let d = series(["__name__": "latency_seconds_bucket", "le": "0.5"])
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(
            samples: [QueuedSample(ref: fixture.a.ref, timestamp: 10, value: 2)],
            exemplars: [
                QueuedExemplar(ref: d.ref, timestamp: 9, value: -0.0, labels: Labels(["trace_id": "t1", "span_id": "s1"])),
                QueuedExemplar(ref: fixture.a.ref, timestamp: 10, value: staleMarker, labels: Labels(["job": "api"])),
            ], series: Catalog([fixture.a, fixture.b, fixture.c, d])))
        #expect(request.timeseries.count == 2)
        let own = request.timeseries[0].exemplars
        #expect(own.count == 1)
        #expect(request.labels(own[0].labelsRefs) == [ProtoLabel(name: "job", value: "api")])
        #expect(own[0].value.bitPattern == 0x7ff0_0000_0000_0002 && own[0].timestamp == 10)
        let exemplarOnly = request.timeseries[1]
        #expect(request.labels(exemplarOnly.labelsRefs) == protoLabels(d.labels))
        #expect(exemplarOnly.samples.isEmpty)
        #expect(request.labels(exemplarOnly.exemplars[0].labelsRefs) == [
            ProtoLabel(name: "span_id", value: "s1"), ProtoLabel(name: "trace_id", value: "t1"),
        ])
        #expect(exemplarOnly.exemplars[0].value.bitPattern == (-0.0 as Double).bitPattern)
        #expect(exemplarOnly.exemplars[0].timestamp == 9)
    }

    @Test func metadataHasTypeAndHelpAndUnitRefsWithZeroForEmpty() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(samples: fixture.samples, exemplars: [], series: fixture.catalog))
        let a = try #require(request.timeseries[0].metadata)
        #expect(a.type == .counter)
        #expect(request.symbol(a.helpRef) == "Requests served.")
        #expect(a.unitRef == 0, "empty unit")
        let b = try #require(request.timeseries[1].metadata)
        #expect(b.type == .gauge)
        #expect(b.helpRef == 0, "empty help")
        #expect(request.symbol(b.unitRef) == "celsius")
        #expect(request.timeseries[2].metadata == nil, "no metadata known")
    }

    @Test func everyMetricTypeKeepsItsNumber() throws {
        let all = MetricType.allCases.map {
            series(["__name__": "m_\($0.rawValue)"], metadata: MetricMetadata(family: "m_\($0.rawValue)", type: $0, help: "h", unit: "u"))
        }
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(samples: all.map { QueuedSample(ref: $0.ref, timestamp: 1, value: 1) }, exemplars: [], series: Catalog(all)))
        #expect(request.timeseries.map { $0.metadata?.type.rawValue } == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(request.timeseries.allSatisfy { request.symbol($0.metadata!.helpRef) == "h" && request.symbol($0.metadata!.unitRef) == "u" })
    }

    @Test func bytesAreWhatLibprotobufCPacksForTheDecodedRequest() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        encoder.buildV2(samples: fixture.samples, exemplars: [
            QueuedExemplar(ref: fixture.c.ref, timestamp: 7, value: 0.25, labels: Labels(["trace_id": "abc"])),
            QueuedExemplar(ref: fixture.b.ref, timestamp: 0, value: 0, labels: Labels([])),
        ], series: fixture.catalog)
        let bytes = encoder.uncompressedBody
        #expect(try WriteRequestV2(serializedBytes: bytes).serialized() == bytes)
    }

    @Test func symbolTableGrowsPastItsFirstSize() throws {
        // 2 × 2000 distinct values plus the names: more symbols than the table's 1024 first slots.
        let all = (0..<2000).map { series(["__name__": "m_\($0)", "i": "value \($0)", "j": "\($0 % 3)"]) }
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(samples: all.map { QueuedSample(ref: $0.ref, timestamp: 1, value: 1) }, exemplars: [], series: Catalog(all)))
        #expect(request.symbols.count == 1 + 3 + 2 * 2000 + 3)
        #expect(Set(request.symbols).count == request.symbols.count)
        #expect(request.timeseries.map { request.labels($0.labelsRefs) } == all.map { protoLabels($0.labels) })
    }

    @Test func nearlyEqualStringsStayDistinctSymbols() throws {
        // Lengths 1 to 9 and 16 to 17, pairs differing in one byte (first, middle or last), so
        // that the short-string cache and the word-wise comparison are both exercised.
        let values = ["a", "b", "ab", "ac", "abc", "abd", "abcd", "abce", "abcdefg", "abcdXfg", "abcdefgh", "abcdefgX",
                      "Xbcdefgh", "abcdefghi", "abcdefghj", "abcdefghijklmnop", "abcdefghijklmnoq", "abcdefghijklmnopq"]
        let all = values.map { series(["__name__": "m", "v": $0]) }
        var encoder = RequestEncoder()
        for _ in 0..<2 {  // the second request finds the strings cached from the first one stale
            let request = try decodeV2(encoder.encodeV2(samples: all.map { QueuedSample(ref: $0.ref, timestamp: 1, value: 1) }, exemplars: [], series: Catalog(all)))
            #expect(request.symbols == ["", "__name__", "m", "v", "a", "b"] + values.dropFirst(2))
            #expect(request.timeseries.map { request.labels($0.labelsRefs)?.last?.value } == values)
        }
    }

    @Test func eachRequestHasItsOwnSymbolTable() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        _ = encoder.encodeV2(samples: fixture.samples, exemplars: [], series: fixture.catalog)
        let second = try decodeV2(encoder.encodeV2(samples: [QueuedSample(ref: fixture.c.ref, timestamp: 1, value: 1)], exemplars: [], series: fixture.catalog))
        #expect(second.symbols == ["", "__name__", "up", "instance", "10.0.0.1:80", "job", "api"])
    }

    @Test func externalLabelsAreMergedIntoTheLabelRefs() throws {
        let fixture = Fixture()
        let external = Labels(["cluster": "external", "region": "eu"])
        var encoder = RequestEncoder()
        let request = try decodeV2(encoder.encodeV2(
            samples: fixture.samples, exemplars: [], series: Catalog([fixture.a, fixture.b, fixture.c], merging: external)))
        #expect(request.timeseries.map { request.labels($0.labelsRefs) } == [fixture.a, fixture.b, fixture.c].map {
            protoLabels($0.labels.addingMissing(from: external))
        })
        #expect(Set(request.symbols).count == request.symbols.count)
    }

    @Test func aReaderWrittenFromTheSpecFieldNumbersReadsIt() throws {
        let fixture = Fixture()
        var encoder = RequestEncoder()
        let body = try Snappy.decompress(encoder.encodeV2(samples: fixture.samples, exemplars: [
            QueuedExemplar(ref: fixture.a.ref, timestamp: 3, value: 0.5, labels: Labels(["trace_id": "abc"])),
        ], series: fixture.catalog))
        let request = try SpecReader.request(body)
        #expect(request.symbols.first == "")
        func resolve(_ refs: [UInt64]) -> [String] { refs.map { request.symbols[Int($0)] } }
        #expect(request.series.map { resolve($0.labelsRefs) } == [fixture.a, fixture.b, fixture.c].map { set in
            set.labels.pairs.flatMap { [$0.name, $0.value] }
        })
        #expect(request.series[0].samples.map(\.timestamp) == [1_700_000_000_000, 1_700_000_015_000])
        #expect(request.series[0].samples.map(\.valueBits) == [(1.0 as Double).bitPattern, 0x7ff0_0000_0000_0002])
        #expect(request.series[1].samples.map(\.valueBits) == [(-0.0 as Double).bitPattern, Double.nan.bitPattern])
        #expect(request.series[2].samples.map(\.valueBits) == [0], "+0 omitted on the wire reads as 0")
        #expect(request.series[0].exemplars.map { resolve($0.labelsRefs) } == [["trace_id", "abc"]])
        #expect(request.series[0].exemplars.map(\.valueBits) == [(0.5 as Double).bitPattern])
        let counter = try #require(request.series[0].metadata)
        #expect(counter.type == 1 && request.symbols[Int(counter.helpRef)] == "Requests served." && counter.unitRef == 0)
        #expect(request.series[1].metadata.map { request.symbols[Int($0.unitRef)] } == "celsius")
        #expect(request.series[2].metadata == nil)
    }
}

/// A minimal protobuf reader for `io.prometheus.write.v2.Request`, written from the field
/// numbers of the Remote Write 2.0 specification (not from our .proto), so that a mistake in
/// both our schema and our encoder cannot hide.
private enum SpecReader {
    struct Sample { var valueBits: UInt64 = 0; var timestamp: Int64 = 0 }
    struct Exemplar { var labelsRefs: [UInt64] = []; var valueBits: UInt64 = 0; var timestamp: Int64 = 0 }
    struct Metadata: Equatable { var type: UInt64 = 0; var helpRef: UInt64 = 0; var unitRef: UInt64 = 0 }
    struct Series { var labelsRefs: [UInt64] = []; var samples: [Sample] = []; var exemplars: [Exemplar] = []; var metadata: Metadata? }
    struct Request { var symbols: [String] = []; var series: [Series] = [] }
    struct Malformed: Error {}

    enum Value { case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>) }

    /// Calls `body` with each field's number and value.
    static func fields(_ bytes: ArraySlice<UInt8>, _ body: (UInt64, Value) throws -> Void) throws {
        var index = bytes.startIndex
        func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex, shift < 64 else { throw Malformed() }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let key = try varint()
            switch key & 7 {
            case 0: try body(key >> 3, .varint(varint()))
            case 1:
                guard bytes.endIndex - index >= 8 else { throw Malformed() }
                var bits: UInt64 = 0
                for offset in 0..<8 { bits |= UInt64(bytes[index + offset]) << (8 * UInt64(offset)) }
                index += 8
                try body(key >> 3, .fixed64(bits))
            case 2:
                let length = Int(try varint())
                guard bytes.endIndex - index >= length else { throw Malformed() }
                try body(key >> 3, .bytes(bytes[index..<(index + length)]))
                index += length
            default: throw Malformed()
            }
        }
    }

    static func packed(_ bytes: ArraySlice<UInt8>) throws -> [UInt64] {
        var values: [UInt64] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex else { throw Malformed() }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            values.append(result)
        }
        return values
    }

    static func request(_ bytes: [UInt8]) throws -> Request {
        var request = Request()
        try fields(bytes[...]) { number, value in
            switch (number, value) {
            case (4, .bytes(let text)): request.symbols.append(String(decoding: text, as: UTF8.self))
            case (5, .bytes(let message)): request.series.append(try series(message))
            default: throw Malformed()
            }
        }
        return request
    }

    static func series(_ bytes: ArraySlice<UInt8>) throws -> Series {
        var series = Series()
        try fields(bytes) { number, value in
            switch (number, value) {
            case (1, .bytes(let refs)): series.labelsRefs += try packed(refs)
            case (2, .bytes(let message)):
                var sample = Sample()
                try fields(message) { number, value in
                    switch (number, value) {
                    case (1, .fixed64(let bits)): sample.valueBits = bits
                    case (2, .varint(let raw)): sample.timestamp = Int64(bitPattern: raw)
                    default: throw Malformed()
                    }
                }
                series.samples.append(sample)
            case (4, .bytes(let message)):
                var exemplar = Exemplar()
                try fields(message) { number, value in
                    switch (number, value) {
                    case (1, .bytes(let refs)): exemplar.labelsRefs += try packed(refs)
                    case (2, .fixed64(let bits)): exemplar.valueBits = bits
                    case (3, .varint(let raw)): exemplar.timestamp = Int64(bitPattern: raw)
                    default: throw Malformed()
                    }
                }
                series.exemplars.append(exemplar)
            case (5, .bytes(let message)):
                var metadata = Metadata()
                try fields(message) { number, value in
                    switch (number, value) {
                    case (1, .varint(let type)): metadata.type = type
                    case (3, .varint(let ref)): metadata.helpRef = ref
                    case (4, .varint(let ref)): metadata.unitRef = ref
                    default: throw Malformed()
                    }
                }
                series.metadata = metadata
            default: throw Malformed()
            }
        }
        return series
    }
}
