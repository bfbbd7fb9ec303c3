import AgentConfig
import Foundation
import Logging
import Curl
import Model
import Prometheus
import Relabel
import TestSupport
import Testing
import WAL

@testable import Scraper

/// One scrape loop against an in-process target, with a real WAL read back after each scrape.
final class LoopHarness {
    let directory: URL
    let wal: WriteAheadLog
    let transport = HTTPTransport()
    let clock: ManualClock
    let server: TestHTTPServer
    let requests = Locked<[ReceivedRequest]>([])
    let respond: Locked<@Sendable (ReceivedRequest) -> CannedResponse>
    var loop: ScrapeLoop!
    var state: ScrapeLoop.State!
    private var reader: WALReader
    private var labelsByRef: [SeriesRef: Labels] = [:]
    /// Exemplars read so far, by their series' text.
    private(set) var exemplars: [String: ExemplarRecord] = [:]
    /// Metadata entries read so far, in order.
    private(set) var metadata: [MetricMetadata] = []
    let registry = PrometheusCollectorRegistry()
    /// The loop's pool control (target_limit verdict, failure log).
    let control = ScrapePoolControl()
    /// Every scrape's report, in order.
    let reports = Locked<[ScrapeReport]>([])

    init(
        segmentSize: Int = 32 << 20, walDirectory: String? = nil,
        startWallMilliseconds: Int64 = ManualClock.defaultStartWallMilliseconds, configure: (inout ScrapeConfig) -> Void = { _ in },
        respond: @escaping @Sendable (ReceivedRequest) -> CannedResponse
    ) async throws {
        clock = ManualClock(startWallMilliseconds: startWallMilliseconds)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrape-loop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        wal = try WriteAheadLog(directory: walDirectory ?? directory.path, segmentSize: segmentSize, logger: Logger(label: "test"))
        reader = try WALReader(directory: walDirectory ?? directory.path, from: WALPosition(segment: 0, offset: 0))
        let handler = Locked<@Sendable (ReceivedRequest) -> CannedResponse>(respond)
        self.respond = handler
        let requests = self.requests
        server = try await TestHTTPServer { request in
            requests.withLock { $0.append(request) }
            return handler.value(request)
        }
        var config = ScrapeConfig(jobName: "test", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(5))
        config.staticConfigs = [StaticConfig(targets: [server.address])]
        configure(&config)
        let target = Target.targets(for: config)[0]
        loop = ScrapeLoop(
            target: target, client: ScrapeClient(config: config, transport: transport, clock: clock), wal: wal, transport: transport, clock: clock,
            metrics: ScrapeMetrics(registry: registry, job: "test", duplicates: ScrapeMetrics.duplicatesCounter(registry: registry)),
            control: control, logger: Logger(label: "test"), onReport: { [reports] _, report in reports.withLock { $0.append(report) } })
        state = ScrapeLoop.State(target: target)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// One scrape; returns the samples it stored, by series text (`name{a="b", …}`).
    func scrape() async throws -> [String: (timestamp: Int64, value: Double)] {
        await loop.scrapeOnce(state: &state)
        return try readNewRecords()
    }

    /// The samples appended since the last read, by series text.
    func readNewRecords() throws -> [String: (timestamp: Int64, value: Double)] {
        var samples: [String: (timestamp: Int64, value: Double)] = [:]
        while let (record, _) = try reader.next() {
            switch record {
            case .series(let series):
                for entry in series { labelsByRef[entry.ref] = entry.labels }
            case .samples(let records):
                for sample in records {
                    samples[labelsByRef[sample.ref]?.description ?? "ref \(sample.ref)"] = (sample.timestamp, sample.value)
                }
            case .exemplars(let records):
                for exemplar in records { exemplars[labelsByRef[exemplar.ref]?.description ?? "ref \(exemplar.ref)"] = exemplar }
            case .metadata(let entries):
                metadata += entries
            }
        }
        return samples
    }

    var seriesRecords: Int { labelsByRef.count }

    /// The value of the self-metric whose exposition line starts with `series` (name and labels).
    func metric(_ series: String) -> Double? {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// `name{instance=…, job="test"}` for a series of this target with `extra` labels.
    func series(_ name: String, _ extra: KeyValuePairs<String, String> = [:]) -> String {
        Labels(extra.map { Label($0.key, $0.value) } + [Label("__name__", name), Label("job", "test"), Label("instance", server.address)]).description
    }
}

func text(_ body: String) -> CannedResponse { CannedResponse(contentType: "text/plain; version=0.0.4", body: body) }

func isStale(_ value: Double?) -> Bool { value.map { $0.bitPattern == staleMarkerBits } ?? false }

@Suite struct ScrapeLoopTests {
    @Test func storesSamplesAndTheFiveSyntheticSeries() async throws {
        let h = try await LoopHarness { _ in text("a_total 1\nb{x=\"1\"} 2.5\n") }
        let first = try await h.scrape()
        #expect(first[h.series("a_total")]?.value == 1)
        #expect(first[h.series("b", ["x": "1"])]?.value == 2.5)
        #expect(first[h.series("up")]?.value == 1)
        #expect(first[h.series("scrape_samples_scraped")]?.value == 2)
        #expect(first[h.series("scrape_samples_post_metric_relabeling")]?.value == 2)
        #expect(first[h.series("scrape_series_added")]?.value == 2)
        #expect((first[h.series("scrape_duration_seconds")]?.value ?? -1) >= 0)
        let timestamps = Set(first.values.map(\.timestamp))
        #expect(timestamps.count == 1, "every sample at the scrape's start time")
        #expect(h.seriesRecords == 7)
        let second = try await h.scrape()
        #expect(second[h.series("scrape_series_added")]?.value == 0)
        #expect(h.seriesRecords == 7, "cached series are appended by ref, without new series records")
    }

    @Test func requestsWithPrometheusHeadersAndParams() async throws {
        let h = try await LoopHarness(configure: {
            $0.params = [("match[]", [#"{job="node"}"#]), ("format", ["prometheus"])]
            $0.metricsPath = "/federate"
        }) { _ in text("a 1\n") }
        _ = try await h.scrape()
        let request = try #require(h.requests.value.first)
        #expect(request.uri == "/federate?format=prometheus&match%5B%5D=%7Bjob%3D%22node%22%7D")
        #expect(request.header("Accept")?.hasPrefix("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,") == true)
        #expect(request.header("Accept")?.contains("text/plain;version=0.0.4;q=0.3") == true)
        #expect(request.header("X-Prometheus-Scrape-Timeout-Seconds") == "5")
        #expect(request.header("User-Agent")?.hasPrefix("metrics-agent/") == true)
        #expect(request.header("Accept-Encoding")?.contains("gzip") == true)
    }

    @Test func compressionCanBeTurnedOff() async throws {
        let h = try await LoopHarness(configure: { $0.enableCompression = false }) { _ in text("a 1\n") }
        _ = try await h.scrape()
        #expect(h.requests.value.first?.header("Accept-Encoding") == "identity")
    }

    @Test func gzipBodiesAreDecoded() async throws {
        let plain = Array("gzipped_metric 42\n".utf8)
        let compressed = try gzip(plain)
        let h = try await LoopHarness { _ in
            CannedResponse(headers: [("Content-Type", "text/plain; version=0.0.4"), ("Content-Encoding", "gzip")], body: compressed)
        }
        let samples = try await h.scrape()
        #expect(samples[h.series("gzipped_metric")]?.value == 42)
    }

    @Test func openMetricsIsChosenByContentType() async throws {
        let h = try await LoopHarness { _ in
            CannedResponse(contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8", body: "# TYPE c counter\nc_total 3 # {trace_id=\"abc\"} 1\n# EOF\n")
        }
        let samples = try await h.scrape()
        #expect(samples[h.series("c_total")]?.value == 3)
        #expect(samples[h.series("up")]?.value == 1)
    }

    @Test func exemplarsAreKeptInTheWALAndInvalidOnesDroppedWithoutTheSample() async throws {
        let longLabel = String(repeating: "x", count: 130)
        let h = try await LoopHarness { _ in
            CannedResponse(
                contentType: "application/openmetrics-text; version=1.0.0",
                body: """
                    # TYPE c counter
                    c_total 3 # {trace_id="abc"} 1.5 1700000000.5
                    # TYPE d counter
                    d_total 4 # {trace_id="\(longLabel)"} 1
                    # EOF

                    """)
        }
        let first = try await h.scrape()
        #expect(first[h.series("c_total")]?.value == 3)
        #expect(first[h.series("d_total")]?.value == 4, "the sample stays when its exemplar is dropped")
        let exemplar = try #require(h.exemplars[h.series("c_total")])
        #expect(exemplar.labels == Labels(["trace_id": "abc"]) && exemplar.value == 1.5 && exemplar.timestamp == 1_700_000_000_500)
        #expect(h.exemplars[h.series("d_total")] == nil)
        _ = try await h.scrape()
        #expect(h.exemplars[h.series("c_total")] != nil, "exemplars of cached series are kept too")
    }

    @Test func vanishedSeriesAndFailedScrapesGetStalenessMarkers() async throws {
        let body = Locked("a 1\nb 2\n")
        let status = Locked(200)
        let h = try await LoopHarness { _ in
            var response = text(body.value)
            response.status = status.value
            return response
        }
        _ = try await h.scrape()
        body.withLock { $0 = "a 1\n" }
        let second = try await h.scrape()
        #expect(isStale(second[h.series("b")]?.value), "b vanished")
        #expect(second[h.series("a")]?.value == 1)
        status.withLock { $0 = 500 }
        let failed = try await h.scrape()
        #expect(failed[h.series("up")]?.value == 0)
        #expect(isStale(failed[h.series("a")]?.value), "every series of a failed scrape goes stale")
        #expect(failed[h.series("b")] == nil, "b was stale already")
        #expect(failed[h.series("scrape_samples_scraped")]?.value == 0)
        let failedAgain = try await h.scrape()
        #expect(failedAgain[h.series("a")] == nil, "no second marker")
        status.withLock { $0 = 200 }
        let recovered = try await h.scrape()
        #expect(recovered[h.series("a")]?.value == 1)
        #expect(recovered[h.series("up")]?.value == 1)
    }

    @Test func explicitTimestampsGoStaleOnlyWhenTracked() async throws {
        for track in [false, true] {
            let body = Locked("a 1\nt 5 1700000000000\n")
            let h = try await LoopHarness(configure: { $0.trackTimestampsStaleness = track }) { _ in text(body.value) }
            let first = try await h.scrape()
            #expect(first[h.series("t")]?.timestamp == 1_700_000_000_000, "honor_timestamps keeps the exposed time")
            body.withLock { $0 = "a 1\n" }
            let second = try await h.scrape()
            #expect(isStale(second[h.series("t")]?.value) == track)
        }
    }

    @Test func exposedTimestampsAreIgnoredWithoutHonorTimestamps() async throws {
        let h = try await LoopHarness(configure: { $0.honorTimestamps = false }) { _ in text("t 5 1700000000000\n") }
        let samples = try await h.scrape()
        #expect(samples[h.series("t")]?.timestamp == samples[h.series("up")]?.timestamp)
    }

    @Test func metricRelabelingDropsAndRewritesScrapedSeriesButNotSyntheticOnes() async throws {
        let h = try await LoopHarness(configure: {
            $0.metricRelabelConfigs = [
                try! RelabelConfig(sourceLabels: ["__name__"], regex: "go_.*|up", action: .drop),
                try! RelabelConfig(sourceLabels: ["mode"], regex: "(.*)", targetLabel: "mode", replacement: "${1}_mode"),
            ]
        }) { _ in text("go_goroutines 5\nnode_cpu{mode=\"idle\"} 1\nup 7\n") }
        for _ in 0..<2 {
            let samples = try await h.scrape()
            #expect(samples[h.series("go_goroutines")] == nil)
            #expect(samples[h.series("node_cpu", ["mode": "idle_mode"])]?.value == 1)
            #expect(samples[h.series("up")]?.value == 1, "the synthetic up is not relabeled (the exposed up was dropped)")
            #expect(samples[h.series("scrape_samples_scraped")]?.value == 3)
            #expect(samples[h.series("scrape_samples_post_metric_relabeling")]?.value == 1)
        }
    }

    @Test func duplicateSeriesLinesAreDroppedNotFatal() async throws {
        let h = try await LoopHarness { _ in text("a 1\na 2\nb 3\n") }
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 1)
        #expect(samples[h.series("a")]?.value == 1, "the first line wins")
        #expect(samples[h.series("scrape_samples_scraped")]?.value == 3)
        #expect(samples[h.series("scrape_samples_post_metric_relabeling")]?.value == 3, "Prometheus counts the refused duplicate too")
        let again = try await h.scrape()
        #expect(again[h.series("a")]?.value == 1)
    }

    @Test(arguments: [
        ("sample_limit", "sample limit exceeded"),
        ("label_limit", "label_limit exceeded"),
        ("label_name_length_limit", "label_name_length_limit exceeded"),
        ("label_value_length_limit", "label_value_length_limit exceeded"),
        ("body_size_limit", "body size limit exceeded"),
    ])
    func limitsFailTheWholeScrape(limit: String, message: String) async throws {
        let reports = Locked<[String?]>([])
        let h = try await LoopHarness(configure: {
            switch limit {
            case "sample_limit": $0.limits.sampleLimit = 2
            case "label_limit": $0.limits.labelLimit = 3
            case "label_name_length_limit": $0.limits.labelNameLengthLimit = 8
            case "label_value_length_limit": $0.limits.labelValueLengthLimit = 10
            default: $0.limits.bodySizeLimit = 64
            }
        }) { _ in text("a 1\nb 2\nwide{long_label_name=\"a value longer than ten\"} 3\n" + String(repeating: "# padding\n", count: 10)) }
        h.loop = ScrapeLoop(
            target: h.loop.target, client: h.loop.client, wal: h.wal, transport: h.transport, clock: h.clock, metrics: h.loop.metrics,
            logger: h.loop.logger, onReport: { _, report in reports.withLock { $0.append(report.error) } })
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 0)
        #expect(samples[h.series("a")] == nil, "nothing of a failed scrape is stored")
        let error = try #require(reports.value.first ?? nil)
        #expect(error.contains(message), "\(error)")
    }

    @Test func slowTargetsTimeOut() async throws {
        let reports = Locked<[String?]>([])
        // The target never answers: only the 300 ms scrape timeout (libcurl's, on the wall clock)
        // can end the scrape, so its ending at all, with a timeout error, is the check.
        let h = try await LoopHarness(configure: { $0.scrapeTimeout = .milliseconds(300) }) { _ in .noAnswer }
        h.loop = ScrapeLoop(
            target: h.loop.target, client: h.loop.client, wal: h.wal, transport: h.transport, clock: h.clock, metrics: h.loop.metrics,
            logger: h.loop.logger, onReport: { _, report in reports.withLock { $0.append(report.error) } })
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 0)
        #expect(reports.value.first??.contains("timed out") == true, "\(reports.value)")
    }

    @Test func malformedBodiesFailWithTheLine() async throws {
        let reports = Locked<[String?]>([])
        let h = try await LoopHarness { _ in text("ok 1\nbad{a=\"1\",a=\"2\"} 1\n") }
        h.loop = ScrapeLoop(
            target: h.loop.target, client: h.loop.client, wal: h.wal, transport: h.transport, clock: h.clock, metrics: h.loop.metrics,
            logger: h.loop.logger, onReport: { _, report in reports.withLock { $0.append(report.error) } })
        let samples = try await h.scrape()
        #expect(samples[h.series("up")]?.value == 0)
        #expect(samples[h.series("ok")] == nil)
        #expect(reports.value.first??.contains("line 2") == true, "\(reports.value)")
    }

    @Test func rotatedBearerTokenFilesAreReadAgainWhenTheyChange() async throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        try "first-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let accepted = Locked("Bearer first-token")
        let h = try await LoopHarness(configure: {
            $0.httpClient.authorization = Authorization(credentials: .file(tokenFile.path))
        }) { request in
            request.header("Authorization") == accepted.value ? text("a 1\n") : CannedResponse(status: 401)
        }
        #expect(try await h.scrape()[h.series("up")]?.value == 1)
        // The token rotates: the server now wants the new one, and the file has it.
        try "second-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        accepted.withLock { $0 = "Bearer second-token" }
        // The file changed (SecretReader watches mtime, size and inode): the next request carries
        // the new token at once, without a 401 first.
        #expect(try await h.scrape()[h.series("up")]?.value == 1)
        #expect(h.requests.value.map { $0.header("Authorization") ?? "" } == ["Bearer first-token", "Bearer second-token"])
    }

    @Test func scrapesOverTLSWithCAServerNameAndClientCertificate() async throws {
        try await withTLSServer(requireClientCert: true) { server, pki in
            func harness(verified: Bool) async throws -> LoopHarness {
                try await LoopHarness(configure: {
                    $0.scheme = "https"
                    $0.metricsPath = "/exposition"
                    $0.staticConfigs = [StaticConfig(targets: ["127.0.0.1:\(server.port)"])]
                    $0.httpClient.tls.caFile = verified ? pki.caFile : nil
                    $0.httpClient.tls.certFile = pki.clientCert
                    $0.httpClient.tls.keyFile = pki.clientKey
                    $0.httpClient.tls.serverName = "target.test"
                }) { _ in text("unused 1\n") }
            }
            let h = try await harness(verified: true)
            let samples = try await h.scrape()
            let info = samples.first { $0.key.hasPrefix("tls_target_info{") }
            #expect(info?.value.value == 1, "\(samples.keys)")
            #expect(info?.key.contains(#"sni="target.test""#) == true, "SNI is the server_name")
            #expect(info?.key.contains(#"client="scraper""#) == true, "the client certificate was presented")
            #expect(info?.key.contains(#"instance="127.0.0.1:\#(server.port)""#) == true)
            // Without the CA the self-signed certificate is not trusted: the scrape fails.
            let untrusted = try await harness(verified: false)
            let failed = try await untrusted.scrape()
            #expect(failed.first { $0.key.hasPrefix("up{") }?.value.value == 0)
        }
    }

    @Test func basicAuthWithPasswordFile() async throws {
        let passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("password-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: passwordFile) }
        try "s3cret".write(to: passwordFile, atomically: true, encoding: .utf8)
        let h = try await LoopHarness(configure: {
            $0.httpClient.basicAuth = BasicAuth(username: "agent", password: .file(passwordFile.path))
        }) { request in
            request.header("Authorization") == "Basic " + Data("agent:s3cret".utf8).base64EncodedString() ? text("a 1\n") : CannedResponse(status: 401)
        }
        #expect(try await h.scrape()[h.series("up")]?.value == 1)
    }

    @Test func aTargetLeavingDiscoveryMarksEverythingStale() async throws {
        let h = try await LoopHarness { _ in text("a 1\n") }
        _ = try await h.scrape()
        await h.loop.markEverythingStale(state: &h.state)
        let markers = try h.readNewRecords()
        #expect(isStale(markers[h.series("a")]?.value))
        for name in ScrapeLoop.syntheticNames {
            #expect(isStale(markers[h.series(name)]?.value), "\(name) goes stale too")
        }
        #expect(markers.count == 6)
    }
}

/// gzip-compresses bytes with Debian's gzip.
func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("gzip-\(UUID().uuidString)")
    try Data(bytes).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-c", input.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Array(data)
}
