import Model
import Testing
import PrometheusProto

@Suite struct WriteRequestTests {
    static let staleMarker = Double(bitPattern: 0x7ff0_0000_0000_0002)

    @Test func emptyRequest() throws {
        let bytes = WriteRequest().serialized()
        #expect(bytes.isEmpty)
        #expect(try WriteRequest(serializedBytes: []) == WriteRequest())
    }

    @Test func tinyRequestMatchesHandComputedBytes() throws {
        let request = WriteRequest(timeseries: [
            ProtoTimeSeries(labels: [ProtoLabel(name: "a", value: "b")], samples: [ProtoSample(value: 1.0, timestamp: 2)]),
        ])
        let expected: [UInt8] = [
            0x0A, 0x15,                          // WriteRequest.timeseries (1, LEN), 21 bytes
            0x0A, 0x06,                          //   TimeSeries.labels (1, LEN), 6 bytes
            0x0A, 0x01, 0x61,                    //     Label.name (1, LEN) "a"
            0x12, 0x01, 0x62,                    //     Label.value (2, LEN) "b"
            0x12, 0x0B,                          //   TimeSeries.samples (2, LEN), 11 bytes
            0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,  //     Sample.value (1, I64) 1.0
            0x10, 0x02,                          //     Sample.timestamp (2, VARINT) 2
        ]
        #expect(request.serialized() == expected)
        #expect(try WriteRequest(serializedBytes: expected) == request)
    }

    @Test func negativeZeroIsWrittenAndPositiveZeroOmitted() throws {
        func sampleBytes(_ value: Double) -> [UInt8] {
            WriteRequest(timeseries: [ProtoTimeSeries(labels: [ProtoLabel(name: "a", value: "b")], samples: [ProtoSample(value: value, timestamp: 2)])])
                .serialized().suffix(from: 12).map { $0 }
        }
        #expect(sampleBytes(0.0) == [0x10, 0x02], "+0 is proto3's default: omitted, as Go does")
        #expect(sampleBytes(-0.0) == [0x09, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x10, 0x02], "-0 keeps its sign bit")
        let decoded = try WriteRequest(serializedBytes: WriteRequest(timeseries: [
            ProtoTimeSeries(labels: [ProtoLabel(name: "a", value: "b")], samples: [ProtoSample(value: -0.0, timestamp: 2)]),
        ]).serialized())
        #expect(decoded.timeseries[0].samples[0].value.bitPattern == (-0.0 as Double).bitPattern)
    }

    @Test func metadataMatchesHandComputedBytes() throws {
        let request = WriteRequest(metadata: [
            ProtoMetricMetadata(type: .counter, metricFamilyName: "m", help: "h", unit: "u"),
        ])
        let expected: [UInt8] = [
            0x1A, 0x0B,        // WriteRequest.metadata (3, LEN), 11 bytes
            0x08, 0x01,        //   type (1, VARINT) COUNTER
            0x12, 0x01, 0x6D,  //   metric_family_name (2, LEN) "m"
            0x22, 0x01, 0x68,  //   help (4, LEN) "h"
            0x2A, 0x01, 0x75,  //   unit (5, LEN) "u"
        ]
        #expect(request.serialized() == expected)
        #expect(try WriteRequest(serializedBytes: expected) == request)
    }

    @Test func roundTrip() throws {
        var series: [ProtoTimeSeries] = []
        for index in 0..<200 {
            series.append(ProtoTimeSeries(
                labels: [
                    ProtoLabel(name: "__name__", value: "http_requests_total"),
                    ProtoLabel(name: "code", value: index.isMultiple(of: 2) ? "200" : "500"),
                    ProtoLabel(name: "empty", value: ""),
                    ProtoLabel(name: "instance", value: "host-\(index):9100 ✓ ünïcødé"),
                ],
                samples: [
                    ProtoSample(value: Double(index) * 0.5, timestamp: 1_700_000_000_000 + Int64(index)),
                    ProtoSample(value: -.infinity, timestamp: -1),
                    ProtoSample(value: 0, timestamp: 0),
                    ProtoSample(value: .greatestFiniteMagnitude, timestamp: .max),
                ],
                exemplars: index == 0 ? [ProtoExemplar(labels: [ProtoLabel(name: "trace_id", value: "abc")], value: 3, timestamp: 4)] : []))
        }
        let request = WriteRequest(timeseries: series, metadata: ProtoMetricMetadata.MetricType.allCases.map {
            ProtoMetricMetadata(type: $0, metricFamilyName: "family_\($0.rawValue)", help: "Help text.", unit: "seconds")
        })
        let bytes = request.serialized()
        let decoded = try WriteRequest(serializedBytes: bytes)
        #expect(decoded == request)
        #expect(decoded.serialized() == bytes)
    }

    @Test func staleMarkerBitsPreserved() throws {
        let request = WriteRequest(timeseries: [
            ProtoTimeSeries(labels: [ProtoLabel(name: "__name__", value: "up")], samples: [
                ProtoSample(value: Self.staleMarker, timestamp: 10),
                ProtoSample(value: .nan, timestamp: 11),
            ]),
        ])
        let bytes = request.serialized()
        // The stale marker's eight little-endian bytes appear verbatim on the wire.
        let staleBytes: [UInt8] = [0x09, 0x02, 0, 0, 0, 0, 0, 0xF0, 0x7F]
        #expect(bytes.indices.contains { bytes[$0...].starts(with: staleBytes) })
        let decoded = try WriteRequest(serializedBytes: bytes)
        #expect(decoded.timeseries[0].samples[0].value.bitPattern == 0x7ff0_0000_0000_0002)
        #expect(decoded.timeseries[0].samples[1].value.bitPattern == Double.nan.bitPattern)
    }

    @Test func unknownFieldsAreSkipped() throws {
        // Field 2 of WriteRequest is reserved; a sender that used it must still parse.
        let bytes: [UInt8] = [0x12, 0x03, 0x61, 0x62, 0x63]
        #expect(try WriteRequest(serializedBytes: bytes) == WriteRequest())
    }

    @Test(arguments: [
        [0x0A, 0x05, 0x0A] as [UInt8],  // length past the end
        [0xFF],                         // truncated varint tag
        [0x0A, 0x02, 0x0A, 0x09],       // nested label length past the end
        [0x0B],                         // start-group wire type
    ])
    func malformedInputThrows(bytes: [UInt8]) {
        #expect(throws: ProtoDecodingError.self) { try WriteRequest(serializedBytes: bytes) }
    }
}
