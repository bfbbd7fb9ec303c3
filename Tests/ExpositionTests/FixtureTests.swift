import Exposition
import Foundation
import Testing
import WAL

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
}
