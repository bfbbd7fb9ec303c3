// Request-encoding benchmark: encodes remote-write requests of node_exporter-like series and
// prints samples/s and bytes on the wire per sample (after snappy) for
//   - old:  the encoder before the rewrite (labels cached as `ProtoLabel`s, the whole
//           `WriteRequest` converted to libprotobuf-c structs and C strings per request),
//           reproduced here from its code over the public PrometheusProto API;
//   - v1:   `RequestEncoder.encodeV1`: each request's series looked up once in the endpoint's
//           `SeriesCache`, labels written from their bytes with the external label merged in;
//   - v2:   `RequestEncoder.encodeV2` (per-request symbol table interned on bytes).
// and, with `mem` (labels shared with the WAL's records) or `mem-own` (labels copied, as a watcher
// reading the files or write relabeling has them), the resident memory a `SeriesCache` takes per series.
//
//   swift run -c release --scratch-path .build-enc EncodeBenchmark [series] [rounds] [old|v1|v2|mem|mem-own]
//
// Defaults: 20000 series, 5 rounds, all three encoders (name one to profile it alone). Every
// series has its family's metadata, which only 2.0 sends with the samples; `cluster` is an
// external label (merged when encoding; the old encoder has it in every series' labels, so the
// wire bytes are the same). Requests hold 2000 samples (max_samples_per_send's default), one
// scrape's worth of series each, so every series appears once per request.
// The figure printed is the median round, in samples per second of this thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID), so that other processes on a shared machine disturb it less.

#if canImport(Glibc)
import Model
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PrometheusProto
import Snappy
import WAL

import RemoteWrite

/// SplitMix64: a fixed-seed generator, so every run encodes the same data.
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

/// The external label every series is sent with.
let externalLabels = Labels(["cluster": "production-eu-west-1"])

