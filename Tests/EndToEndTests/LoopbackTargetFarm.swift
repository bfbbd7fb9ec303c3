import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Many scrape targets served in-process, each on its own loopback address (Linux routes all of
/// 127.0.0.0/8 to `lo`): healthy ones answer `/metrics` at once with a fixed exposition, dead ones
/// accept the connection and never answer (or answer far too late).
///
/// Healthy target `i` listens on `127.0.<1 + i/250>.<1 + i%250>`, dead target `j` on
/// `127.0.<200 + j/250>.<1 + j%250>` (the shared bench's farm scheme, and its dead targets'),
/// each on a port the kernel picks, so a benchmark farm on port 9100 does not collide with it.
/// Every healthy request's arrival time (wall clock, seconds since 1970) is recorded per target.
final class LoopbackTargetFarm: Sendable {
    enum DeadMode: Sendable, CustomStringConvertible {
        /// Accept, read the request, never answer; the connection stays open until the client closes it.
        case never
        /// Answer each request with a small valid exposition after this long.
        case slow(Duration)

        var description: String {
            switch self {
            case .never: "never answer"
            case .slow(let delay): "answer after \(delay)"
            }
        }
    }

    let healthy: [String]
    let dead: [String]
    let seriesPerTarget: Int
    /// The exposition every healthy target serves (its size is printed by the tests).
    let bodySize: Int
    private let channels: [Channel]
    private let arrivals: RequestLog

    /// Binds `healthy` + `dead` listeners; call ``stop()`` when done.
    static func start(healthy: Int, dead: Int, deadMode: DeadMode, seriesPerTarget: Int) async throws -> LoopbackTargetFarm {
        let group = MultiThreadedEventLoopGroup.singleton
        let log = RequestLog(targets: healthy)
        var body = ByteBufferAllocator().buffer(capacity: seriesPerTarget * 80)
        body.writeString(Self.exposition(series: seriesPerTarget))
        let sharedBody = body
        var channels: [Channel] = []
        var healthyAddresses: [String] = []
        var deadAddresses: [String] = []
        do {
            for index in 0..<healthy {
                let host = "127.0.\(1 + index / 250).\(1 + index % 250)"
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.pipeline.configureHTTPServerPipeline().flatMap {
                            channel.pipeline.addHandler(HealthyTargetHandler(index: index, body: sharedBody, log: log))
                        }
                    }
                    .bind(host: host, port: 0).get()
                channels.append(channel)
                healthyAddresses.append("\(host):\(channel.localAddress!.port!)")
            }
            for index in 0..<dead {
                let host = "127.0.\(200 + index / 250).\(1 + index % 250)"
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        switch deadMode {
                        case .never:
                            return channel.pipeline.addHandler(SilentHandler())
                        case .slow(let delay):
                            return channel.pipeline.configureHTTPServerPipeline().flatMap {
                                channel.pipeline.addHandler(SlowTargetHandler(delay: delay))
                            }
                        }
                    }
                    .bind(host: host, port: 0).get()
                channels.append(channel)
                deadAddresses.append("\(host):\(channel.localAddress!.port!)")
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return LoopbackTargetFarm(
            healthy: healthyAddresses, dead: deadAddresses, seriesPerTarget: seriesPerTarget, bodySize: sharedBody.readableBytes,
            channels: channels, arrivals: log)
    }

    private init(healthy: [String], dead: [String], seriesPerTarget: Int, bodySize: Int, channels: [Channel], arrivals: RequestLog) {
        self.healthy = healthy
        self.dead = dead
        self.seriesPerTarget = seriesPerTarget
        self.bodySize = bodySize
        self.channels = channels
        self.arrivals = arrivals
    }

    /// Request arrival times of healthy target `index` so far (seconds since 1970, in order).
    func requestTimes(_ index: Int) -> [Double] { arrivals.times(index) }

    /// Requests served by healthy targets so far.
    var requestsServed: Int { arrivals.total }

    /// Closes every listener (connections the agent still holds are closed with the event loops'
    /// next turn, or when the agent goes away).
    func stop() async {
        for channel in channels { try? await channel.close() }
    }

    /// `series` sample lines shaped like node_exporter's: a few families of 4–5 labels each.
    static func exposition(series: Int) -> String {
        var text = ""
        let families = [
            ("e2e_node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode."),
            ("e2e_node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes."),
            ("e2e_node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users in bytes."),
            ("e2e_http_request_duration_seconds_bucket", "counter", "Request latency buckets."),
        ]
        let perFamily = max(1, (series + families.count - 1) / families.count)
        var written = 0
        for (familyIndex, family) in families.enumerated() where written < series {
            text += "# HELP \(family.0) \(family.2)\n# TYPE \(family.0) \(family.1)\n"
            for i in 0..<perFamily where written < series {
                text += "\(family.0){namespace=\"checkout\",pod=\"checkout-service-7d9f8b6c5-\(familyIndex)x\(i / 8)\",device=\"dev\(i % 8)\",mode=\"m\(i)\"} \(1000 + i * 17 + familyIndex).25\n"
                written += 1
            }
        }
        return text
    }
}

/// Arrival times per healthy target, shared by the event loops.
private final class RequestLog: Sendable {
    private let state: Mutex<[[Double]]>

    init(targets: Int) { state = Mutex(Array(repeating: [], count: targets)) }

    func record(_ index: Int, at time: Double) { state.withLock { $0[index].append(time) } }
    func times(_ index: Int) -> [Double] { state.withLock { $0[index] } }
    var total: Int { state.withLock { $0.reduce(0) { $0 + $1.count } } }
}

/// A healthy target: answers every `GET` with the shared exposition, at once.
private final class HealthyTargetHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let index: Int
    private let body: ByteBuffer
    private let log: RequestLog

    init(index: Int, body: ByteBuffer, log: RequestLog) {
        self.index = index
        self.body = body
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            log.record(index, at: Date().timeIntervalSince1970)
        case .body:
            break
        case .end:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// A dead target that never answers: reads and drops whatever arrives.
private final class SilentHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// A dead target that answers each request, far too late, with a small valid exposition.
private final class SlowTargetHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let delay: Duration

    init(delay: Duration) { self.delay = delay }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: TimeAmount(delay)) {
            let (handler, context) = bound.value
            guard context.channel.isActive else { return }
            let body = "# TYPE e2e_slow_target gauge\ne2e_slow_target 1\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            context.write(handler.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(handler.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// Lifts this process's soft `RLIMIT_NOFILE` to the hard limit (children, the agent included,
/// inherit it): thousands of listeners and connections need more than the usual 1024.
/// Returns the new soft limit.
@discardableResult
func raiseOpenFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}

/// What `/proc` says about a process: its OS threads and CPU time so far.
enum ProcStat {
    /// Entries of `/proc/PID/task` (0 when the process is gone).
    static func threads(_ pid: Int32) -> Int {
        threadCount(ofProcess: pid) ?? 0
    }

    /// utime + stime in seconds, from `/proc/PID/stat`.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
