import Model
import Testing
import PrometheusProto

@Suite struct WriteRequestV2Tests {
    static let staleMarker = Double(bitPattern: 0x7ff0_0000_0000_0002)

    @Test func emptyRequestIsJustTheEmptySymbol() throws {
        let bytes = WriteRequestV2().serialized()
        #expect(bytes == [0x22, 0x00], "symbols (4, LEN) with the empty string")
        #expect(try WriteRequestV2(serializedBytes: bytes) == WriteRequestV2())
    }

    @Test func tinyRequestMatchesHandComputedBytes() throws {
        let request = WriteRequestV2(symbols: ["", "a", "b", "h"], timeseries: [
            ProtoTimeSeriesV2(
                labelsRefs: [1, 2], samples: [ProtoSample(value: 1.0, timestamp: 2)],
                metadata: ProtoMetadataV2(type: .counter, helpRef: 3)),
        ])
        let expected: [UInt8] = [
            0x22, 0x00,                          // Request.symbols (4, LEN) ""
            0x22, 0x01, 0x61,                    // "a"
            0x22, 0x01, 0x62,                    // "b"
            0x22, 0x01, 0x68,                    // "h"
            0x2A, 0x17,                          // Request.timeseries (5, LEN), 23 bytes
            0x0A, 0x02, 0x01, 0x02,              //   labels_refs (1, LEN, packed) [1, 2]
            0x12, 0x0B,                          //   samples (2, LEN), 11 bytes
            0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,  //     value (1, I64) 1.0
            0x10, 0x02,                          //     timestamp (2, VARINT) 2
            0x2A, 0x04,                          //   metadata (5, LEN), 4 bytes
            0x08, 0x01,                          //     type (1, VARINT) COUNTER
            0x18, 0x03,                          //     help_ref (3, VARINT) 3; unit_ref 0 omitted
        ]
        #expect(request.serialized() == expected)
        #expect(try WriteRequestV2(serializedBytes: expected) == request)
    }

    @Test func exemplarMatchesHandComputedBytes() throws {
        let request = WriteRequestV2(symbols: ["", "trace_id", "abc"], timeseries: [
            ProtoTimeSeriesV2(labelsRefs: [], samples: [], exemplars: [ProtoExemplarV2(labelsRefs: [1, 2], value: -0.0, timestamp: 5)]),
        ])
        let expected: [UInt8] = [
            0x22, 0x00, 0x22, 0x08] + Array("trace_id".utf8) + [0x22, 0x03] + Array("abc".utf8) + [
            0x2A, 0x11,                          // Request.timeseries (5, LEN), 17 bytes
            0x22, 0x0F,                          //   exemplars (4, LEN), 15 bytes
            0x0A, 0x02, 0x01, 0x02,              //     labels_refs (1, LEN, packed) [1, 2]
            0x11, 0, 0, 0, 0, 0, 0, 0, 0x80,     //     value (2, I64) -0.0
            0x18, 0x05,                          //     timestamp (3, VARINT) 5
        ]
        #expect(request.serialized() == expected)
        let decoded = try WriteRequestV2(serializedBytes: expected)
        #expect(decoded == request)
        #expect(decoded.timeseries[0].exemplars[0].value.bitPattern == (-0.0 as Double).bitPattern)
    }

    @Test func sampleValuesKeepTheirBitsAndPositiveZeroIsOmitted() throws {
        let values: [Double] = [-0.0, Self.staleMarker, .nan, -.infinity, .greatestFiniteMagnitude, 0.0]
        let request = WriteRequestV2(symbols: ["", "__name__", "up"], timeseries: [
            ProtoTimeSeriesV2(labelsRefs: [1, 2], samples: values.enumerated().map { ProtoSample(value: $1, timestamp: Int64($0)) }),
        ])
        let bytes = request.serialized()
        let decoded = try WriteRequestV2(serializedBytes: bytes)
        #expect(decoded.timeseries[0].samples.map(\.value.bitPattern) == values.map(\.bitPattern))
        // The last sample (+0 at timestamp 5) is only its timestamp: 12 02 10 05.
        #expect(Array(bytes.suffix(4)) == [0x12, 0x02, 0x10, 0x05])
    }

    @Test func labelsResolveThroughTheSymbolTable() {
        let request = WriteRequestV2(symbols: ["", "__name__", "up", "job"], timeseries: [])
        #expect(request.labels([1, 2, 3, 0]) == [ProtoLabel(name: "__name__", value: "up"), ProtoLabel(name: "job", value: "")])
        #expect(request.labels([1]) == nil, "odd length")
        #expect(request.labels([1, 4]) == nil, "ref past the table")
        #expect(request.labels([]) == [])
    }

