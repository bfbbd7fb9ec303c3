import Foundation
import Testing

/// The agent against Prometheus itself: one Debian Prometheus scrapes the targets (the
/// reference) and also receives the agent's remote write of the same scrape configuration, with
/// `source="agent"` as the agent's external label. Every series and value the agent sends must
/// be what Prometheus stored from its own scrapes, apart from that label.
@Suite("Differential: the agent stores what Prometheus stores", .serialized)
struct DifferentialTests {
    static let fixtureJobs = ["fixture-text", "fixture-openmetrics"]
    static let syntheticSeries = [
        "up", "scrape_duration_seconds", "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling", "scrape_series_added",
    ]

    @Test("same series as Prometheus for text 0.0.4, OpenMetrics and node_exporter targets; same values for static targets")
    func agentMatchesPrometheus() async throws {
        let directory = try Paths.temporaryDirectory("e2e-differential")
        defer { Paths.removeUnlessKept(directory) }

        let fixtures = try await FixtureTarget()
        let nodePort = try freePort()
        let nodeExporter = try ChildProcess(
            name: "node-exporter", executable: "/usr/bin/prometheus-node-exporter",
            arguments: ["--web.listen-address=127.0.0.1:\(nodePort)"], logDirectory: directory)
        let scrapeConfigs = """
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ["127.0.0.1:\(nodePort)"]
              - job_name: fixture-text
                metrics_path: /text
                static_configs:
                  - targets: ["\(fixtures.server.address)"]
                    labels:
                      env: e2e
              - job_name: fixture-openmetrics
                metrics_path: /openmetrics
                static_configs:
                  - targets: ["\(fixtures.server.address)"]
            """
        let prometheus = try PrometheusHub(directory: directory, scrapeInterval: "1s", scrapeConfigs: scrapeConfigs)
        try await prometheus.start()
        // Prometheus syncs its targets about 5 s after starting; let it scrape every job once
        // first, so that its scrapes cover the agent's whole run.
        let scraping = await eventually(timeout: .seconds(20)) {
            ((try? await prometheus.vectorStrings(#"up{source=""}"#).count) ?? 0) == 3
        }
        #expect(scraping, "Prometheus did not scrape all 3 jobs within 20 s")
        let agent = try AgentHarness(directory: directory)
        let start = Date().timeIntervalSince1970
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                source: agent
            \(scrapeConfigs)
            remote_write:
              - url: \(prometheus.writeURL)
                queue_config:
                  batch_send_deadline: 1s
            """)
        try await Task.sleep(for: .seconds(10))
        // Compare at an instant while both were still scraping: what the agent does on its way
        // out (staleness markers or not) is not this test's subject.
        let end = Date().timeIntervalSince1970
        let status = await agent.stop()
        #expect(status == 0, "agent exit status; log:\n\(agent.log.suffix(4000))")
        let outcome: Result<Void, any Error>
        do {
            try await Self.compare(prometheus, start: start, end: end)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await nodeExporter.stop()
        try await fixtures.server.stop()
        await prometheus.stop()
        try outcome.get()
    }

    /// The assertions, on the one Prometheus, for series seen between `start` and `end` and
    /// values at `end`.
    static func compare(_ prometheus: PrometheusHub, start: Double, end: Double) async throws {

        // The reference side itself must be sound, or the comparison means nothing.
        for job in fixtureJobs + ["node"] {
            let up = try await prometheus.vectorStrings(#"up{job="\#(job)",source=""}"#, time: end).map(\.value)
            #expect(up == ["1"], "Prometheus's own scrape of \(job) failed (up = \(up)); is the fixture valid?\n\(prometheus.process?.log.suffix(3000) ?? "")")
        }

        for job in fixtureJobs + ["node"] {
            let reference = try await Set(prometheus.series(match: #"{job="\#(job)",source=""}"#, start: start, end: end).map(SeriesKey.init))
            let fromAgent = try await Set(
                prometheus.series(match: #"{job="\#(job)",source="agent"}"#, start: start, end: end)
                    .map { SeriesKey($0.filter { $0.key != "source" }) })
            #expect(reference.count > (job == "node" ? 100 : 20), "Prometheus stored only \(reference.count) series for \(job)")
            for name in syntheticSeries {
                #expect(reference.contains { $0.labels["__name__"] == name }, "Prometheus stored no \(name) for \(job)")
            }
            let missing = reference.subtracting(fromAgent).sorted()
            let extra = fromAgent.subtracting(reference).sorted()
            #expect(missing.count == 0, "job \(job): \(differenceList(missing, of: reference.count, "series Prometheus stored from its own scrapes but the agent did not send"))")
            #expect(extra.count == 0, "job \(job): \(differenceList(extra, of: fromAgent.count, "series the agent sent that Prometheus did not store from its own scrapes"))")
        }

        let agentUp = try await Dictionary(
            prometheus.vectorStrings(#"up{source="agent"}"#, time: end).map { ($0.labels["job"] ?? "", $0.value) },
            uniquingKeysWith: { first, _ in first })
        for job in fixtureJobs + ["node"] {
            #expect(agentUp[job] == "1", "the agent's up for \(job) is \(agentUp[job] ?? "missing")")
        }

        // Static targets: the latest value of every series is the same (compared as the API's
        // strings, so NaN equals NaN and -0 differs from 0). scrape_duration_seconds moves.
        for job in fixtureJobs {
            let selector = #"{job="\#(job)",__name__!="scrape_duration_seconds""#
            let reference = try await Dictionary(
                prometheus.vectorStrings(selector + #",source=""}"#, time: end).map { (SeriesKey($0.labels), $0.value) },
                uniquingKeysWith: { first, _ in first })
            let fromAgent = try await Dictionary(
                prometheus.vectorStrings(selector + #",source="agent"}"#, time: end)
                    .map { (SeriesKey($0.labels.filter { $0.key != "source" }), $0.value) },
                uniquingKeysWith: { first, _ in first })
            let differences = reference.keys.sorted().compactMap { key -> String? in
                let theirs = reference[key]!
                guard let ours = fromAgent[key] else { return "\(key): Prometheus \(theirs), agent has no current value" }
                return ours == theirs ? nil : "\(key): Prometheus \(theirs), agent \(ours)"
            }
            #expect(
                differences.count == 0,
                "job \(job): \(differences.count) of \(reference.count) latest values differ (first 20):\n  \(differences.prefix(20).joined(separator: "\n  "))")
        }
    }
}

/// The fixture expositions under `Fixtures/`, served by an in-process server: `/text` as text
/// format 0.0.4, `/openmetrics` as OpenMetrics 1.0.0. `__NOW_MS__` and `__NOW_SECONDS__` in the
/// files become the time of the request, so explicit timestamps are always recent.
final class FixtureTarget: Sendable {
    let server: TestHTTPServer

    init(text: String = "differential-text.prom", openMetrics: String = "differential-openmetrics.txt") async throws {
        let text = try fixture(text)
        let openMetrics = try fixture(openMetrics)
        server = try await TestHTTPServer { request in
            let now = Date().timeIntervalSince1970
            let body: String
            let contentType: String
            if request.uri.hasPrefix("/text") {
                body = text.replacingOccurrences(of: "__NOW_MS__", with: String(Int64(now * 1000)))
                contentType = "text/plain; version=0.0.4"
            } else if request.uri.hasPrefix("/openmetrics") {
                body = openMetrics.replacingOccurrences(of: "__NOW_SECONDS__", with: String(format: "%.3f", now))
                contentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                return CannedResponse(status: 404)
            }
            return CannedResponse(headers: [("Content-Type", contentType)], body: Array(body.utf8))
        }
    }
}

/// The contents of `Fixtures/NAME`.
func fixture(_ name: String) throws -> String {
    guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
        throw HubError("no fixture \(name) in \(Bundle.module.bundlePath)")
    }
    return try String(contentsOf: url, encoding: .utf8)
}

/// A series' label set, comparable, sortable and printed as `name{label="value",…}` with the
/// exposition format's escapes, so a newline in a value shows as `\n`.
struct SeriesKey: Hashable, Comparable, CustomStringConvertible {
    let labels: [String: String]
    let description: String

    init(_ labels: [String: String]) {
        self.labels = labels
        let rest = labels.filter { $0.key != "__name__" }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\"\($0.value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n"))\"" }
        description = (labels["__name__"] ?? "") + "{" + rest.joined(separator: ",") + "}"
    }

    static func == (lhs: SeriesKey, rhs: SeriesKey) -> Bool { lhs.labels == rhs.labels }
    func hash(into hasher: inout Hasher) { hasher.combine(labels) }
    static func < (lhs: SeriesKey, rhs: SeriesKey) -> Bool { lhs.description < rhs.description }
}

/// "N of M WHAT (first 20):" and the first 20 series, one a line.
func differenceList(_ series: [SeriesKey], of total: Int, _ what: String) -> String {
    "\(series.count) of \(total) \(what) (first 20):\n  " + series.prefix(20).map(\.description).joined(separator: "\n  ")
}
