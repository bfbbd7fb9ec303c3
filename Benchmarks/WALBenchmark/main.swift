// WAL benchmark: append throughput, bytes per sample on disk and replay (open) time, for
// node_exporter-like scrapes. Not a test: it prints figures (see docs/wal-benchmark.md).
//
//   swift run -c release --scratch-path .build-wal WALBenchmark [fixture.prom] [targets] [rounds] [replayTargets]
//
// Defaults: Tests/ExpositionTests/Fixtures/node_exporter.prom (relative to the package root),
// 10 targets, 300 rounds, 200 targets (200,000 series) for the replay WAL.
//
// Each target exposes 1,000 series: the fixture's 521 series (real node_exporter output) with
// the target's `instance` and `job="node"`, plus `node_cpu_seconds_total` for more CPUs and
// modes until there are 1,000. One commit per target per round ("scrape"), every 15 s of
// simulated time: the first round appends by labels, the others by ref, as the scraper does.
// Counters grow, a quarter of the gauges change, the rest stay constant, which is roughly what
// node_exporter does between two scrapes.

#if canImport(Glibc)
import Model
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Exposition
import Foundation
import Logging
import WAL

/// SplitMix64: a fixed-seed generator, so every run writes the same data.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct SeriesTemplate {
    var labels: [Label]
    var value: Double
    var isCounter: Bool
}

/// The fixture's series, extended to 1,000 with more CPUs.
func loadTemplates(_ path: String) throws -> [SeriesTemplate] {
    guard let data = FileManager.default.contents(atPath: path) else {
        print("cannot read \(path)")
        exit(1)
    }
    var parser = TextParser([UInt8](data), format: .prometheusText)
    var out: [SeriesTemplate] = []
    while let sample = try parser.next() {
        let labels = try parser.labels(of: sample)
        let name = labels.metricName
        let counter = name.hasSuffix("_total") || name.hasSuffix("_count") || name.hasSuffix("_sum") || name.hasSuffix("_bucket")
        out.append(SeriesTemplate(labels: labels.pairs, value: sample.value.isFinite ? sample.value : 0, isCounter: counter))
    }
    let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
    var cpu = 2
    while out.count < 1000 {
        for mode in modes where out.count < 1000 {
            out.append(SeriesTemplate(
                labels: [Label("__name__", "node_cpu_seconds_total"), Label("cpu", "\(cpu)"), Label("mode", mode)],
                value: Double(1000 + cpu * 37 + mode.utf8.count * 101) + 0.25, isCounter: true))
        }
        cpu += 1
    }
    return out
}

struct Target {
    var labels: [Labels]
    var values: [Double]
    var refs: [SeriesRef] = []

    init(index: Int, templates: [SeriesTemplate]) {
        let instance = "10.\(index / 250).\(index % 250).\(10 + index % 7):9100"
        labels = templates.map { t in
            Labels(t.labels + [Label("instance", instance), Label("job", "node")])
        }
        values = templates.map(\.value)
    }

    /// One scrape's batch at `timestamp`, advancing the values.
    mutating func batch(_ templates: [SeriesTemplate], timestamp: Int64, rng: inout SplitMix64, into batch: inout AppendBatch) {
        batch.removeAll()
        for i in values.indices {
            if templates[i].isCounter {
                // A few increments per second, kept to two decimals as CPU seconds are.
                values[i] = ((values[i] + Double(rng.next() % 3000) / 100) * 100).rounded() / 100
            } else if rng.next() % 4 == 0 {
                values[i] = (values[i] * (0.9 + Double(rng.next() % 2000) / 10000) * 1000).rounded() / 1000
            }
            if refs.isEmpty {
                batch.append(labels: labels[i], timestamp: timestamp, value: values[i])
            } else {
                batch.append(ref: refs[i], timestamp: timestamp, value: values[i])
            }
        }
    }
}

func directorySize(_ path: String) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.reduce(0) { sum, name in
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
        return sum + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
    }
}