    @Test func oneDotZeroRequestReadAsTwoDotZeroIsEmpty() throws {
        // Fields 1 to 3 are reserved in 2.0, so a 1.0 body decodes as an empty 2.0 request.
        let v1 = WriteRequest(
            timeseries: [ProtoTimeSeries(labels: [ProtoLabel(name: "a", value: "b")], samples: [ProtoSample(value: 1, timestamp: 2)])],
            metadata: [ProtoMetricMetadata(type: .gauge, metricFamilyName: "a")])
        #expect(try WriteRequestV2(serializedBytes: v1.serialized()) == WriteRequestV2(symbols: [], timeseries: []))
    }

    @Test func roundTripOfEveryField() throws {
        var symbols = [""]
        var series: [ProtoTimeSeriesV2] = []
        for index in 0..<300 {
            symbols.append("value-\(index) ✓")
            series.append(ProtoTimeSeriesV2(
                labelsRefs: [UInt32(index + 1), UInt32(index + 1)],
                samples: [ProtoSample(value: Double(index), timestamp: -1), ProtoSample(value: 1, timestamp: .max)],
                exemplars: index.isMultiple(of: 7) ? [ProtoExemplarV2(labelsRefs: [], value: 3, timestamp: 0)] : [],
                metadata: index.isMultiple(of: 2) ? nil : ProtoMetadataV2(
                    type: ProtoMetricMetadata.MetricType.allCases[index % 8], helpRef: UInt32(index), unitRef: 300)))
        }
        let request = WriteRequestV2(symbols: symbols, timeseries: series)
        let bytes = request.serialized()
        let decoded = try WriteRequestV2(serializedBytes: bytes)
        #expect(decoded == request)
        #expect(decoded.serialized() == bytes)
    }

    @Test(arguments: [
        [0x2A, 0x05, 0x0A] as [UInt8],  // series length past the end
        [0x22, 0x03, 0x61],             // symbol length past the end
        [0x2A, 0x02, 0x0A, 0x09],       // packed refs length past the end
        [0x0B],                         // start-group wire type
    ])
    func malformedInputThrows(bytes: [UInt8]) {
        #expect(throws: ProtoDecodingError(byteCount: bytes.count, message: "io.prometheus.write.v2.Request")) {
            try WriteRequestV2(serializedBytes: bytes)
        }
    }
}

@Suite struct EncodedLabelFieldsTests {
    @Test func matchHandComputedBytes() {
        let bytes = ProtoLabel.encodedFields([ProtoLabel(name: "a", value: "b"), ProtoLabel(name: "cd", value: "e")])
        #expect(bytes == [
            0x0A, 0x06, 0x0A, 0x01, 0x61, 0x12, 0x01, 0x62,              // labels (1, LEN) {name "a", value "b"}
            0x0A, 0x07, 0x0A, 0x02, 0x63, 0x64, 0x12, 0x01, 0x65,        // labels (1, LEN) {name "cd", value "e"}
        ])
        #expect(ProtoLabel.encodedFields([]) == [])
    }

    @Test func areTheLabelsPartOfAPackedTimeSeries() throws {
        let labels = [ProtoLabel(name: "__name__", value: "http_requests_total"), ProtoLabel(name: "path", value: "/ünï")]
        let fields = ProtoLabel.encodedFields(labels)
        // WriteRequest { timeseries (1, LEN) { labels…, samples… } }: the labels come first.
        let request = WriteRequest(timeseries: [ProtoTimeSeries(labels: labels, samples: [ProtoSample(value: 1, timestamp: 1)])])
        let bytes = request.serialized()
        #expect(Array(bytes[2..<(2 + fields.count)]) == fields)
        // And they decode as an exemplar's labels (field 1 of Exemplar too).
        let exemplarBody = fields + [0x18, 0x07]  // + timestamp (3, VARINT) 7
        let series: [UInt8] = [0x1A, UInt8(exemplarBody.count)] + exemplarBody  // TimeSeries.exemplars (3, LEN)
        let decoded = try WriteRequest(serializedBytes: [0x0A, UInt8(series.count)] + series)
        #expect(decoded.timeseries[0].exemplars == [ProtoExemplar(labels: labels, value: 0, timestamp: 7)])
    }
}
