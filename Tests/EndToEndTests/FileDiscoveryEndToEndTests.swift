import Foundation
import Testing

/// `file_sd_configs` with the real binary: targets follow the file, removed ones go stale.
@Suite("File discovery end to end")
struct FileDiscoveryEndToEndTests {
    @Test func targetsFollowTheFileAndRemovedOnesGoStale() async throws {
        let directory = try Paths.temporaryDirectory("file-sd")
        defer { Paths.removeUnlessKept(directory) }
        let first = try await CounterTarget()
        let second = try await CounterTarget()
        let receiver = try await ReloadTests.RecordingReceiver()
        let targets = directory.appendingPathComponent("targets")
        try FileManager.default.createDirectory(at: targets, withIntermediateDirectories: true)
        func write(_ addresses: [String]) throws {
            let json = "[{\"targets\": [\(addresses.map { "\"\($0)\"" }.joined(separator: ", "))], \"labels\": {\"team\": \"a\"}}]"
            try json.write(to: targets.appendingPathComponent("pods.json"), atomically: true, encoding: .utf8)
        }
        try write([first.server.address])
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: pods
                file_sd_configs:
                  - files: ["targets/*.json"]
                relabel_configs:
                  - source_labels: [__meta_filepath]
                    regex: '.*/([^/]+)\\.json'
                    target_label: source_file
            remote_write:
              - url: \(receiver.url)
                queue_config:
                  batch_send_deadline: 500ms
            """)
        try await Task.sleep(for: .seconds(3))
        try write([second.server.address])
        try await Task.sleep(for: .seconds(9))
        let status = await agent.stop()
        try await first.server.stop()
        try await second.server.stop()
        try await receiver.server.stop()

        #expect(status == 0, "\(agent.log)")
        let firstSamples = receiver.samples(["__name__": "e2e_counter_total", "instance": first.server.address])
        let secondSamples = receiver.samples(["__name__": "e2e_counter_total", "instance": second.server.address, "team": "a", "source_file": "pods"])
        #expect(firstSamples.count >= 2, "the first target was scraped")
        #expect(firstSamples.last.map(ReloadTests.isStale) == true, "and went stale when the file dropped it")
        #expect(secondSamples.count >= 3, "the second target was picked up from the changed file: \(agent.log)")
        #expect(second.scrapesServed >= 3)
    }
}
