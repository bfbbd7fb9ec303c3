import AgentConfig
import Foundation
import Model
import NIOCore
@testable import Scraper
import TestSupport
import Testing

@testable import Agent

/// `/api/v1/targets` written chunk by chunk: the answer parsed back must say exactly what the
/// targets and reports say, in Prometheus's shape, whatever the chunk size.
@Suite("GET /api/v1/targets writer")
struct TargetsResponseWriterTests {
    static let hostName = "agent-host"

    /// The targets of Fixtures/targets/targets.yml (five, in two pools) with a report for three
    /// of them, and dropped targets of both pools.
    struct Snapshot {
        var active: [TargetsResponseWriter.ActiveEntry]
        var dropped: [TargetsResponseWriter.DroppedEntry]

        init() throws {
            let url = try #require(Bundle.module.url(forResource: "targets", withExtension: "yml", subdirectory: "Fixtures/targets"))
            let configuration = try ConfigLoader.parse(yaml: String(contentsOf: url, encoding: .utf8), file: url.path)
            let targets = configuration.scrapeConfigs.flatMap { Target.targets(for: $0) }
            #expect(targets.count == 5)
            let reports: [ScrapeReport?] = [
                ScrapeReport(timestamp: 1_700_000_000_123, duration: .milliseconds(1234), error: nil, samples: 7),
                ScrapeReport(timestamp: 1_700_000_001_000, duration: .microseconds(15), error: "Get \"http://x\": dial tcp: connect: connection refused \\ \u{7}", samples: 0),
                nil,
                ScrapeReport(timestamp: 951_782_400_999, duration: .seconds(2), error: nil, samples: 1),  // 2000-02-29
                nil,
            ]
            active = Array(zip(targets, reports).map { (target: $0.0, lastScrape: $0.1) })
            let web = targets[0].job
            dropped = [
                DiscoveredTarget(job: "other", discoveredLabels: Labels(["__address__": "10.0.0.2:80", "__meta_note": "dropped \"by\" relabeling"])),
                DiscoveredTarget(job: web, discoveredLabels: Labels(["__address__": "10.0.0.3:80", "__meta_city": "Zürich\n"])),
                DiscoveredTarget(job: "other", discoveredLabels: Labels(["__address__": "10.0.0.4:80"])),
            ]
        }
    }

    static func write(_ snapshot: Snapshot, filter: TargetsFilter = TargetsFilter(), minimumBytes: Int = 64 * 1024) -> (text: String, chunks: Int) {
        var writer = TargetsResponseWriter(active: snapshot.active, dropped: snapshot.dropped, filter: filter, hostName: hostName)
        var all: [UInt8] = []
        var chunks = 0
        while !writer.isFinished {
            var chunk = ByteBuffer()
            writer.write(into: &chunk, minimumBytes: minimumBytes)
            if chunk.readableBytes > 0 { chunks += 1 }
            all += chunk.readableBytesView
        }
        return (String(decoding: all, as: UTF8.self), chunks)
    }

    static func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func lists(_ json: [String: Any]) throws -> (active: [[String: Any]], dropped: [[String: Any]]) {
        let data = try #require(json["data"] as? [String: Any])
        return (try #require(data["activeTargets"] as? [[String: Any]]), try #require(data["droppedTargets"] as? [[String: Any]]))
    }

    static func dictionary(_ labels: Labels) -> [String: String] {
        Dictionary(uniqueKeysWithValues: labels.pairs.map { ($0.name, $0.value) })
    }

    @Test func theAnswerParsesBackToWhatTheTargetsAndReportsSay() throws {
        let snapshot = try Snapshot()
        let text = Self.write(snapshot).text
        #expect(text.hasPrefix(#"{"data":{"activeTargets":[{"discoveredLabels":{"#))
        #expect(text.hasSuffix(#"]},"status":"success"}"#))
        let json = try Self.parse(text)
        #expect(Set(json.keys) == ["data", "status"])
        #expect(json["status"] as? String == "success")
        let (active, dropped) = try Self.lists(json)

        #expect(active.count == snapshot.active.count)
        let keys: Set<String> = [
            "discoveredLabels", "globalUrl", "health", "labels", "lastError", "lastScrape", "lastScrapeDuration", "scrapeInterval",
            "scrapePool", "scrapeTimeout", "scrapeUrl",
        ]
        for (entry, shown) in zip(snapshot.active, active) {
            let target = entry.target
            #expect(Set(shown.keys) == keys)
            #expect(shown["discoveredLabels"] as? [String: String] == Self.dictionary(target.discoveredLabels))
            #expect(shown["labels"] as? [String: String] == Self.dictionary(target.labels))
            #expect(shown["scrapePool"] as? String == target.job)
            #expect(shown["scrapeUrl"] as? String == target.url)
            #expect(shown["scrapeInterval"] as? String == PrometheusDuration.format(target.interval))
            #expect(shown["scrapeTimeout"] as? String == PrometheusDuration.format(target.timeout))
            #expect(shown["lastError"] as? String == entry.lastScrape?.error ?? "")
            #expect(shown["health"] as? String == (entry.lastScrape == nil ? "unknown" : entry.lastScrape?.error == nil ? "up" : "down"))
            #expect(shown["lastScrapeDuration"] as? Double == entry.lastScrape?.duration.seconds ?? 0)
            let lastScrape = try #require(shown["lastScrape"] as? String)
            if let report = entry.lastScrape {
                #expect(try Self.milliseconds(rfc3339: lastScrape) == report.timestamp, "\(lastScrape)")
            } else {
                #expect(lastScrape == "0001-01-01T00:00:00Z")
            }
        }
        // A loopback host is replaced by the machine's name in globalUrl, nothing else.
        let globalURLs = active.compactMap { $0["globalUrl"] as? String }
        let web = snapshot.active[0].target
        let query = "/metrics?match%5B%5D=%7Ba%3D%22b%22%7D"
        #expect(globalURLs == [
            "http://\(Self.hostName):9100\(query)", "http://example.com:9100\(query)", "http://\(Self.hostName):9100\(query)",
            "http://\(Self.hostName):8080\(query)", "http://10.0.0.1:80/metrics",
        ], "\(web.url)")

