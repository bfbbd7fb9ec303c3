import Curl
import Foundation
import Testing

@Suite("GET /api/v1/targets")
struct TargetsAPITests {
    @Test func reportsHealthLastErrorAndLabelsInPrometheusShape() async throws {
        let directory = try Paths.temporaryDirectory("targets-api")
        defer { Paths.removeUnlessKept(directory) }
        let counter = try await CounterTarget()
        let downPort = try freePort()
        let agent = try AgentHarness(directory: directory)
        try agent.start(config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: counter
                params:
                  'match[]': ['{a="b"}']
                static_configs:
                  - targets: ["\(counter.server.address)"]
                    labels:
                      team: platform
              - job_name: down
                static_configs:
                  - targets: ["127.0.0.1:\(downPort)"]
            """)
        func targets(_ query: String = "") async throws -> [String: Any] {
            let response = try await agent.get("/api/v1/targets\(query)", timeout: .seconds(2))
            #expect(response.header("content-type") == "application/json")
            return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
        }
        func active(_ json: [String: Any]) -> [[String: Any]] {
            (json["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []
        }
        let scraped = await eventually(timeout: .seconds(15)) {
            let list = (try? await active(targets())) ?? []
            return list.count == 2 && list.allSatisfy { ($0["health"] as? String) != "unknown" }
        }
        let json = try await targets()
        let status = await agent.stop()
        try await counter.server.stop()
        #expect(scraped, "\(agent.log)")
        #expect(status == 0)
        #expect(json["status"] as? String == "success")
        #expect((json["data"] as? [String: Any])?["droppedTargets"] as? [Any] != nil)
        let list = active(json)
        let up = try #require(list.first { $0["scrapePool"] as? String == "counter" })
        #expect(up["health"] as? String == "up")
        #expect(up["lastError"] as? String == "")
        #expect(up["scrapeUrl"] as? String == "http://\(counter.server.address)/metrics?match%5B%5D=%7Ba%3D%22b%22%7D")
        #expect(up["scrapeInterval"] as? String == "1s" && up["scrapeTimeout"] as? String == "1s")
        #expect((up["lastScrapeDuration"] as? Double ?? -1) >= 0)
        #expect((up["lastScrape"] as? String)?.hasSuffix("Z") == true)
        #expect(up["globalUrl"] as? String != nil)
        let labels = up["labels"] as? [String: String] ?? [:]
        #expect(labels == ["job": "counter", "instance": counter.server.address, "team": "platform"])
        let discovered = up["discoveredLabels"] as? [String: String] ?? [:]
        #expect(discovered["__address__"] == counter.server.address && discovered["__metrics_path__"] == "/metrics")
        #expect(discovered["__scheme__"] == "http" && discovered["job"] == "counter" && discovered["team"] == "platform")
        let down = try #require(list.first { $0["scrapePool"] as? String == "down" })
        #expect(down["health"] as? String == "down")
        #expect((down["lastError"] as? String)?.contains("connect") == true, "\(down)")
    }
}
