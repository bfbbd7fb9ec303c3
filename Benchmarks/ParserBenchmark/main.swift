// Parser benchmark: parses a node_exporter-sized body N times in each format and prints
// nanoseconds per sample and MB/s, for `next()` alone (the scrape-cache-hit path) and for
// `next()` plus `labels(of:)` (and `exemplar(of:)`) on every sample (the cache-miss path).
//
//   swift run -c release --scratch-path .build-expo ParserBenchmark [text.prom] [openmetrics.om] [iterations]
//
// Defaults: Tests/ExpositionTests/Fixtures/node_exporter.prom and node_exporter.om relative to
// the current directory, 2000 iterations.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Exposition

func readFile(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        print("cannot open \(path)")
        exit(1)
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return bytes
}

/// `x` with one decimal.
func fixed(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? fill + s : s + fill
}

struct Result {
    var samples: Int
    var seconds: Double
}

@inline(never)
func run(_ body: [UInt8], _ format: ExpositionFormat, iterations: Int, materialise: Bool) throws -> (Result, Double) {
    var checksum = 0.0
    var samples = 0
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<iterations {
        var parser = TextParser(body, format: format)
        while let sample = try parser.next() {
            samples += 1
            checksum += sample.value.isFinite ? 1 : 0
            if materialise {
                let labels = try parser.labels(of: sample)
                checksum += Double(labels.count)
                if let exemplar = try parser.exemplar(of: sample) { checksum += exemplar.value }
            }
        }
    }
    let elapsed = start.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (Result(samples: samples, seconds: seconds), checksum)
}

let arguments = CommandLine.arguments
let textPath = arguments.count > 1 ? arguments[1] : "Tests/ExpositionTests/Fixtures/node_exporter.prom"
let omPath = arguments.count > 2 ? arguments[2] : "Tests/ExpositionTests/Fixtures/node_exporter.om"
let iterations = arguments.count > 3 ? Int(arguments[3]) ?? 2000 : 2000

let inputs: [(String, ExpositionFormat, [UInt8])] = [
    ("text 0.0.4", .prometheusText, readFile(textPath)),
    ("OpenMetrics", .openMetrics, readFile(omPath)),
]

print("iterations: \(iterations)")
var sink = 0.0
for (name, format, body) in inputs {
    // Warm-up, and the per-body sample count.
    var parser = TextParser(body, format: format)
    var perBody = 0
    do {
        while try parser.next() != nil { perBody += 1 }
    } catch {
        print("\(name): parse error: \(error)")
        exit(1)
    }
    print("\(name): \(body.count) bytes, \(perBody) samples per body")
    for materialise in [false, true] {
        let (result, checksum) = try run(body, format, iterations: max(1, iterations / (materialise ? 4 : 1)), materialise: materialise)
        sink += checksum
        let nsPerSample = result.seconds * 1e9 / Double(result.samples)
        let bytes = Double(body.count) * Double(result.samples / perBody)
        let mbPerSecond = bytes / result.seconds / 1e6
        let label = materialise ? "next() + labels(of:) + exemplar(of:)" : "next() only"
        print("  \(pad(label, 38)) \(pad(fixed(nsPerSample), 7, left: true)) ns/sample  \(pad(fixed(mbPerSecond), 7, left: true)) MB/s")
    }
}
if sink == -1 { print(sink) }
