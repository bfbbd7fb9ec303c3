import Foundation
import Testing

/// The agent scraping a Prometheus's `/federate` endpoint with `honor_labels: true` and a
/// `match[]` parameter, as hub-and-spoke setups that pull from an existing Prometheus do.
@Suite("Federation: the agent scrapes a Prometheus's /federate", .serialized)
struct FederationTests {
    @Test("federated series keep their original job, instance and labels, gain the external label and keep their values")
    func federatedSeriesKeepTheirLabels() async throws {
        let directory = try Paths.temporaryDirectory("e2e-federation")
        defer { Paths.removeUnlessKept(directory) }
        let sourceDirectory = directory.appendingPathComponent("source")
        let receiverDirectory = directory.appendingPathComponent("receiver")
        for subdirectory in [sourceDirectory, receiverDirectory] {
            try FileManager.default.createDirectory(at: subdirectory, withIntermediateDirectories: true)
        }

        let exposition = try fixture("federation-source.prom")
        let target = try await TestHTTPServer { request in
            guard request.uri.hasPrefix("/metrics") else { return CannedResponse(status: 404) }
            return CannedResponse(headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(exposition.utf8))
        }
        let source = try PrometheusHub(
            directory: sourceDirectory, scrapeInterval: "1s",
            scrapeConfigs: """
                scrape_configs:
                  - job_name: source
                    static_configs:
                      - targets: ["\(target.address)"]
                """)
        try await source.start()
        let receiver = try PrometheusHub(directory: receiverDirectory)
        try await receiver.start()
        // Prometheus syncs its targets about 5 s after starting: wait for its first scrape.
        let scraping = await eventually(timeout: .seconds(20)) {
            ((try? await source.vectorStrings(#"up{job="source"}"#).count) ?? 0) == 1
        }
        #expect(scraping, "the source Prometheus did not scrape the fixture within 20 s")

        let agent = try AgentHarness(directory: directory)
        let start = Date().timeIntervalSince1970
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              external_labels:
                cluster: fed
            scrape_configs:
              - job_name: federate
                honor_labels: true
                metrics_path: /federate
                params:
                  'match[]': ['{job="source"}']
                static_configs:
                  - targets: ["\(source.address)"]
            remote_write:
              - url: \(receiver.writeURL)
                queue_config:
                  batch_send_deadline: 1s
            """)
        try await Task.sleep(for: .seconds(8))
        let end = Date().timeIntervalSince1970
        let status = await agent.stop()
        #expect(status == 0, "agent exit status; log:\n\(agent.log.suffix(4000))")

        let outcome: Result<Void, any Error>
        do {
            try await Self.compare(source: source, receiver: receiver, targetAddress: target.address, sourceAddress: source.address, start: start, end: end)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await source.stop()
        await receiver.stop()
        try await target.stop()
        if case .failure = outcome { print("agent log:\n\(agent.log.suffix(4000))") }
        try outcome.get()
    }

    static func compare(
        source: PrometheusHub, receiver: PrometheusHub, targetAddress: String, sourceAddress: String, start: Double, end: Double
    ) async throws {
        let sourceUp = try await source.vectorStrings(#"up{job="source"}"#, time: end)
        #expect(sourceUp.map(\.value) == ["1"], "the source Prometheus's own scrape of the fixture failed: \(sourceUp)")

        // The agent's own scrape of /federate.
        let federateUp = try await receiver.vectorStrings(#"up{job="federate"}"#, time: end)
        #expect(
            federateUp.map { SeriesKey($0.labels).description + " " + $0.value }
                == [#"up{cluster="fed",instance="\#(sourceAddress)",job="federate"} 1"#],
            "the agent's up for /federate: \(federateUp)")

        // Series sets: every series the source has for job="source" (the fixture's and the
        // source's synthetic ones), with cluster="fed" added, and nothing else.
        let expected = try await Set(
            source.series(match: #"{job="source"}"#, start: start - 60, end: end)
                .map { SeriesKey($0.merging(["cluster": "fed"]) { own, _ in own }) })
        let received = try await Set(receiver.series(match: #"{job="source"}"#, start: start - 60, end: end).map(SeriesKey.init))
        #expect(expected.contains { $0.labels["__name__"] == "fed_requests_total" }, "the source has no fixture series: \(expected.sorted())")
        for series in expected {
            #expect(series.labels["instance"] == targetAddress && series.labels["job"] == "source", "\(series)")
        }
        let missing = expected.subtracting(received).sorted()
        let extra = received.subtracting(expected).sorted()
        #expect(missing.count == 0, "\(differenceList(missing, of: expected.count, "series of the source (plus cluster=\"fed\") missing at the receiver"))")
        #expect(extra.count == 0, "\(differenceList(extra, of: received.count, "series at the receiver that the source does not have"))")

        // Nothing was renamed: honor_labels keeps the federated job and instance.
        let renamed = try await receiver.series(match: #"{__name__=~".+",exported_job!=""}"#, start: start - 60, end: end)
            + receiver.series(match: #"{__name__=~".+",exported_instance!=""}"#, start: start - 60, end: end)
        #expect(renamed.count == 0, "\(differenceList(renamed.map(SeriesKey.init).sorted(), of: renamed.count, "series with exported_job or exported_instance"))")

        // Values: the fixture's series (static) and up have the source's values.
        let selector = #"{job="source",__name__!~"scrape_.*"}"#
        let sourceValues = try await Dictionary(
            source.vectorStrings(selector, time: end).map { (SeriesKey($0.labels.merging(["cluster": "fed"]) { own, _ in own }), $0.value) },
            uniquingKeysWith: { first, _ in first })
        let receivedValues = try await Dictionary(
            receiver.vectorStrings(selector, time: end).map { (SeriesKey($0.labels), $0.value) }, uniquingKeysWith: { first, _ in first })
        let differences = sourceValues.keys.sorted().compactMap { key -> String? in
            let theirs = sourceValues[key]!
            guard let ours = receivedValues[key] else { return "\(key): source \(theirs), receiver has no current value" }
            return ours == theirs ? nil : "\(key): source \(theirs), receiver \(ours)"
        }
        #expect(
            differences.count == 0,
            "\(differences.count) of \(sourceValues.count) values differ (first 20):\n  \(differences.prefix(20).joined(separator: "\n  "))")
    }
}
