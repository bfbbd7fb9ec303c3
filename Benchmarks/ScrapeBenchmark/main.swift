// Scrape-path benchmark: body bytes → AppendBatch for one target (parser, target labels, metric
// relabeling, scrape cache, metadata cache, batch), without HTTP and without the WAL.
//
//   swift build -c release --product ScrapeBenchmark
//   .build/release/ScrapeBenchmark [all|steady|first|first-relabel|memory] [iterations] [body.prom]
//
// - steady: every series is cached (the target's second and later scrapes): ns per sample.
// - first: every series is new (a fresh cache each time: labels built, relabeled, merged).
// - first-relabel: as first, with three typical metric_relabel_configs.
// - memory: heap bytes per cached series (mallinfo2 before/after filling 100 caches).
//
// The default body is Fixtures/target-1000.prom: 1000 series (159 kB, 176 HELP/TYPE lines)
// rendered by ../shared/bench/exposition.py (`TargetExposition(0, 1000).render(5)`), the
// generator the side-by-side benchmark serves, so it looks like what the agent scrapes there.
//
// For instruction counts, run one mode under callgrind with collection limited to the
// measured loop:
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measure*' \
//       .build/release/ScrapeBenchmark steady 50

#if canImport(Glibc)
import Glibc
#endif
import AgentConfig
import CHeapStats
import Exposition
import Model
import Relabel
import Scraper
import WAL

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

func fixed(_ x: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((x * scale).rounded())
    let whole = scaled / Int(scale), fraction = scaled % Int(scale)
    var f = String(fraction)
    while f.count < digits { f = "0" + f }
    return digits == 0 ? String(whole) : "\(whole).\(f)"
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func target(relabel: Bool) -> Target {
    var config = ScrapeConfig(jobName: "node", scrapeInterval: .seconds(5), scrapeTimeout: .seconds(5))
    config.staticConfigs = [StaticConfig(targets: ["10.0.0.1:9100"])]
    if relabel {
        do {
            config.metricRelabelConfigs = [
                try RelabelConfig(sourceLabels: ["__name__"], regex: "go_memstats_.*_total", action: .drop),
                try RelabelConfig(regex: "uid", action: .labeldrop),
                try RelabelConfig(sourceLabels: ["namespace"], regex: "(.*)", targetLabel: "team_namespace", replacement: "team-$1"),
            ]
        } catch {
            print("relabel config: \(error)")
            exit(1)
        }
    }
    return Target.targets(for: config)[0]
}

struct Run {
    var scrapes = 0
    var samples = 0
    var seconds = 0.0
    var checksum = 0
}

/// `iterations` scrapes of `body` against one warm cache: every series is a cache hit.
func steady(_ body: [UInt8], iterations: Int) throws -> Run {
    var appender = ScrapeAppender(target: target(relabel: false))
    var cache = ScrapeCache()
    var metadata = MetadataCache()
    var batch = AppendBatch()
    // The first scrape fills the cache (not measured).
    cache.beginAttempt()
    let first = try appender.append(
        body: body, format: .prometheusText, timestamp: 1, now: .now, cache: &cache, metadata: &metadata, to: &batch)
    _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
    cache.resolvePending(refs: (0..<first.seriesAdded).map { SeriesRef($0 + 1) })
    metadata.commitStaged()
    return try measureSteady(body, iterations: iterations, &appender, &cache, &metadata, &batch)
}

/// The measured loop of ``steady(_:iterations:)`` (callgrind collects inside `*measure*` only).
@inline(never)
func measureSteady(
    _ body: [UInt8], iterations: Int, _ appender: inout ScrapeAppender, _ cache: inout ScrapeCache,
    _ metadata: inout MetadataCache, _ batch: inout AppendBatch
) throws -> Run {
    var run = Run()
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<iterations {
        batch.removeAll()
        cache.beginAttempt()
        let counts = try appender.append(
            body: body, format: .prometheusText, timestamp: Int64(i + 2), now: .now, cache: &cache, metadata: &metadata, to: &batch)
        let vanished = cache.finishSuccessfulAttempt(trackTimestamps: false)
        // What ScrapeLoop does once the WAL committed the batch.
        cache.resolvePending(refs: [])
        metadata.commitStaged()
        run.scrapes += 1
        run.samples += counts.scraped
        run.checksum &+= batch.sampleCount &+ vanished.count &+ counts.seriesAdded
    }
    run.seconds = seconds(start.duration(to: clock.now))
    return run
}

/// `iterations` scrapes of `body` against an empty cache: every series is new.
@inline(never)
func measureFirst(_ body: [UInt8], iterations: Int, relabel: Bool) throws -> Run {
    var appender = ScrapeAppender(target: target(relabel: relabel))
    var batch = AppendBatch()
    var run = Run()
    let refs = (0..<2000).map { SeriesRef($0 + 1) }
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<iterations {
        var cache = ScrapeCache()
        var metadata = MetadataCache()
        batch.removeAll()
        cache.beginAttempt()
        let counts = try appender.append(
            body: body, format: .prometheusText, timestamp: Int64(i + 1), now: .now, cache: &cache, metadata: &metadata, to: &batch)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: Array(refs[0..<counts.seriesAdded]))
        metadata.commitStaged()
        run.scrapes += 1
        run.samples += counts.scraped
        run.checksum &+= batch.sampleCount &+ counts.seriesAdded &+ cache.count
    }
    run.seconds = seconds(start.duration(to: clock.now))
    return run
}