/// A node_exporter/kube-state-metrics-like label set: 7 to 9 labels (8 to 10 with the external
/// `cluster` label, which `withExternal` adds), values of realistic lengths.
func makeSeries(count: Int, withExternal: Bool) -> [Labels] {
    let families = [
        "node_cpu_seconds_total", "node_network_receive_bytes_total", "node_filesystem_avail_bytes",
        "container_memory_working_set_bytes", "http_request_duration_seconds_bucket",
        "kube_pod_container_status_restarts_total", "node_disk_io_time_seconds_total", "up",
    ]
    let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
    var series: [Labels] = []
    series.reserveCapacity(count)
    for index in 0..<count {
        let host = index / 400
        var pairs: [Label] = [
            Label("__name__", families[index % families.count]),
            Label("instance", "10.12.\(host / 250).\(host % 250):9100"),
            Label("job", index % 3 == 0 ? "kubernetes-pods" : "node-exporter"),
            Label("namespace", "monitoring"),
            Label("pod", "node-exporter-\(String(host, radix: 36))x7kq\(host % 10)"),
        ]
        switch index % families.count {
        case 0: pairs += [Label("cpu", "\(index / 8 % 64)"), Label("mode", modes[index % 8])]
        case 1, 6: pairs += [Label("device", "eth\(index % 4)")]
        case 4: pairs += [Label("le", ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"][index % 9]),
                          Label("handler", "/api/v1/query"), Label("method", "GET")]
        default: pairs += [Label("container", "app-\(index % 50)")]
        }
        let labels = Labels(pairs)
        series.append(withExternal ? labels.addingMissing(from: externalLabels) : labels)
    }
    return series
}

/// One scrape's samples per request, `perRequest` series at a time, values as counters and
/// gauges; timestamps of one scrape with a few milliseconds of jitter.
func makeRequests(seriesCount: Int, perRequest: Int, scrapes: Int) -> [[SampleRecord]] {
    var random = SplitMix64(state: 42)
    var requests: [[SampleRecord]] = []
    for scrape in 0..<scrapes {
        let base: Int64 = 1_763_700_000_000 + Int64(scrape) * 15_000
        var start = 0
        while start < seriesCount {
            let end = min(start + perRequest, seriesCount)
            requests.append((start..<end).map { ref in
                let value: Double = switch ref % 4 {
                case 0: Double(random.next() % 10_000_000) / 100  // counter with cents
                case 1: Double(random.next() % 2)  // 0/1 gauge
                case 2: Double(random.next() % 1_000_000_000)  // bytes
                default: Double(random.next() % 1000) / 1000 * 3.7  // arbitrary float
                }
                return SampleRecord(ref: SeriesRef(ref), timestamp: base + Int64(ref % 7), value: value)
            })
            start = end
        }
    }
    return requests
}

// MARK: The encoder before the rewrite (Sources/RemoteWrite/RequestEncoder.swift at bb0d43d)

struct OldEncoder {
    var seriesLabels: [SeriesRef: [ProtoLabel]] = [:]

    mutating func addSeries(_ ref: SeriesRef, _ labels: Labels) {
        seriesLabels[ref] = labels.pairs.map { ProtoLabel(name: $0.name, value: $0.value) }
    }

    func encode(_ samples: [SampleRecord]) -> [UInt8] {
        var indexByRef: [SeriesRef: Int] = [:]
        var series: [ProtoTimeSeries] = []
        for sample in samples {
            guard let labels = seriesLabels[sample.ref] else { continue }
            let point = ProtoSample(value: sample.value, timestamp: sample.timestamp)
            if let index = indexByRef[sample.ref] {
                series[index].samples.append(point)
            } else {
                indexByRef[sample.ref] = series.count
                series.append(ProtoTimeSeries(labels: labels, samples: [point]))
            }
        }
        return Snappy.compress(WriteRequest(timeseries: series).serialized())
    }
}

// MARK: Measuring

struct Figures {
    var samplesPerSecond: Double
    var wireBytes: Int
    var samples: Int
    var bytesPerSample: Double { Double(wireBytes) / Double(samples) }
}

/// This thread's CPU time in seconds.
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Runs `encode` over every request `rounds` times; the median round's rate.
@inline(never)
func measure<Request>(rounds: Int, requests: [Request], samples count: (Request) -> Int, _ encode: (Request) -> [UInt8]) -> Figures {
    var rates: [Double] = []
    var wireBytes = 0
    var samples = 0
    // One warm-up pass (fills caches and scratch buffers).
    for request in requests { _ = encode(request) }
    for _ in 0..<rounds {
        var bytes = 0
        var total = 0
        let start = cpuSeconds()
        for request in requests {
            bytes += encode(request).count
            total += count(request)
        }
        rates.append(Double(total) / (cpuSeconds() - start))
        wireBytes = bytes
        samples = total
    }
    rates.sort()
    return Figures(samplesPerSecond: rates[rates.count / 2], wireBytes: wireBytes, samples: samples)
}

func format(_ x: Double, _ decimals: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((x * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(scaled % Int(scale))
    return decimals == 0 ? "\(whole)" : "\(whole)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

let arguments = CommandLine.arguments
let seriesCount = arguments.count > 1 ? Int(arguments[1]) ?? 20_000 : 20_000
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let only = arguments.count > 3 ? arguments[3] : nil
let perRequest = 2000
let scrapes = 4


/// Every family has HELP and TYPE, as node_exporter's do.
func makeFamilies(_ labels: [Labels]) -> [MetricMetadata] {
    var families: [String: MetricMetadata] = [:]
    for set in labels where families[set.metricName] == nil {
        let name = set.metricName
        families[name] = MetricMetadata(
            family: name, type: name.hasSuffix("_total") ? .counter : name.hasSuffix("_bucket") ? .histogram : .gauge,
            help: "Help text of \(name), about as long as node_exporter's.", unit: name.hasSuffix("_seconds_total") ? "seconds" : "")
    }
    return families.values.sorted { $0.family < $1.family }
}

/// Resident memory of the process, in bytes (`/proc/self/statm`). Measured in a process that
/// has freed next to nothing yet, so that the growth is what was allocated.
func heapInUse() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0, resident = 0
    withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            var line = [CChar](repeating: 0, count: 128)
            if fgets(&line, 128, file) != nil {
                let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
                s.pointee = Int(fields[0]) ?? 0
                r.pointee = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Memory per series of an endpoint's series cache: with the labels shared with the WAL's
/// records (they exist anyway: counted elsewhere), and with labels of its own (a watcher that
/// decoded them from the segment files, or an endpoint with write relabeling).
@MainActor func measureMemory() {
    let own = makeSeries(count: seriesCount, withExternal: false)
    let labelBytes = own.reduce(0) { $0 + $1.byteCount } / seriesCount
    print("labels: \(labelBytes) bytes of label encoding per series on average (without the external label)")
    // One kind per process (`mem` or `mem-own`): the second would reuse the first's freed heap.
    for shared in [only == "mem"] {
        var records = shared ? own.enumerated().map { SeriesRecord(ref: SeriesRef($0.offset + 1), labels: $0.element) } : []
        let before = heapInUse()
        if !shared {
            records = own.enumerated().map { SeriesRecord(ref: SeriesRef($0.offset + 1), labels: Labels(trustedBytes: $0.element.bytes.withUnsafeBufferPointer { Array($0) }, count: $0.element.count)) }
        }
        var cache = SeriesCache(externalLabels: externalLabels, writeRelabelConfigs: [], attachMetadata: true)
        cache.add(records)
        cache.setMetadata(makeFamilies(own))
        if !shared { records = [] }
        let after = heapInUse()
        print("series cache, \(shared ? "labels shared with the WAL's records" : "labels of its own"): "
            + "\(format(Double(after - before) / Double(seriesCount), 1)) bytes per series (\(cache.count) series)")
        withExtendedLifetime((cache, records)) {}
    }
}

@MainActor func run() {
    if only == "mem" || only == "mem-own" { return measureMemory() }
    let requests = makeRequests(seriesCount: seriesCount, perRequest: perRequest, scrapes: scrapes)
    print("\(seriesCount) series, \(requests.count) requests of up to \(perRequest) samples, \(rounds) rounds (median)")
    var results: [(String, Figures)] = []
    if only == nil || only == "old" {
        var old = OldEncoder()
        for (ref, set) in makeSeries(count: seriesCount, withExternal: true).enumerated() { old.addSeries(SeriesRef(ref), set) }
        results.append(("old (v1)", measure(rounds: rounds, requests: requests, samples: \.count) { old.encode($0) }))
    }

    // The endpoint's series cache, as the watcher fills it from the WAL's series records.
    let own = makeSeries(count: seriesCount, withExternal: false)
    var cache = SeriesCache(externalLabels: externalLabels, writeRelabelConfigs: [], attachMetadata: true)
    cache.add(own.enumerated().map { SeriesRecord(ref: SeriesRef($0.offset), labels: $0.element) })
    cache.setMetadata(makeFamilies(own))
    // Queued samples are what the watcher pushes: plain values.
    let queued = requests.map { request in request.map { QueuedSample(ref: $0.ref, timestamp: $0.timestamp, value: $0.value) } }
    var encoder = RequestEncoder()
    if only == nil || only == "v1" {
        results.append(("new v1", measure(rounds: rounds, requests: queued, samples: \.count) {
            encoder.encodeV1(samples: $0, exemplars: [], series: cache)
        }))
    }
    if only == nil || only == "v2" {
        results.append(("new v2", measure(rounds: rounds, requests: queued, samples: \.count) {
            encoder.encodeV2(samples: $0, exemplars: [], series: cache)
        }))
    }
    print("encoder     samples/CPU-s  wire bytes/sample")
    for (name, figures) in results {
        print("\(name + String(repeating: " ", count: max(0, 10 - name.count)))  \(format(figures.samplesPerSecond / 1e6, 2)) M      \(format(figures.bytesPerSample, 2))")
    }
    if results.count == 3 {
        let (o, v1, v2) = (results[0].1, results[1].1, results[2].1)
        print("v1 speed-up over old: \(format(v1.samplesPerSecond / o.samplesPerSecond, 2))×, v2: \(format(v2.samplesPerSecond / o.samplesPerSecond, 2))×")
        print("v2 bytes/sample vs v1: \(format(v2.bytesPerSample / v1.bytesPerSample, 3))×")
    }
}

run()
