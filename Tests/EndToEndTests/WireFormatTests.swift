import Foundation
import PrometheusProto
import Snappy
import Synchronization
import Testing

/// The agent against an in-process receiver that decodes every request, to check what goes over
/// the wire: headers, encoding, label order, and the retry rules.
@Suite("Remote write on the wire")
struct WireFormatTests {
    /// Records every request; answers from a script of statuses, then 204.
    final class CapturingReceiver: Sendable {
        let server: TestHTTPServer
        private let requests: Locked<[ReceivedRequest]>

        init(statuses: [Int]) async throws {
            let requests = Locked<[ReceivedRequest]>([])
            self.requests = requests
            let script = Locked(statuses)
            server = try await TestHTTPServer { request in
                requests.withLock { $0.append(request) }
                let status = script.withLock { $0.isEmpty ? 204 : $0.removeFirst() }
                return CannedResponse(status: status, body: status >= 400 ? Array("simulated \(status)\n".utf8) : [])
            }
        }

        var received: [ReceivedRequest] { requests.value }
        var url: String { "http://\(server.address)/api/v1/write" }
    }

    func runAgent(against receiver: CapturingReceiver, seconds: Int) async throws -> (status: Int32, log: String) {
        let directory = try Paths.temporaryDirectory("e2e-wire")
        defer { Paths.removeUnlessKept(directory) }
        let counter = try await CounterTarget()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: wire
                zone: a
            scrape_configs:
              - job_name: counter
                static_configs:
                  - targets: ["\(counter.server.address)"]
                    labels:
                      team: platform
            remote_write:
              - url: \(receiver.url)
                queue_config:
                  batch_send_deadline: 1s
                  min_backoff: 100ms
                  max_backoff: 200ms
            """)
        try await Task.sleep(for: .seconds(seconds))
        let status = await agent.stop()
        try await counter.server.stop()
        return (status, agent.log)
    }

    @Test("requests carry the Remote Write 1.0 headers and snappy-compressed protobuf with sorted labels")
    func requestsFollowTheSpec() async throws {
        let receiver = try await CapturingReceiver(statuses: [])
        let (status, log) = try await runAgent(against: receiver, seconds: 5)
        try await receiver.server.stop()
        #expect(status == 0, "log:\n\(log)")
        let requests = receiver.received
        #expect(!requests.isEmpty)
        for request in requests {
            #expect(request.method == "POST")
            #expect(request.header("Content-Encoding") == "snappy")
            #expect(request.header("Content-Type") == "application/x-protobuf")
            #expect(request.header("X-Prometheus-Remote-Write-Version") == "0.1.0")
            #expect(request.header("User-Agent")?.hasPrefix("metrics-agent/") == true)
            let decoded = try WriteRequest(serializedBytes: Snappy.decompress(request.body))
            #expect(!decoded.timeseries.isEmpty)
            for series in decoded.timeseries {
                let names = series.labels.map(\.name)
                #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "labels sorted: \(names)")
                #expect(Set(names).count == names.count, "label names unique")
                #expect(series.labels.allSatisfy { !$0.name.isEmpty && !$0.value.isEmpty })
                let labels = Dictionary(uniqueKeysWithValues: series.labels.map { ($0.name, $0.value) })
                #expect(labels["cluster"] == "wire" && labels["zone"] == "a", "external labels added")
                #expect(labels["job"] == "counter" && labels["team"] == "platform")
                #expect(!series.samples.isEmpty)
            }
        }
    }

    @Test("5xx answers are retried with the same samples; a 400 drops the batch and sending goes on")
    func retriesServerErrorsButNotClientErrors() async throws {
        let receiver = try await CapturingReceiver(statuses: [503, 500, 400])
        let (status, log) = try await runAgent(against: receiver, seconds: 6)
        try await receiver.server.stop()
        #expect(status == 0, "log:\n\(log)")
        let requests = receiver.received
        try #require(requests.count >= 4)
        let bodies = try requests.map { try WriteRequest(serializedBytes: Snappy.decompress($0.body)) }
        // The two 5xx answers were retried with identical content; the 400'd batch was not resent.
        #expect(bodies[0] == bodies[1] && bodies[1] == bodies[2])
        #expect(requests[1].header("Retry-Attempt") == "1")
        #expect(requests[2].header("Retry-Attempt") == "2")
        #expect(bodies[3] != bodies[2])
        #expect(log.contains("simulated 400"), "the receiver's message is logged")
    }
}