/// Heap bytes per cached series (mallinfo2): `targets` caches, each filled with every series of `body`.
func memoryPerSeries(_ body: [UInt8], targets: Int) throws -> (bytes: Double, series: Int) {
    var appender = ScrapeAppender(target: target(relabel: false))
    var batch = AppendBatch()
    let refs = (0..<2000).map { SeriesRef($0 + 1) }
    var caches: [ScrapeCache] = []
    caches.reserveCapacity(targets)
    var series = 0
    let before = cheapstats_bytes_in_use()
    for _ in 0..<targets {
        var cache = ScrapeCache()
        var metadata = MetadataCache()
        batch.removeAll()
        cache.beginAttempt()
        let counts = try appender.append(
            body: body, format: .prometheusText, timestamp: 1, now: .now, cache: &cache, metadata: &metadata, to: &batch)
        _ = cache.finishSuccessfulAttempt(trackTimestamps: false)
        cache.resolvePending(refs: Array(refs[0..<counts.seriesAdded]))
        caches.append(cache)
        series += cache.count
    }
    batch = AppendBatch()  // free the batch's labels: only the caches stay
    let after = cheapstats_bytes_in_use()
    let bytes = Double(Int(after) - Int(before)) / Double(series)
    withExtendedLifetime(caches) {}
    return (bytes, series)
}

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "all"
let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 400 : 400
let path = arguments.count > 3 ? arguments[3] : "Benchmarks/ScrapeBenchmark/Fixtures/target-1000.prom"
let body = readFile(path)

func report(_ name: String, _ run: Run) {
    let ns = run.seconds * 1e9 / Double(max(1, run.samples))
    let mb = Double(body.count) * Double(run.scrapes) / run.seconds / 1e6
    print("\(name): \(fixed(ns)) ns/sample, \(fixed(mb)) MB/s (\(run.samples) samples, checksum \(run.checksum))")
}

do {
    print("body: \(path), \(body.count) bytes, iterations: \(iterations)")
    if mode == "all" || mode == "steady" { report("steady (all cached)", try steady(body, iterations: iterations)) }
    if mode == "all" || mode == "first" {
        report("first scrape (all new)", try measureFirst(body, iterations: max(1, iterations / 4), relabel: false))
    }
    if mode == "all" || mode == "first-relabel" {
        report("first scrape, 3 metric_relabel_configs", try measureFirst(body, iterations: max(1, iterations / 4), relabel: true))
    }
    if mode == "all" || mode == "memory" {
        let (bytes, series) = try memoryPerSeries(body, targets: 100)
        print("memory: \(fixed(bytes)) heap bytes per cached series (\(series) series in 100 caches)")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
