// The send path on its own: a WAL filled with node-exporter-like series, one RemoteWriteService
// endpoint sending all of it to an in-process receiver that reads bodies and answers 204.
// Reports samples per CPU-second (process CPU time from getrusage over the send phase, receiver
// included), compressed bytes on the wire per sample, and peak RSS.
//
//   swift run -c release --scratch-path .build-queue SendBenchmark [series] [scrapes] [shards]

#if canImport(Glibc)
import Model
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AgentConfig
import Curl
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import RemoteWrite
import ServiceLifecycle
import Synchronization
import WAL

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let seriesCount = arguments.count > 0 ? arguments[0] : 10_000
let scrapes = arguments.count > 1 ? arguments[1] : 100
let shards = arguments.count > 2 ? arguments[2] : 2
let total = seriesCount * scrapes

// MARK: Receiver

final class Tally: Sendable {
    let requests = Atomic<Int>(0)
    let bodyBytes = Atomic<Int>(0)
}

final class CountingHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let tally: Tally
    var bytes = 0
    init(tally: Tally) { self.tally = tally }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: bytes = 0
        case .body(let buffer): bytes += buffer.readableBytes
        case .end:
            tally.requests.add(1, ordering: .relaxed)
            tally.bodyBytes.add(bytes, ordering: .relaxed)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .noContent, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

func usage() -> rusage {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return u
}

func cpuSeconds(_ u: rusage) -> Double {
    Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

func metric(_ registry: PrometheusCollectorRegistry, _ name: String) -> Double {
    for line in registry.emitToString().split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        if let v = line.split(separator: " ").last.flatMap({ Double($0) }) { return v }
    }
    return 0
}

let logger = Logger(label: "send-benchmark", factory: { _ in SwiftLogNoOpLogHandler() })
let tally = Tally()
let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(CountingHandler(tally: tally)) }
    }
    .bind(host: "127.0.0.1", port: 0).get()
let port = server.localAddress!.port!

// MARK: Fill the WAL

let directory = NSTemporaryDirectory() + "send-benchmark-" + UUID().uuidString
defer { try? FileManager.default.removeItem(atPath: directory) }
let ioPool = try BlockingIOPool(threads: 2, name: "blocking-io")
let wal = try WriteAheadLog(directory: directory + "/wal", ioPool: ioPool, logger: logger)
let modes = ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"]
let series: [Labels] = (0..<seriesCount).map { i in
    // 10k series as ~40 node_exporter instances would expose them: cpu, filesystem and network families.
    let instance = "10.1.\(i / 250 / 256).\(i / 250 % 256):9100"
    switch i % 3 {
    case 0:
        return Labels(["__name__": "node_cpu_seconds_total", "job": "node", "instance": instance, "cpu": "\(i % 64)", "mode": modes[(i / 64) % 8]])
    case 1:
        return Labels(["__name__": "node_filesystem_avail_bytes", "job": "node", "instance": instance, "device": "/dev/nvme0n\(i % 97)p1",
                       "fstype": "ext4", "mountpoint": "/var/lib/kubelet/pods/\(i)"])
    default:
        return Labels(["__name__": "node_network_receive_bytes_total", "job": "node", "instance": instance, "device": "veth\(String(i, radix: 16))"])
    }
}
var refs: [SeriesRef] = []
let fillStart = ContinuousClock.now
let t0: Int64 = 1_700_000_000_000
for scrape in 0..<scrapes {
    var batch = AppendBatch()
    for (i, labels) in series.enumerated() {
        let value = Double(scrape * 1000 + i % 1000) * 1.5
        if scrape == 0 {
            batch.append(labels: labels, timestamp: t0, value: value)
        } else {
            batch.append(ref: refs[i], timestamp: t0 + Int64(scrape) * 15_000, value: value)
        }
    }
    let new = try await wal.commit(batch)
    if scrape == 0 { refs = new }
}
let fillTime = ContinuousClock.now - fillStart
let walBytes = wal.sizeOnDisk

// MARK: Send

var config = RemoteWriteConfig(url: "http://127.0.0.1:\(port)/api/v1/write", name: "bench")
config.queueConfig.minShards = shards
config.queueConfig.maxShards = shards
config.queueConfig.batchSendDeadline = .seconds(1)
config.metadataConfig.send = false
var configuration = Configuration(remoteWrite: [config])
configuration.global.externalLabels = Labels(["cluster": "bench"])
configuration.wal.maxSize = 0
configuration.wal.maxAge = .zero
let registry = PrometheusCollectorRegistry()
let service = try RemoteWriteService(
    configuration: configuration, wal: wal, pool: ioPool, transport: HTTPTransport(), storagePath: directory,
    flushDeadline: .seconds(30), registry: registry, logger: logger)
let group = ServiceGroup(services: [service], logger: logger)

let before = usage()
let sendStart = ContinuousClock.now
let running = Task { try await group.run() }
while metric(registry, "prometheus_remote_storage_samples_total") < Double(total) {
    try await Task.sleep(for: .milliseconds(20))
    if ContinuousClock.now - sendStart > .seconds(600) {
        print("timed out after 600 s")
        break
    }
}
let sendTime = ContinuousClock.now - sendStart
let after = usage()
await group.triggerGracefulShutdown()
_ = try? await running.value
try await wal.close()
try await server.close()

let seconds = Double(sendTime.components.seconds) + Double(sendTime.components.attoseconds) / 1e18
let cpu = cpuSeconds(after) - cpuSeconds(before)
let sent = metric(registry, "prometheus_remote_storage_samples_total")
let wire = Double(tally.bodyBytes.load(ordering: .relaxed))
print("series \(seriesCount) × scrapes \(scrapes) = \(total) samples; WAL \(walBytes / 1024) KiB filled in \(fillTime); \(shards) shards")
print(String(format: "send phase: %.2f s wall, %.2f s CPU (user+sys, receiver included)", seconds, cpu))
print(String(format: "samples sent: %.0f in %d requests", sent, tally.requests.load(ordering: .relaxed)))
print(String(format: "throughput: %.0f samples/s wall, %.0f samples per CPU-second (per core)", sent / seconds, sent / cpu))
print(String(format: "wire: %.2f bytes/sample (snappy-compressed bodies, %.1f MiB total)", wire / sent, wire / 1_048_576))
print(String(format: "peak RSS: %.1f MiB (ru_maxrss, WAL fill included)", Double(after.ru_maxrss) / 1024))
