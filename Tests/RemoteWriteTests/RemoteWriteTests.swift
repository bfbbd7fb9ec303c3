import Curl
import PrometheusProto
import Relabel
import Snappy
import Testing
import WAL

@testable import RemoteWrite

@Suite struct ResponseClassificationTests {
    func response(_ status: Int, headers: [(name: String, value: String)] = [], body: String = "") -> HTTPResponse {
        var response = HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
        response.status = status
        return response
    }

    @Test(arguments: [200, 204, 299])
    func successIsAccepted(status: Int) {
        #expect(RemoteEndpoint.classify(response(status)) == .accepted)
    }

    @Test(arguments: [500, 502, 503, 599, 429])
    func serverErrorsAndTooManyRequestsAreRetried(status: Int) {
        guard case .retry = RemoteEndpoint.classify(response(status)) else {
            Issue.record("\(status) not retried")
            return
        }
    }

    @Test(arguments: [400, 401, 403, 404, 413, 415])
    func otherClientErrorsDropTheBatch(status: Int) {
        #expect(RemoteEndpoint.classify(response(status, body: "out of order sample\n")) == .rejected(status: status, message: "out of order sample"))
    }

    @Test func retryAfterSecondsIsHonoured() {
        #expect(RemoteEndpoint.classify(response(429, headers: [("retry-after", "7")])) == .retry(reason: "server returned HTTP status 429: ", after: .seconds(7)))
    }

    @Test func longReceiverMessagesAreTruncated() {
        let message = RemoteEndpoint.message(of: response(400, body: String(repeating: "x", count: 2000)))
        #expect(message.count == RemoteEndpoint.maxLoggedResponse + 1)
        #expect(message.hasSuffix("…"))
    }
}

@Suite struct RequestEncoderTests {
    @Test func writeRelabelingSeesExternalLabelsAndCanDropSeries() throws {
        var encoder = RequestEncoder(
            externalLabels: Labels(["cluster": "prod"]),
            writeRelabelConfigs: [
                try RelabelConfig(sourceLabels: ["__name__"], regex: "expensive_.*", action: .drop),
                try RelabelConfig(sourceLabels: ["cluster"], targetLabel: "region", replacement: "eu-$1"),
            ])
        encoder.addSeries(SeriesRecord(ref: 1, labels: Labels(["__name__": "expensive_total"])))
        encoder.addSeries(SeriesRecord(ref: 2, labels: Labels(["__name__": "cheap_total"])))
        #expect(encoder.isDropped(1) && !encoder.knows(1))
        let request = try WriteRequest(serializedBytes: Snappy.decompress(encoder.encode([
            SampleRecord(ref: 1, timestamp: 1, value: 1), SampleRecord(ref: 2, timestamp: 1, value: 2),
        ])))
        #expect(request.timeseries.count == 1)
        #expect(request.timeseries[0].labels.map(\.name) == ["__name__", "cluster", "region"])
        #expect(request.timeseries[0].labels.last?.value == "eu-prod")
    }

    @Test func groupsSamplesPerSeriesWithExternalLabelsSorted() throws {
        var encoder = RequestEncoder(externalLabels: Labels(["cluster": "prod", "job": "ignored-external"]))
        encoder.addSeries(SeriesRecord(ref: 1, labels: Labels(["__name__": "up", "job": "node", "instance": "a:1"])))
        encoder.addSeries(SeriesRecord(ref: 2, labels: Labels(["__name__": "up", "job": "node", "instance": "b:1"])))
        let body = encoder.encode([
            SampleRecord(ref: 1, timestamp: 1000, value: 1),
            SampleRecord(ref: 2, timestamp: 1000, value: 0),
            SampleRecord(ref: 1, timestamp: 2000, value: 1),
            SampleRecord(ref: 99, timestamp: 2000, value: 5),
        ])
        let request = try WriteRequest(serializedBytes: Snappy.decompress(body))
        #expect(request.timeseries.count == 2)
        let first = request.timeseries[0]
        #expect(first.labels.map(\.name) == ["__name__", "cluster", "instance", "job"])
        #expect(first.labels.first { $0.name == "job" }?.value == "node", "a series' own label wins over an external one")
        #expect(first.samples == [ProtoSample(value: 1, timestamp: 1000), ProtoSample(value: 1, timestamp: 2000)])
        #expect(request.timeseries[1].samples == [ProtoSample(value: 0, timestamp: 1000)])
    }
}
