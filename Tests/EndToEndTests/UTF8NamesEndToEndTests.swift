import Foundation
import PrometheusProto
import Snappy
import Testing

/// UTF-8 metric and label names from a target to the receivers, unchanged: quoted names in the
/// text format and OpenMetrics, scraped under Prometheus 3's default UTF-8 validation, sent by
/// Remote Write 1.0 to Debian's Prometheus and by Remote Write 2.0 to an in-process receiver that
/// decodes every request. A job with legacy validation fails its scrapes of the same target.
@Suite("UTF-8 names end to end", .serialized)
struct UTF8NamesEndToEndTests {
    /// The series of the fixtures `utf8-names.prom` and `utf8-names.om`, without job and instance.
    static let exposed: [[String: String]] = [
        ["__name__": "http.server.request.duration", "http.request.method": "GET", "url.scheme": "https"],
        ["__name__": "http.server.request.duration", "http.request.method": "POST", "url.scheme": "https"],
        ["__name__": "température_°C", "pièce": "salon"],
        ["__name__": "plain_metric", "service.name": "checkout", "k8s.pod.uid": "8c2f"],
    ]

    @Test("quoted names reach Prometheus (RW 1.0) and a RW 2.0 receiver byte for byte; legacy validation fails the scrape")
    func utf8NamesArriveUnchanged() async throws {
        let directory = try Paths.temporaryDirectory("e2e-utf8")
        defer { Paths.removeUnlessKept(directory) }
        let hub = try PrometheusHub(directory: directory)
        try await hub.start()
        defer { Task { await hub.stop() } }
        let requests = Locked<[ReceivedRequest]>([])
        let v2Receiver = try await TestHTTPServer { request in
            requests.withLock { $0.append(request) }
            return CannedResponse(status: 204)
        }
        let target = try await FixtureTarget(text: "utf8-names.prom", openMetrics: "utf8-names.om")
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: text
                metrics_path: /text
                static_configs: [{targets: ["\(target.server.address)"]}]
              - job_name: openmetrics
                metrics_path: /openmetrics
                static_configs: [{targets: ["\(target.server.address)"]}]
              - job_name: legacy
                metric_name_validation_scheme: legacy
                metrics_path: /text
                static_configs: [{targets: ["\(target.server.address)"]}]
            remote_write:
              - url: \(hub.writeURL)
                queue_config: {batch_send_deadline: 1s}
              - url: http://\(v2Receiver.address)/api/v1/write
                protobuf_message: io.prometheus.write.v2.Request
                queue_config: {batch_send_deadline: 1s}
            """)
        // Prometheus 2.42's PromQL has no quoted selectors (`{"http.server.request.duration"}`,
        // Prometheus 3): `__name__` matchers select the same series.
        func hubSeries() async throws -> [[String: String]] {
            var all: [[String: String]] = []
            for name in ["http.server.request.duration", "température_°C", "plain_metric"] {
                all += try await hub.series(match: #"{__name__="\#(name)"}"#)
            }
            return all
        }
        let arrived = try await eventually(timeout: .seconds(30)) {
            let up = try await hub.vector(#"up{job="legacy"}"#)
            return try await hubSeries().count == 2 * Self.exposed.count && !up.isEmpty
        }
        let status = await agent.stop()
        try await target.server.stop()
        try await v2Receiver.stop()
        #expect(arrived, "agent log:\n\(agent.logTail())")
        #expect(status == 0)

        let instance = target.server.address
        let expected = Set(["text", "openmetrics"].flatMap { job in
            Self.exposed.map { $0.merging(["job": job, "instance": instance]) { a, _ in a } }
        })
        #expect(Set(try await hubSeries()) == expected)
        // The legacy job's scrapes fail on the first UTF-8 name: `up` 0, nothing of its series.
        #expect(try await hub.vector(#"up{job="legacy"}"#).map(\.value).allSatisfy { $0 == 0 })
        #expect(try await hub.series(match: #"{job="legacy",__name__!="up",__name__!~"scrape_.*"}"#).isEmpty)
        #expect(agent.log.contains("invalid metric name or label names"), "\(agent.logTail())")

        // Remote Write 2.0: the same label sets, their names in the symbol table as exposed.
        var v2Series = Set<[String: String]>()
        for request in requests.value {
            #expect(request.header("Content-Type") == "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            let message = try WriteRequestV2(serializedBytes: Snappy.decompress(request.body))
            for series in message.timeseries {
                let labels = try #require(message.labels(series.labelsRefs))
                v2Series.insert(Dictionary(uniqueKeysWithValues: labels.map { ($0.name, $0.value) }))
            }
        }
        #expect(expected.isSubset(of: v2Series), "missing: \(expected.subtracting(v2Series))")
    }
}
