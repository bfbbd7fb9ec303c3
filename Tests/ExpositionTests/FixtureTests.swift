import Model
import Exposition
import Foundation
import Testing

@Suite struct FixtureTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return Array(try Data(contentsOf: url))
    }

    /// Samples in the node_exporter fixture (real node_exporter 1.5 output plus one histogram).
    static let fixtureSamples = 521

    @Test func nodeExporterEndToEnd() throws {
        let body = try Self.fixture("node_exporter.prom")
        let samples = try parseTextFormat(body)
        #expect(samples.count == Self.fixtureSamples)

        func find(_ name: String, _ labels: [String: String] = [:]) -> ParsedSample? {
            samples.first { s in
                s.labels.metricName == name && labels.allSatisfy { s.labels[$0.key] == $0.value }
            }
        }
        #expect(find("node_cpu_seconds_total", ["cpu": "0", "mode": "idle"])?.value == 247.46)
        #expect(find("go_gc_duration_seconds", ["quantile": "0.75"])?.value == 0.000101872)
        #expect(find("go_gc_duration_seconds_count")?.value == 142)
        #expect(find("http_request_duration_seconds_bucket", ["le": "+Inf"])?.value == 1941)
        #expect(find("http_request_duration_seconds_sum")?.value == 14.236721934000005)
        #expect(find("node_filesystem_avail_bytes", ["mountpoint": "/"])?.value == 8.455350272e+10)
        let uname = try #require(find("node_uname_info"))
        #expect(uname.labels["sysname"] == "Linux")
        #expect(uname.labels["domainname"] == "(none)")
        // Empty label values (`model=""`) are dropped.
        let disk = try #require(find("node_disk_info", ["device": "vda"]))
        #expect(disk.labels["model"] == nil)
        #expect(disk.labels.count == 4)
        #expect(samples.allSatisfy { $0.timestamp == nil })
    }

    @Test func nodeExporterValuesMatchTheirText() throws {
        // Every value equals Swift's own conversion of its text; every series range holds the
        // line up to the value.
        let body = try Self.fixture("node_exporter.prom")
        var parser = TextParser(body)
        let lines = body.split(separator: UInt8(ascii: "\n")).filter { $0.first != UInt8(ascii: "#") }
        var n = 0
        while let sample = try parser.next() {
            let line = lines[n]
            n += 1
            let series = body[sample.series]
            #expect(line.starts(with: series))
            let valueText = String(decoding: line.dropFirst(series.count + 1), as: UTF8.self)
            #expect(Double(valueText) == sample.value || (sample.value.isNaN && valueText == "NaN"), "\(valueText)")
        }
        #expect(n == Self.fixtureSamples)
    }

    @Test func nodeExporterTypes() throws {
        let body = try Self.fixture("node_exporter.prom")
        var parser = TextParser(body)
        var counts: [MetricType: Int] = [:]
        while let sample = try parser.next() {
            if let type = parser.type(of: sample) { counts[type, default: 0] += 1 }
        }
        #expect(counts.values.reduce(0, +) == Self.fixtureSamples)
        #expect(counts[.histogram] == 14)
        #expect(counts[.summary] == 7)
    }

    /// Random corruptions of a slice of the fixture never trap, and whatever `next()` accepts,
    /// `labels(of:)` accepts too.
    @Test func corruptedInputsNeverTrap() throws {
        let body = try Self.fixture("node_exporter.prom")
        let interesting: [UInt8] = Array("{}=,\"\\ \t\n#\r".utf8) + [0, 0xC3, 0xFF, UInt8(ascii: "a"), UInt8(ascii: "1")]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let start = Int.random(in: 0..<(body.count - 400), using: &generator)
            var bytes = Array(body[start..<(start + Int.random(in: 1...400, using: &generator))])
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let k = Int.random(in: 0..<bytes.count, using: &generator)
                if Bool.random(using: &generator) {
                    bytes[k] = interesting.randomElement(using: &generator)!
                } else {
                    bytes.remove(at: k)
                    if bytes.isEmpty { bytes = [0] }
                }
            }
            var parser = TextParser(bytes)
            do {
                while let sample = try parser.next() {
                    #expect(throws: Never.self) { _ = try parser.labels(of: sample) }
                }
            } catch {
                #expect(error.line >= 1)
            }
        }
    }

    /// A throughput smoke test, not a timed assertion: it fails only on a wrong count.
    @Test func parseFixtureManyTimes() throws {
        let body = try Self.fixture("node_exporter.prom")
        var total = 0
        var checksum = 0.0
        for _ in 0..<1000 {
            var parser = TextParser(body)
            while let sample = try parser.next() {
                total += 1
                checksum += sample.value.isFinite ? 0 : 1
            }
        }
        #expect(total == 1000 * Self.fixtureSamples)
        #expect(checksum >= 0)
    }

    // MARK: - OpenMetrics fixtures

    @Test func openMetricsFixtureEndToEnd() throws {
        let body = try Self.fixture("openmetrics.om")
        var parser = TextParser(body, format: .openMetrics)
        var samples: [(labels: Labels, value: Double, timestamp: Int64?, exemplar: Exemplar?, type: MetricType?)] = []
        while let sample = try parser.next() {
            samples.append((try parser.labels(of: sample), sample.value, sample.timestamp,
                            try parser.exemplar(of: sample), parser.type(of: sample)))
        }
        #expect(samples.count == 24)
        func find(_ name: String, _ labels: [String: String] = [:]) -> (labels: Labels, value: Double, timestamp: Int64?, exemplar: Exemplar?, type: MetricType?)? {
            samples.first { s in s.labels.metricName == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        }
        let requests = try #require(find("acme_http_requests_total", ["method": "get"]))
        #expect(requests.value == 1027)
        #expect(requests.timestamp == 1_520_879_607_789)
        #expect(requests.type == .counter)
        #expect(requests.exemplar == Exemplar(labels: Labels(["trace_id": "KOO5S4vxi0o"]), value: 1, timestamp: 1_520_879_607_700))
        let created = try #require(find("acme_http_requests_created", ["code": "200"]))
        #expect(created.value == 1_520_430_000.123)
        #expect(created.type == .counter)
        #expect(find("acme_http_requests_total", ["code": "500"])?.exemplar == nil)

        #expect(find("request_duration_seconds_bucket", ["le": "0.1"])?.exemplar
            == Exemplar(labels: Labels(["trace_id": "a"]), value: 0.054, timestamp: nil))
        #expect(find("request_duration_seconds_bucket", ["le": "1.0"])?.exemplar
            == Exemplar(labels: .empty, value: 0.67, timestamp: 1_520_879_607_000))
        #expect(find("request_duration_seconds_bucket", ["le": "+Inf"])?.exemplar
            == Exemplar(labels: Labels(["trace_id": "c", "span_id": "d"]), value: 17.5, timestamp: 1_520_879_607_001))
        #expect(find("request_duration_seconds_created")?.type == .histogram)
        #expect(find("queue_items_gsum")?.type == .gaugeHistogram)
        #expect(find("rpc_latency_seconds", ["quantile": "0.99"])?.value == .infinity)
        #expect(find("rpc_latency_seconds_sum")?.value.isNaN == true)
        let build = try #require(find("build_info"))
        #expect(build.labels["revision"] == "a\"b\\c\nd\\te")
        #expect(build.type == .info)
        #expect(find("feature", ["feature": "b"])?.type == .stateset)
        let temperature = try #require(find("temperature_celsius"))
        #expect(temperature.labels.count == 1)  // room="" dropped
        #expect(temperature.value == -0.45)
        #expect(temperature.timestamp == 1_520_879_607_000)
        #expect(find("mystery")?.value == -.infinity)
        #expect(find("mystery")?.type == .unknown)

        let metadata = parser.metadata
        #expect(metadata.count == 8)
        #expect(metadata.first == MetricMetadata(family: "acme_http_requests", type: .counter,
                                                 help: "Requests served, by \"method\" and code.", unit: ""))
        #expect(metadata[1] == MetricMetadata(family: "request_duration_seconds", type: .histogram,
                                              help: "Request latency.\nSecond line.", unit: "seconds"))
        #expect(metadata.map(\.type) == [.counter, .histogram, .gaugeHistogram, .summary, .info, .stateset, .gauge, .unknown])
        #expect(metadata.first { $0.family == "temperature_celsius" }?.unit == "celsius")
    }

    /// The generated OpenMetrics variant of the node_exporter fixture (counter families renamed,
    /// `unknown` for `untyped`, UNIT lines, six exemplars, `# EOF`) holds the same samples.
    @Test func nodeExporterOpenMetricsMatchesText() throws {
        let text = try parseTextFormat(Self.fixture("node_exporter.prom"))
        let body = try Self.fixture("node_exporter.om")
        var parser = TextParser(body, format: .openMetrics)
        var n = 0
        var exemplars = 0
        var typed = 0
        while let sample = try parser.next() {
            let labels = try parser.labels(of: sample)
            #expect(labels == text[n].labels)
            #expect(sample.value == text[n].value || sample.value.isNaN && text[n].value.isNaN)
            if try parser.exemplar(of: sample) != nil { exemplars += 1 }
            if parser.type(of: sample) != nil { typed += 1 }
            n += 1
        }
        #expect(n == Self.fixtureSamples)
        #expect(exemplars == 6)
        #expect(typed == Self.fixtureSamples)
        let metadata = parser.metadata
        // 283: renaming counter `go_memstats_alloc_bytes_total` to its OpenMetrics family name
        // `go_memstats_alloc_bytes` merges it with the gauge of that name.
        #expect(metadata.count == 283)
        #expect(metadata.contains(MetricMetadata(family: "node_cpu_seconds", type: .counter,
                                                 help: "Seconds the CPUs spent in each mode.", unit: "seconds")))
    }

    @Test func nodeExporterTextMetadata() throws {
        var parser = TextParser(try Self.fixture("node_exporter.prom"))
        while try parser.next() != nil {}
        let metadata = parser.metadata
        #expect(metadata.count == 284)
        #expect(metadata.first == MetricMetadata(family: "go_gc_duration_seconds", type: .summary,
                                                 help: "A summary of the pause duration of garbage collection cycles.", unit: ""))
        #expect(metadata.filter { $0.type == .unknown }.count == 47)
        #expect(metadata.allSatisfy { $0.unit.isEmpty && !$0.help.isEmpty })
    }

    /// Random corruptions of the OpenMetrics fixture never trap, and whatever `next()` accepts,
    /// `labels(of:)` and `exemplar(of:)` accept too.
    @Test func corruptedOpenMetricsNeverTrap() throws {
        let body = try Self.fixture("openmetrics.om")
        let interesting: [UInt8] = Array("{}=,\"\\ \t\n#\r.e".utf8) + [0, 0xC3, 0xFF, UInt8(ascii: "a"), UInt8(ascii: "1")]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var bytes = body
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let k = Int.random(in: 0..<bytes.count, using: &generator)
                if Bool.random(using: &generator) {
                    bytes[k] = interesting.randomElement(using: &generator)!
                } else {
                    bytes.remove(at: k)
                }
            }
            var parser = TextParser(bytes, format: .openMetrics)
            do {
                while let sample = try parser.next() {
                    #expect(throws: Never.self) { _ = try parser.labels(of: sample) }
                    #expect(throws: Never.self) { _ = try parser.exemplar(of: sample) }
                }
                _ = parser.metadata
            } catch {
                #expect(error.line >= 1)
            }
        }
    }
}
