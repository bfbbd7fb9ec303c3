import AgentConfig
import Curl
import Foundation
import Logging
import Model
import TestSupport
import Testing

@testable import Discovery

/// HTTP discovery against TestSupport's ``TestHTTPServer``, refreshes driven by a ``ManualClock``.
@Suite struct HTTPDiscovererTests {
    static let json = "application/json"

    /// A server whose answer the test sets, and the requests it saw.
    final class Endpoint: Sendable {
        let answer: Locked<CannedResponse>
        let requests = Locked<[ReceivedRequest]>([])
        let server: TestHTTPServer

        init(_ answer: CannedResponse) async throws {
            let answer = Locked(answer)
            let requests = self.requests
            self.answer = answer
            server = try await TestHTTPServer { request in
                requests.withLock { $0.append(request) }
                return answer.value
            }
        }

        var url: String { server.url("/sd") }
        func answer(_ body: String, contentType: String = HTTPDiscovererTests.json, status: Int = 200) {
            answer.withLock { $0 = CannedResponse(status: status, contentType: contentType, body: body) }
        }
    }

    /// Runs an HTTP discoverer of `endpoint` (refresh every 60 s on `clock`) while `body` runs;
    /// `body` gets what it sent and the failures counted.
    static func withDiscoverer(
        _ endpoint: Endpoint, clock: ManualClock, configure: (inout HTTPSDConfig) -> Void = { _ in },
        _ body: (Locked<[[TargetGroup]]>, Locked<Int>) async throws -> Void
    ) async throws {
        var config = HTTPSDConfig(url: endpoint.url)
        configure(&config)
        let transport = HTTPTransport()
        let failures = Locked(0)
        let discoverer = HTTPDiscoverer(
            config: config, transport: transport, clock: clock, logger: Logger(label: "http-sd-test"),
            onFailure: { failures.withLock { $0 += 1 } })
        let sent = Locked<[[TargetGroup]]>([])
        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask { await discoverer.run { groups in sent.withLock { $0.append(groups) } } }
            try await body(sent, failures)
            tasks.cancelAll()
        }
        transport.shutdown()
        try await endpoint.server.stop()
    }

    static func group(_ url: String, _ index: Int, _ targets: [String], _ labels: KeyValuePairs<String, String> = [:]) -> TargetGroup {
        TargetGroup(source: "\(url):\(index)", addresses: targets, labels: Labels(labels).setting("__meta_url", to: url))
    }

    @Test(.timeLimit(.minutes(1)))
    func groupsGetTheURLLabelAndSourcesByIndexAndOnlyChangesAreReported() async throws {
        let endpoint = try await Endpoint(CannedResponse(contentType: Self.json, body: """
            [{"targets": ["a:9100", "b:9100"], "labels": {"env": "prod"}}, {"targets": ["c:9100"]}, {"targets": ["d:9100"]}]
            """))
        let url = endpoint.url
        let clock = ManualClock()
        let start = clock.now
        try await Self.withDiscoverer(endpoint, clock: clock) { sent, failures in
            #expect(await clock.waitForSleeper(until: start + .seconds(60)))
            #expect(sent.value == [[
                Self.group(url, 0, ["a:9100", "b:9100"], ["env": "prod"]), Self.group(url, 1, ["c:9100"]), Self.group(url, 2, ["d:9100"]),
            ]])

            // Group 1 changes, group 2 disappears: group 1 again, group 2 empty; group 0 not repeated.
            endpoint.answer(#"[{"targets": ["a:9100", "b:9100"], "labels": {"env": "prod"}}, {"targets": ["c:9200"]}]"#)
            clock.advance(by: .seconds(60))
            #expect(await clock.waitForSleeper(until: start + .seconds(120)))
            #expect(sent.value.count == 2)
            #expect(sent.value.last == [Self.group(url, 1, ["c:9200"]), TargetGroup(source: "\(url):2")])

            // The same answer again: nothing to report.
            clock.advance(by: .seconds(60))
            #expect(await clock.waitForSleeper(until: start + .seconds(180)))
            #expect(sent.value.count == 2 && failures.value == 0)
            #expect(endpoint.requests.value.count == 3)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func requestsCarryPrometheusHeaders() async throws {
        let endpoint = try await Endpoint(CannedResponse(contentType: Self.json, body: "[]"))
        let clock = ManualClock()
        try await Self.withDiscoverer(endpoint, clock: clock, configure: { $0.refreshInterval = .milliseconds(1500) }) { sent, failures in
            #expect(await clock.waitForSleeper(until: clock.now + .milliseconds(1500)))
            let request = try #require(endpoint.requests.value.first)
            #expect(request.method == "GET" && request.uri == "/sd")
            #expect(request.header("Accept") == "application/json")
            #expect(request.header("X-Prometheus-Refresh-Interval-Seconds") == "1.5")
            #expect(request.header("User-Agent")?.hasPrefix("metrics-agent/") == true)
            #expect(sent.value.isEmpty && failures.value == 0, "an empty list is no group and no failure")
        }
    }

    /// Each bad answer in turn, after a good one: counted as a failure, nothing reported, and the
    /// good answer afterwards reports nothing either (the groups never changed).
    @Test(.timeLimit(.minutes(1)), arguments: [
        CannedResponse(contentType: "application/json", body: #"[{"targets": ["a:9100"]"#),
        CannedResponse(contentType: "text/plain", body: #"[{"targets": ["x:1"]}]"#),
        CannedResponse(contentType: "application/json; charset=latin1", body: #"[{"targets": ["x:1"]}]"#),
        CannedResponse(status: 500, contentType: "application/json", body: #"[{"targets": ["x:1"]}]"#),
        CannedResponse(status: 204, contentType: "application/json", body: ""),
        CannedResponse(contentType: "application/json", body: #"[{"targets": ["x:1"]}, null]"#),
        CannedResponse(contentType: "application/json", body: #"[{"targets": ["x:1"], "lables": {}}]"#),
        CannedResponse(contentType: "application/json", body: #"[{"targets": ["x:1"], "labels": {"": "v"}}]"#),
        CannedResponse(contentType: "application/json", body: #"{"targets": ["x:1"]}"#),
    ])
    func aFailedRefreshKeepsTheLastGoodGroupsAndIsCounted(_ bad: CannedResponse) async throws {
        let good = #"[{"targets": ["a:9100"]}]"#
        let endpoint = try await Endpoint(CannedResponse(contentType: Self.json, body: good))
        let url = endpoint.url
        let clock = ManualClock()
        let start = clock.now
        try await Self.withDiscoverer(endpoint, clock: clock) { sent, failures in
            #expect(await clock.waitForSleeper(until: start + .seconds(60)))
            #expect(sent.value == [[Self.group(url, 0, ["a:9100"])]])
            endpoint.answer.withLock { $0 = bad }
            clock.advance(by: .seconds(60))
            #expect(await clock.waitForSleeper(until: start + .seconds(120)))
            #expect(failures.value == 1)
            #expect(sent.value.count == 1, "nothing reported: \(sent.value)")
            endpoint.answer(good)
            clock.advance(by: .seconds(60))
            #expect(await clock.waitForSleeper(until: start + .seconds(180)))
            #expect(sent.value.count == 1 && failures.value == 1)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func anUnreachableServerIsAFailure() async throws {
        let clock = ManualClock()
        let start = clock.now
        // A URL on a port nothing listens on: a server, stopped.
        let gone = try await TestHTTPServer { _ in CannedResponse() }
        try await gone.stop()
        var config = HTTPSDConfig(url: gone.url("/sd"))
        config.refreshInterval = .seconds(60)
        let transport = HTTPTransport()
        let failures = Locked(0)
        let discoverer = HTTPDiscoverer(
            config: config, transport: transport, clock: clock, logger: Logger(label: "http-sd-test"),
            onFailure: { failures.withLock { $0 += 1 } })
        let sent = Locked<[[TargetGroup]]>([])
        await withDiscardingTaskGroup { tasks in
            tasks.addTask { await discoverer.run { groups in sent.withLock { $0.append(groups) } } }
            #expect(await clock.waitForSleeper(until: start + .seconds(60)))
            #expect(failures.value == 1 && sent.value.isEmpty)
            tasks.cancelAll()
        }
        transport.shutdown()
    }

    @Test(arguments: [
        ("application/json", true), ("APPLICATION/JSON", true), ("  application/json \t", true),
        ("application/json; charset=utf-8", true), ("application/json;charset=\"UTF-8\"", true),
        ("application/json;  \tcharset=utf-8", true), ("application/json; charset=utf8", false),
        ("application/json; charset=latin1", false), ("application/json;", false), ("application/jsonx", false),
        ("text/json", false), ("", false), ("application/json; charset=utf-8; x=y", false),
    ])
    func contentTypeIsMatchedAsPrometheusMatchesIt(_ value: String, _ accepted: Bool) {
        #expect(HTTPDiscoverer.isJSON(contentType: value) == accepted)
    }

    @Test func refreshIntervalIsSentInGoFormat() {
        #expect(HTTPDiscoverer.seconds(.seconds(60)) == "60")
        #expect(HTTPDiscoverer.seconds(.milliseconds(500)) == "0.5")
        #expect(HTTPDiscoverer.seconds(.milliseconds(90_250)) == "90.25")
    }
}