func tempDirectory(_ tag: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("wal-bench-\(tag)-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// CPU time of the whole process (every thread, user and system), in seconds: what a commit
/// costs, whatever else the machine is running (wall-clock time is noisy on a shared machine).
/// The whole process, since a commit runs partly on the caller's thread and partly on the log's
/// writer thread.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Wall-clock seconds on a monotonic clock.
func wallSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

// The log's API, in one place (so that the same benchmark can be built against another version
// of it).
func commit(_ wal: WriteAheadLog, _ batch: AppendBatch) async throws -> [SeriesRef] {
    try await wal.commit(batch)
}

func close(_ wal: WriteAheadLog) async throws {
    try await wal.close()
}

func fmt(_ x: Double, _ decimals: Int = 1) -> String {
    String(format: "%.\(decimals)f", x)
}

/// Opens a WAL with the given compression ("none" or "snappy").
func openWAL(_ directory: String, compression: String, segmentSize: Int = 32 << 20) throws -> WriteAheadLog {
    let mode: WALCompression = compression == "none" ? .none : .snappy
    var logger = Logger(label: "wal-bench")
    logger.logLevel = .error
    // WALBENCH_WINDOW: bytes of the committed-record window (0: the feed off).
    let window = ProcessInfo.processInfo.environment["WALBENCH_WINDOW"].flatMap(Int.init) ?? WriteAheadLog.defaultCommittedRecordWindow
    return try WriteAheadLog(
        directory: directory, segmentSize: segmentSize, compression: mode, committedRecordWindow: window, logger: logger)
}

struct AppendResult {
    var samples: Int
    var commits: Int
    /// Process CPU time of the timed part.
    var seconds: Double
    /// Wall-clock time of the timed part.
    var wall: Double
    var bytes: Int
    var totalSamples: Int
}

/// `compression` "none", "snappy", or "snappy+released": snappy, with every commit also releasing a
/// ref nobody uses, so that the log's released set is never empty and every sample appended by
/// ref is checked against it (the churn case). One task commits, one batch after another.
func appendRun(templates: [SeriesTemplate], targets targetCount: Int, rounds: Int, compression: String) async throws -> AppendResult {
    let dir = tempDirectory("append")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let wal = try openWAL(dir, compression: compression == "none" ? "none" : "snappy")
    let releasing = compression == "snappy+released"
    var rng = SplitMix64(state: 42)
    var targets = (0..<targetCount).map { Target(index: $0, templates: templates) }
    var batch = AppendBatch()
    var t0: Int64 = 1_700_000_000_000
    // Round 0: every series is new (not timed).
    for i in targets.indices {
        targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
        targets[i].refs = try await commit(wal, batch)
    }
    var samples = 0
    var commits = 0
    let start = processCPUSeconds()
    let wallStart = wallSeconds()
    for _ in 1..<rounds {
        t0 += 15_000
        for i in targets.indices {
            targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
            if releasing { batch.release(ref: 1 << 40 + SeriesRef(commits)) }
            _ = try await commit(wal, batch)
            samples += batch.sampleCount
            commits += 1
        }
    }
    let elapsed = processCPUSeconds() - start
    let wall = wallSeconds() - wallStart
    try await close(wal)
    return AppendResult(
        samples: samples, commits: commits, seconds: elapsed, wall: wall, bytes: directorySize(dir),
        totalSamples: samples + targetCount * templates.count)
}

/// Snappy; every round, all targets commit at once (one task each), as scrapes that fall due
/// together do. The batches are built before each round (not timed).
func concurrentAppendRun(templates: [SeriesTemplate], targets targetCount: Int, rounds: Int) async throws -> AppendResult {
    let dir = tempDirectory("append-concurrent")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let wal = try openWAL(dir, compression: "snappy")
    var rng = SplitMix64(state: 42)
    var targets = (0..<targetCount).map { Target(index: $0, templates: templates) }
    var t0: Int64 = 1_700_000_000_000
    for i in targets.indices {
        var batch = AppendBatch()
        targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
        targets[i].refs = try await commit(wal, batch)
    }
    var samples = 0
    var commits = 0
    var elapsed = 0.0
    var wall = 0.0
    for _ in 1..<rounds {
        t0 += 15_000
        var batches: [AppendBatch] = []
        for i in targets.indices {
            var batch = AppendBatch()
            targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
            batches.append(batch)
        }
        let start = processCPUSeconds()
        let wallStart = wallSeconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in batches {
                group.addTask { _ = try await commit(wal, batch) }
            }
            try await group.waitForAll()
        }
        elapsed += processCPUSeconds() - start
        wall += wallSeconds() - wallStart
        samples += batches.reduce(0) { $0 + $1.sampleCount }
        commits += batches.count
    }
    try await close(wal)
    return AppendResult(
        samples: samples, commits: commits, seconds: elapsed, wall: wall, bytes: directorySize(dir),
        totalSamples: samples + targetCount * templates.count)
}

/// Commits of one sample each, one task, one after another: the fixed cost of a commit (for the
/// writer-thread log, mostly the hand-off to the writer thread and back).
func tinyCommitRun(commits: Int) async throws -> (cpu: Double, wall: Double) {
    let dir = tempDirectory("tiny")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let wal = try openWAL(dir, compression: "none")
    var batch = AppendBatch()
    batch.append(labels: Labels([Label("__name__", "tiny")]), timestamp: 0, value: 0)
    let ref = try await commit(wal, batch)[0]
    let start = processCPUSeconds()
    let wallStart = wallSeconds()
    for i in 1...commits {
        batch.removeAll()
        batch.append(ref: ref, timestamp: Int64(i), value: 1)
        _ = try await commit(wal, batch)
    }
    let result = (processCPUSeconds() - start, wallSeconds() - wallStart)
    try await close(wal)
    return result
}

/// Time of the batch building alone (what the scraper would do anyway), to subtract.
func buildOnly(templates: [SeriesTemplate], targets targetCount: Int, rounds: Int) -> Double {
    var rng = SplitMix64(state: 42)
    var targets = (0..<targetCount).map { Target(index: $0, templates: templates) }
    for i in targets.indices { targets[i].refs = Array(1...SeriesRef(templates.count)) }
    var batch = AppendBatch()
    var sink = 0
    let start = processCPUSeconds()
    for r in 1..<rounds {
        for i in targets.indices {
            targets[i].batch(templates, timestamp: Int64(r), rng: &rng, into: &batch)
            sink &+= batch.sampleCount
        }
    }
    let elapsed = processCPUSeconds() - start
    if sink == 42 { print("") }
    return elapsed
}

/// Series that are new in every commit: each round, every target's 1,000 series get a new `pod`
/// label (a rollout), so each commit resolves 1,000 unknown label sets, gives them refs and
/// writes them in a series record. Snappy. The batches are built before each commit's timing.
func newSeriesRun(templates: [SeriesTemplate], targets targetCount: Int, rounds: Int) async throws -> AppendResult {
    let dir = tempDirectory("new-series")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let wal = try openWAL(dir, compression: "snappy")
    var rng = SplitMix64(state: 11)
    var targets = (0..<targetCount).map { Target(index: $0, templates: templates) }
    var batch = AppendBatch()
    var samples = 0, commits = 0
    var elapsed = 0.0, wall = 0.0
    var t0: Int64 = 1_700_000_000_000
    for round in 0..<rounds {
        for i in targets.indices {
            let pod = Label("pod", "node-exporter-\(round)-\(i)")
            targets[i].labels = targets[i].labels.map { $0.setting(pod.name, to: pod.value) }
            targets[i].refs = []
            targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
            let start = processCPUSeconds()
            let wallStart = wallSeconds()
            _ = try await commit(wal, batch)
            elapsed += processCPUSeconds() - start
            wall += wallSeconds() - wallStart
            samples += batch.sampleCount
            commits += 1
        }
        t0 += 15_000
    }
    try await close(wal)
    return AppendResult(samples: samples, commits: commits, seconds: elapsed, wall: wall, bytes: directorySize(dir), totalSamples: samples)
}

/// Reads back a log written like `appendRun`'s with `WALReader`, decoding every record: what each
/// remote-write endpoint does. Returns process CPU seconds per sample read and the samples.
func readRun(templates: [SeriesTemplate], targets targetCount: Int, rounds: Int) async throws -> (seconds: Double, samples: Int) {
    let dir = tempDirectory("read")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let wal = try openWAL(dir, compression: "snappy")
    var rng = SplitMix64(state: 42)
    var targets = (0..<targetCount).map { Target(index: $0, templates: templates) }
    var batch = AppendBatch()
    var t0: Int64 = 1_700_000_000_000
    for round in 0..<rounds {
        for i in targets.indices {
            targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
            let refs = try await commit(wal, batch)
            if round == 0 { targets[i].refs = refs }
        }
        t0 += 15_000
    }
    try await close(wal)
    var best = Double.infinity
    var count = 0
    for _ in 0..<3 {
        let start = processCPUSeconds()
        var reader = try WALReader(directory: dir, from: WALPosition(segment: 0, offset: 0))
        count = 0
        var checksum = 0.0
        while let (record, _) = try reader.next() {
            if case .samples(let s) = record {
                count += s.count
                checksum += s.last?.value ?? 0
            }
        }
        if checksum == 42 { print("") }
        best = min(best, processCPUSeconds() - start)
    }
    return (best, count)
}

/// Bytes the process has allocated with malloc and not freed (every arena, mmapped chunks
/// included): glibc's `malloc_stats()` "in use bytes" of its total, read back from stderr.
/// (`mallinfo2` is not visible to Swift; `malloc_stats` takes no argument, so it can be called
/// through `dlsym` safely.)
func heapInUse() -> Int {
    typealias MallocStats = @convention(c) () -> Void
    guard let symbol = dlsym(nil, "malloc_stats") else { return 0 }
    let mallocStats = unsafeBitCast(symbol, to: MallocStats.self)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("wal-bench-malloc-\(getpid())").path
    let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
    guard fd >= 0 else { return 0 }
    fflush(nil)
    let saved = dup(2)
    dup2(fd, 2)
    mallocStats()
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    close(fd)
    defer { unlink(path) }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
        let total = text.range(of: "Total (incl. mmap):")
    else { return 0 }
    for line in text[total.upperBound...].split(separator: "\n") where line.contains("in use bytes") {
        return Int(line.split(separator: "=").last!.trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
}

struct ReplayResult {
    var series: Int
    var segments: Int
    var directoryBytes: Int
    var openSeconds: Double
    var report: WALOpenReport
    /// Heap bytes the open log holds (after the open, minus before), per series.
    var heapPerSeries: Double
}

/// Writes the replay log once (`targetCount` targets × 1,000 series, 12 rounds, 16 MiB segments,
/// so that each segment's head holds the whole series table); returns its directory.
func writeReplayLog(templates: [SeriesTemplate], targets targetCount: Int, compression: String) async throws -> String {
    let dir = tempDirectory("replay-template")
    let wal = try openWAL(dir, compression: compression, segmentSize: 16 << 20)
    var rng = SplitMix64(state: 7)
    var targets = (0..<targetCount).map { Target(index: $0, templates: templates) }
    var batch = AppendBatch()
    var t0: Int64 = 1_700_000_000_000
    for round in 0..<12 {
        for i in targets.indices {
            targets[i].batch(templates, timestamp: t0, rng: &rng, into: &batch)
            let refs = try await commit(wal, batch)
            if round == 0 { targets[i].refs = refs }
        }
        t0 += 15_000
    }
    try await close(wal)
    return dir
}

/// Opens a copy of the log in `template` (each open starts a segment, so every run gets a fresh
/// copy): the CPU time of the open and the heap it keeps.
func replayRun(template: String, compression: String) async throws -> ReplayResult {
    let dir = tempDirectory("replay")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.removeItem(atPath: dir)
    try FileManager.default.copyItem(atPath: template, toPath: dir)
    let segments = try FileManager.default.contentsOfDirectory(atPath: dir).count
    let bytes = directorySize(dir)
    let heapBefore = heapInUse()
    let start = processCPUSeconds()
    let wal = try openWAL(dir, compression: compression, segmentSize: 16 << 20)
    let elapsed = processCPUSeconds() - start
    let heapAfter = heapInUse()
    let series = wal.seriesCount
    let report = wal.openReport
    try await close(wal)
    return ReplayResult(
        series: series, segments: segments, directoryBytes: bytes, openSeconds: elapsed, report: report,
        heapPerSeries: Double(heapAfter - heapBefore) / Double(max(1, series)))
}

/// What a WAL is made of on the bench's workload (/work/shared/bench's generator, files
/// `<farm>/<tick>/<target>.prom` written by it): the expositions are parsed, given the
/// target's `instance` and `job` labels, and committed one target per commit, every 5 s of
/// simulated time (tick 0 by labels, the others by ref, as the scraper does). Snappy, one big
/// segment, so that no head interrupts; then the log is reopened, which writes the head of a new
/// segment (every series, as at each segment start).
struct Composition {
    var series = 0
    /// Bytes of tick 0's commits (series records and the first samples records).
    var firstTickBytes = 0
    /// Samples after tick 0, and the bytes of their commits (samples records only).
    var laterSamples = 0
    var laterBytes = 0
    /// The head of a segment: every series (and the metadata table).
    var headBytes = 0
    /// `write_bytes` of /proc/self/io over the later ticks (what the bench's procmon counts: pages
    /// dirtied, so a page written again after an fsync counts again), with an fsync every 40
    /// commits (the agent's 1 s sync interval at medium's 40 commits per second).
    var laterWriteBytes = 0

    var samplesRecordBytesPerSample: Double { Double(laterBytes) / Double(max(1, laterSamples)) }
    /// Series record bytes per series (tick 0 minus a tick of samples records).
    var seriesRecordBytesPerSeries: Double {
        (Double(firstTickBytes) - samplesRecordBytesPerSample * Double(series)) / Double(max(1, series))
    }

    /// Steady-state bytes per sample with segments of `segmentSize`: each segment holds a head and
    /// then samples records until it is full (a head over half the limit doubles the limit, as
    /// the writer does). Series records of new series are left out (no churn).
    func bytesPerSample(segmentSize: Int) -> Double {
        let limit = Double(max(segmentSize, 2 * headBytes))
        let samplesPerSegment = (limit - Double(headBytes)) / samplesRecordBytesPerSample
        return limit / samplesPerSegment
    }
}

/// `write_bytes` of /proc/self/io.
func processWriteBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("write_bytes:") {
        return Int(line.split(separator: " ").last!) ?? 0
    }
    return 0
}

func farmComposition(farm: String) async throws -> Composition {
    let order = ProcessInfo.processInfo.environment["WALBENCH_ORDER"] ?? "exposition"
    let ticks = try FileManager.default.contentsOfDirectory(atPath: farm).compactMap(Int.init).sorted()
    let targets = try FileManager.default.contentsOfDirectory(atPath: farm + "/0").filter { $0.hasSuffix(".prom") }.count
    let dir = tempDirectory("farm")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var c = Composition()
    var refs = [[SeriesRef]](repeating: [], count: targets)
    do {
        let wal = try openWAL(dir, compression: "snappy", segmentSize: 1 << 30)
        let empty = directorySize(dir)
        for tick in ticks {
            let before = directorySize(dir)
            let writeBytesBefore = processWriteBytes()
            var samples = 0
            for target in 0..<targets {
                guard let data = FileManager.default.contents(atPath: "\(farm)/\(tick)/\(target).prom") else { continue }
                var parser = TextParser([UInt8](data), format: .prometheusText)
                var batch = AppendBatch()
                let timestamp = 1_700_000_000_000 + Int64(tick) * 5000 + Int64(target) * 25
                var i = 0
                var byRef: [(SeriesRef, Int64, Double)] = []
                while let sample = try parser.next() {
                    if tick != ticks[0], order != "exposition" {
                        byRef.append((refs[target][i], sample.timestamp ?? timestamp, sample.value))
                    } else if tick == ticks[0] {
                        let labels = try parser.labels(of: sample)
                            .setting("instance", to: "10.0.\(target / 250).\(target % 250):9100").setting("job", to: "farm")
                        _ = batch.append(labels: labels, timestamp: sample.timestamp ?? timestamp, value: sample.value)
                    } else {
                        batch.append(ref: refs[target][i], timestamp: sample.timestamp ?? timestamp, value: sample.value)
                    }
                    i += 1
                }
                // WALBENCH_ORDER (experiment, later ticks): "value" sorts a commit's samples by
                // value bits, "ref-desc" by descending ref; default: exposition order.
                if !byRef.isEmpty {
                    if order == "value" { byRef.sort { $0.2.bitPattern < $1.2.bitPattern } }
                    if order == "ref-desc" { byRef.reverse() }
                    for (ref, t, v) in byRef { batch.append(ref: ref, timestamp: t, value: v) }
                }
                let new = try await commit(wal, batch)
                if tick == ticks[0] { refs[target] = new; c.series += new.count }
                samples += batch.sampleCount
                if target % 40 == 39 { try await wal.sync() }
            }
            if tick == ticks[0] {
                c.firstTickBytes = directorySize(dir) - before
            } else {
                c.laterSamples += samples
                c.laterBytes += directorySize(dir) - before
                c.laterWriteBytes += processWriteBytes() - writeBytesBefore
            }
        }
        _ = empty
        try await close(wal)
    }
    let wal = try openWAL(dir, compression: "snappy", segmentSize: 1 << 30)
    c.headBytes = wal.headSize
    try await close(wal)
    return c
}

// MARK: Main

let args = CommandLine.arguments
let fixture = args.count > 1 ? args[1] : "Tests/ExpositionTests/Fixtures/node_exporter.prom"
let targetCount = args.count > 2 ? Int(args[2]) ?? 10 : 10
let rounds = args.count > 3 ? Int(args[3]) ?? 300 : 300
let replayTargets = args.count > 4 ? Int(args[4]) ?? 200 : 200
/// Which parts to run (comma-separated): append, tiny, new, read, replay, farm. All but farm by default.
let cases = Set((ProcessInfo.processInfo.environment["WALBENCH_CASES"] ?? "append,tiny,new,read,replay").split(separator: ",").map(String.init))

let modes = ["none", "snappy"]
let templates = try loadTemplates(fixture)
print("WAL benchmark: \(targetCount) targets × \(templates.count) series, \(rounds) rounds (one commit per target per round)")
let build = buildOnly(templates: templates, targets: targetCount, rounds: rounds)
print("batch building alone: \(fmt(build / Double(targetCount * (rounds - 1)) * 1e6)) µs per batch (subtracted below)")
print("")
print("Append, CPU time of the process (all threads; batch building subtracted), best of 3:")
print("| compression | samples per CPU-second | CPU µs per commit (1000 samples) | wall µs per commit | bytes/sample on disk | WAL size |")
print("|---|---:|---:|---:|---:|---:|")
var perMode: [String: AppendResult] = [:]
for mode in modes + ["snappy+released", "snappy, concurrent"] where cases.contains("append") {
    // Best of three: the machine is shared.
    var best: AppendResult?
    for _ in 0..<3 {
        let r = mode == "snappy, concurrent"
            ? try await concurrentAppendRun(templates: templates, targets: targetCount, rounds: rounds)
            : try await appendRun(templates: templates, targets: targetCount, rounds: rounds, compression: mode)
        if best == nil || r.seconds < best!.seconds { best = r }
    }
    let r = best!
    perMode[mode] = r
    // The concurrent run builds its batches outside the timed part.
    let subtract = mode == "snappy, concurrent" ? 0 : build
    let walSeconds = max(1e-9, r.seconds - subtract)
    let wallSeconds = max(1e-9, r.wall - subtract)
    print("| \(mode) | \(fmt(Double(r.samples) / walSeconds, 0)) | \(fmt(walSeconds / Double(r.commits) * 1e6)) | "
        + "\(fmt(wallSeconds / Double(r.commits) * 1e6)) | "
        + "\(fmt(Double(r.bytes) / Double(r.totalSamples), 2)) | \(fmt(Double(r.bytes) / 1e6)) MB |")
}
if cases.contains("new") {
    // Best of three; 30 rounds (300,000 series in the table at the end).
    var best: AppendResult?
    for _ in 0..<3 {
        let r = try await newSeriesRun(templates: templates, targets: targetCount, rounds: 30)
        if best == nil || r.seconds < best!.seconds { best = r }
    }
    let r = best!
    print("| new series every commit, snappy | \(fmt(Double(r.samples) / r.seconds, 0)) | \(fmt(r.seconds / Double(r.commits) * 1e6)) | "
        + "\(fmt(r.wall / Double(r.commits) * 1e6)) | \(fmt(Double(r.bytes) / Double(r.totalSamples), 2)) | \(fmt(Double(r.bytes) / 1e6)) MB |")
}
if cases.contains("tiny") {
    // Best of three.
    let n = 20_000
    var best: (cpu: Double, wall: Double)?
    for _ in 0..<3 {
        let r = try await tinyCommitRun(commits: n)
        if best == nil || r.cpu < best!.cpu { best = r }
    }
    print("| 1 sample per commit, none | \(fmt(Double(n) / best!.cpu, 0)) | \(fmt(best!.cpu / Double(n) * 1e6)) | "
        + "\(fmt(best!.wall / Double(n) * 1e6)) | | |")
}
if let n = perMode["none"], let s = perMode["snappy"] {
    print("")
    print("snappy vs none: size × \(fmt(Double(s.bytes) / Double(n.bytes), 3)), time per commit × "
        + "\(fmt((s.seconds - build) / max(1e-9, n.seconds - build), 2))")
}
if cases.contains("read") {
    let r = try await readRun(templates: templates, targets: targetCount, rounds: min(rounds, 100))
    print("")
    print("Read back with WALReader (snappy log, every record decoded), best of 3: \(fmt(r.seconds / Double(r.samples) * 1e9)) ns CPU per sample (\(r.samples) samples)")
}
if cases.contains("replay") {
    print("")
    print("Replay (open) of a WAL with \(replayTargets * templates.count) series, 12 rounds of scrapes, 16 MiB segments:")
    print("CPU time of the open (replay, repair check, new segment with its head), best of 3; heap the open log keeps, per series:")
    print("| compression | segments on disk | WAL size | replayed | open CPU time | MB/s replayed | series/s | heap per series | series table (estimate) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in modes {
        let template = try await writeReplayLog(templates: templates, targets: replayTargets, compression: mode)
        defer { try? FileManager.default.removeItem(atPath: template) }
        var best: ReplayResult?
        for _ in 0..<3 {
            let r = try await replayRun(template: template, compression: mode)
            if best == nil || r.openSeconds < best!.openSeconds { best = r }
        }
        let r = best!
        print("| \(mode) | \(r.segments) | \(fmt(Double(r.directoryBytes) / 1e6)) MB | \(r.report.segments) segment(s), "
            + "\(fmt(Double(r.report.bytes) / 1e6)) MB | \(fmt(r.openSeconds * 1000)) ms | "
            + "\(fmt(Double(r.report.bytes) / 1e6 / r.openSeconds)) | \(fmt(Double(r.series) / r.openSeconds, 0)) | "
            + "\(fmt(r.heapPerSeries, 0)) B | \(fmt(Double(r.report.seriesMemoryBytes) / 1e6)) MB |")
    }
}
if cases.contains("farm") {
    let farm = ProcessInfo.processInfo.environment["WALBENCH_FARM"] ?? "/tmp/walfarm"
    let c = try await farmComposition(farm: farm)
    print("")
    print("WAL composition on the bench's workload (\(farm)): \(c.series) series, snappy")
    print("- series records: \(fmt(c.seriesRecordBytesPerSeries)) B per series (written once per new series)")
    print("- samples records: \(fmt(c.samplesRecordBytesPerSample, 2)) B per sample (\(c.laterSamples) samples, \(c.laterBytes) B)")
    print("- write_bytes counted while writing the samples records, fsync every 40 commits: \(fmt(Double(c.laterWriteBytes) / Double(max(1, c.laterSamples)), 2)) B per sample")
    print("- segment head (every series): \(fmt(Double(c.headBytes) / 1e6, 2)) MB = \(fmt(Double(c.headBytes) / Double(max(1, c.series)))) B per series")
    print("| segment size | head share | bytes/sample, steady state |")
    print("|---:|---:|---:|")
    for mib in [32, 64, 128, 256] {
        let size = mib << 20
        print("| \(mib) MiB | \(fmt(Double(c.headBytes) / Double(max(size, 2 * c.headBytes)) * 100))% | \(fmt(c.bytesPerSample(segmentSize: size), 2)) |")
    }
}
if let template = ProcessInfo.processInfo.environment["WALBENCH_REPLAY_DIR"] {
    // Opens a copy of an existing log (e.g. one written by the `replay` case and kept), so that
    // two builds can replay the very same files: CPU time of the open, heap kept per series.
    let dir = tempDirectory("replay-dir")
    try FileManager.default.removeItem(atPath: dir)
    try FileManager.default.copyItem(atPath: template, toPath: dir)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let heapBefore = heapInUse()
    let start = processCPUSeconds()
    let wal = try openWAL(dir, compression: "snappy", segmentSize: 128 << 20)
    let cpu = processCPUSeconds() - start
    let heap = heapInUse() - heapBefore
    let series = wal.seriesCount
    let table = wal.openReport.seriesMemoryBytes
    try await close(wal)
    print("replay-dir: \(series) series, open CPU \(fmt(cpu * 1000)) ms, heap kept \(fmt(Double(heap) / Double(max(1, series)), 0)) B/series, "
        + "series table \(fmt(Double(table) / Double(max(1, series)), 0)) B/series")
}
if let keep = ProcessInfo.processInfo.environment["WALBENCH_WRITE_REPLAY_LOG"] {
    // Writes the replay case's log (replayTargets × 1,000 series, 12 rounds, 16 MiB segments)
    // and moves it to `keep`.
    let dir = try await writeReplayLog(templates: templates, targets: replayTargets, compression: "snappy")
    try FileManager.default.moveItem(atPath: dir, toPath: keep)
    print("replay log written to \(keep): \(fmt(Double(directorySize(keep)) / 1e6)) MB")
}
