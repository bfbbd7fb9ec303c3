import Foundation
import Testing

/// Scrapes that fail part-way report the counts reached, as Prometheus does: one Debian
/// Prometheus scrapes the targets itself and receives the agent's remote write of the same
/// jobs (`source="agent"`); the synthetic series of both must agree.
@Suite("Differential: counts of failed scrapes", .serialized)
struct PartialCountsDifferentialTests {
    /// Job → (path, body, extra job keys).
    static let jobs: [(name: String, body: String, keys: String)] = [
        ("duplicate-label", "ok 1\nother 2\nbad{a=\"1\",a=\"2\"} 3\nafter 4\n", ""),
        ("parse-error", "ok 1\nother 2\nbroken{ 3\nafter 4\n", ""),
        ("sample-limit", "a 1\nb 2\nc 3\nd 4\ne 5\n", "sample_limit: 2"),
        ("label-limit", "a 1\nb{x=\"1\",y=\"2\"} 2\nc 3\n", "label_limit: 3"),
        ("duplicate-lines", "a 1\na 2\nb 3\n", ""),
    ]

    @Test func syntheticCountsOfFailedScrapesMatchPrometheus() async throws {
        let directory = try Paths.temporaryDirectory("e2e-partial-counts")
        defer { Paths.removeUnlessKept(directory) }
        let bodies = Dictionary(uniqueKeysWithValues: Self.jobs.map { ("/" + $0.name, $0.body) })
        let server = try await TestHTTPServer { request in
            guard let body = bodies[request.uri] else { return CannedResponse(status: 404) }
            return CannedResponse(contentType: "text/plain; version=0.0.4", body: body)
        }
        let scrapeConfigs = "scrape_configs:\n" + Self.jobs.map { job in
            """
              - job_name: \(job.name)
                metrics_path: /\(job.name)
            \(job.keys.isEmpty ? "" : "    " + job.keys + "\n")    static_configs:
                  - targets: ["\(server.address)"]

            """
        }.joined()
        let prometheus = try PrometheusHub(directory: directory, scrapeInterval: "1s", scrapeConfigs: scrapeConfigs)
        try await prometheus.start()
        let agent = try AgentHarness(directory: directory)
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
        // scrape_series_added is left out: after a job's first failed scrape Prometheus reports 0
        // (its cache keeps the series the failed scrape met), the agent reports them again.
        let names = ["up", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling"]
        func values(_ source: String) async -> [String: String] {
            var out: [String: String] = [:]
            for name in names {
                for sample in (try? await prometheus.vectorStrings(#"\#(name){source="\#(source)"}"#)) ?? [] {
                    out["\(sample.labels["job"] ?? "")/\(name)"] = sample.value
                }
            }
            return out
        }
        let complete = await eventually(timeout: .seconds(40)) {
            let (theirs, ours) = (await values(""), await values("agent"))
            return theirs.count == Self.jobs.count * names.count && ours.count == theirs.count
        }
        #expect(complete, "not every job's synthetic series arrived; agent log:\n\(agent.log.suffix(3000))")
        let (theirs, ours) = (await values(""), await values("agent"))
        let differences = theirs.keys.sorted().filter { theirs[$0] != ours[$0] }.map { "\($0): Prometheus \(theirs[$0]!), agent \(ours[$0] ?? "-")" }
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))\nPrometheus: \(theirs.sorted { $0.key < $1.key })")
        #expect(theirs["duplicate-label/up"] == "0" && theirs["duplicate-label/scrape_samples_scraped"] == "3", "the reference failed part-way: \(theirs)")
        #expect(await agent.stop() == 0)
        try await server.stop()
        await prometheus.stop()
    }
}