        // Dropped targets by pool name, in their order within a pool.
        #expect(dropped.map { Set($0.keys) } == Array(repeating: ["discoveredLabels", "scrapePool"], count: 3))
        let expectedDropped = snapshot.dropped.enumerated().sorted { $0.element.job == $1.element.job ? $0.offset < $1.offset : $0.element.job < $1.element.job }
        #expect(dropped.map { $0["scrapePool"] as? String } == expectedDropped.map(\.element.job))
        #expect(dropped.map { $0["discoveredLabels"] as? [String: String] } == expectedDropped.map { Self.dictionary($0.element.discoveredLabels) })
    }

    @Test func chunksNeverSplitATargetAndTheirSizeDoesNotChangeTheAnswer() throws {
        let snapshot = try Snapshot()
        let whole = Self.write(snapshot, minimumBytes: 1 << 30)
        #expect(whole.chunks == 1)
        // With a minimum of one byte, every chunk is one piece: the opening, each active target,
        // the separator, each dropped target, the closing.
        let pieces = Self.write(snapshot, minimumBytes: 1)
        #expect(pieces.chunks == 1 + snapshot.active.count + 1 + snapshot.dropped.count + 1)
        #expect(pieces.text == whole.text)
        #expect(Self.write(snapshot, minimumBytes: 700).text == whole.text)
    }

    @Test(arguments: [
        ([:], true, true, nil),
        (["state": "any"], true, true, nil),
        (["state": "active"], true, false, nil),
        (["state": "Dropped"], false, true, nil),
        (["state": "bogus"], false, false, nil),
        (["scrapePool": ""], true, true, nil),
        (["scrapePool": "other", "state": ""], true, true, "other"),
    ] as [([String: String], Bool, Bool, String?)])
    func queryParametersAreReadAsPrometheusReadsThem(query: [String: String], active: Bool, dropped: Bool, pool: String?) {
        #expect(TargetsFilter(query: query) == TargetsFilter(showActive: active, showDropped: dropped, scrapePool: pool))
    }

    @Test func filtersSelectTheListsAndThePool() throws {
        let snapshot = try Snapshot()
        func counts(_ filter: TargetsFilter) throws -> (Int, Int) {
            let (active, dropped) = try Self.lists(Self.parse(Self.write(snapshot, filter: filter).text))
            if let pool = filter.scrapePool {
                #expect(active.allSatisfy { $0["scrapePool"] as? String == pool } && dropped.allSatisfy { $0["scrapePool"] as? String == pool })
            }
            return (active.count, dropped.count)
        }
        #expect(try counts(TargetsFilter()) == (5, 3))
        #expect(try counts(TargetsFilter(showDropped: false)) == (5, 0))
        #expect(try counts(TargetsFilter(showActive: false)) == (0, 3))
        #expect(try counts(TargetsFilter(showActive: false, showDropped: false)) == (0, 0))
        #expect(try counts(TargetsFilter(scrapePool: "other")) == (1, 2))
        #expect(try counts(TargetsFilter(scrapePool: snapshot.active[0].target.job)) == (4, 1))
        #expect(try counts(TargetsFilter(scrapePool: "none")) == (0, 0))
    }

    @Test func timestampsAreRFC3339InUTCWithMilliseconds() throws {
        var random = SeededGenerator(seed: 3339)
        let edges: [Int64] = [0, 1, 999, 86_399_999, 951_782_400_000, 1_700_000_000_123, 4_102_444_799_999]
        for ms in edges + (0..<2000).map({ _ in Int64(random.below(4_102_444_800_000)) }) {
            var buffer = ByteBuffer()
            TargetsResponseWriter.writeRFC3339(milliseconds: ms, into: &buffer)
            let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
            #expect(text.count == 24 && text.hasSuffix("Z"), "\(text)")
            #expect(try Self.milliseconds(rfc3339: text) == ms, "\(text)")
        }
    }

    @Test(arguments: [
        ("127.0.0.1:9100", "127.0.0.1"), ("127.1.2.3:80", "127.1.2.3"), ("localhost:8080", "localhost"), ("[::1]:9100", "[::1]"),
        ("localhost", "localhost"), ("10.0.0.1:80", nil), ("[::2]:80", nil), ("127.0.0.1.example.com:80", nil),
        ("example.com:9100", nil), ("1127.0.0.1:80", nil),
    ] as [(String, String?)])
    func loopbackHostsAreThoseGetGlobalURLReplaces(address: String, host: String?) {
        #expect(TargetsResponseWriter.loopbackHost(ofAddress: address).map(String.init) == host)
    }

    /// Milliseconds since the epoch of an RFC 3339 timestamp, parsed by Foundation.
    static func milliseconds(rfc3339 text: String) throws -> Int64 {
        let date = try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
