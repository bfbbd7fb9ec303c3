import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Foundation
import Prometheus
import Scraper
import ServiceLifecycle

/// The agent's own HTTP endpoints: `/metrics`, `/-/healthy`, `/-/ready`, `/api/v1/targets`, and
/// (with `--web.enable-lifecycle`, else 403) `/-/reload` and `/-/quit`.
final class AdminServer: Service {
    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let scraper: ScrapeManager
    private let reloader: ConfigReloader
    private let lifecycle: LifecycleAPI
    private let resources: ProcessResources
    private let logger: Logger

    init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, scraper: ScrapeManager, reloader: ConfigReloader,
        lifecycle: LifecycleAPI, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.scraper = scraper
        self.reloader = reloader
        self.lifecycle = lifecycle
        self.resources = ProcessResources(registry: registry)
        self.logger = logger
    }

    /// Binds the listening socket (so a bad address fails start-up) and returns the channel.
    func bind(on group: EventLoopGroup) async throws -> Channel {
        let registry = self.registry
        let scraper = self.scraper
        let reloader = self.reloader
        let lifecycle = self.lifecycle
        let resources = self.resources
        let logger = self.logger
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(AdminHandler(
                        registry: registry, resources: resources, scraper: scraper, reloader: reloader, lifecycle: lifecycle,
                        logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Serves on one event loop thread of its own (NIO's shared group would start one per core).
    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await bind(on: group)
            logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(host):\(port)")"])
            try? await gracefulShutdown()
            try await channel.close()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}

/// Answers one request per HTTP message; a small fixed set of routes. (NIO's pipelining handler
/// holds a connection's next request back until the current answer's `.end` is written.)
private final class AdminHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let resources: ProcessResources
    private let scraper: ScrapeManager
    private let reloader: ConfigReloader
    private let lifecycle: LifecycleAPI
    private let logger: Logger
    private var head: HTTPRequestHead?
    init(
        registry: PrometheusCollectorRegistry, resources: ProcessResources, scraper: ScrapeManager, reloader: ConfigReloader,
        lifecycle: LifecycleAPI, logger: Logger
    ) {
        self.registry = registry
        self.resources = resources
        self.scraper = scraper
        self.reloader = reloader
        self.lifecycle = lifecycle
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    /// This machine's name (`gethostname`, as Go's `os.Hostname()`), which replaces a loopback
    /// host in a target's `globalUrl`.
    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let components = URLComponents(string: request.uri)
        let path = components?.path ?? request.uri
        let query = Dictionary((components?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let (status, contentType, body): (HTTPResponseStatus, String, [UInt8])
        let lifecycleOff = !lifecycle.isEnabled
        switch (request.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            resources.update()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", buffer)
        case (.GET, "/-/healthy"), (.HEAD, "/-/healthy"):
            (status, contentType, body) = (.ok, "text/plain; charset=utf-8", Array("Metrics Agent is Healthy.\n".utf8))
        case (.GET, "/-/ready"), (.HEAD, "/-/ready"):
            (status, contentType, body) = (.ok, "text/plain; charset=utf-8", Array("Metrics Agent is Ready.\n".utf8))
        case (.GET, "/api/v1/targets"):
            let writer = TargetsResponseWriter(
                active: scraper.targetStatus, dropped: scraper.droppedTargets, filter: TargetsFilter(query: query),
                hostName: Self.hostName())
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            let keepAlive = request.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            // No Content-Length: the body goes out in chunks as it is written.
            let channel = context.channel
            ChunkedResponse.send(writer, head: HTTPResponseHead(version: request.version, status: .ok, headers: headers), on: channel)
                .whenComplete { result in
                    if !keepAlive || (try? result.get()) == nil { channel.close(promise: nil) }
                }
            return
        // (A `where` clause binds to one pattern only: each carries its own.)
        case (.POST, "/-/reload") where lifecycleOff, (.PUT, "/-/reload") where lifecycleOff, (.POST, "/-/quit") where lifecycleOff,
            (.PUT, "/-/quit") where lifecycleOff:
            (status, contentType, body) = (.forbidden, "text/plain; charset=utf-8", Array(LifecycleAPI.disabledMessage.utf8))
        case (.POST, "/-/quit"), (.PUT, "/-/quit"):
            // The shutdown begins after this answer is queued; the admin server stops last.
            let first = lifecycle.requestQuit()
            if first { logger.info("shutdown requested", metadata: ["trigger": "POST /-/quit"]) }
            let message = first ? "Requesting termination... Goodbye!" : "Termination already in progress."
            (status, contentType, body) = (.ok, "text/plain; charset=utf-8", Array(message.utf8))
        case (.POST, "/-/reload"), (.PUT, "/-/reload"):
            // The reload reads a file and restarts loops: off the event loop, answered when done.
            let reloader = self.reloader
            let channel = context.channel
            let version = request.version
            let keepAlive = request.isKeepAlive
            let done = context.eventLoop.makePromise(of: String?.self)
            done.completeWithTask { await reloader.reload(trigger: .http).map { "failed to reload config: \($0)\n" } }
            done.futureResult.whenSuccess { failure in
                let body = Array((failure ?? "").utf8)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                headers.add(name: "Content-Length", value: "\(body.count)")
                if !keepAlive { headers.add(name: "Connection", value: "close") }
                let head = HTTPResponseHead(version: version, status: failure == nil ? .ok : .internalServerError, headers: headers)
                channel.write(HTTPServerResponsePart.head(head), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
                    if !keepAlive { channel.close(promise: nil) }
                }
            }
            return
        case (_, "/-/reload"), (_, "/-/quit"):
            (status, contentType, body) = (.methodNotAllowed, "text/plain; charset=utf-8", Array("Only POST or PUT requests allowed".utf8))
        case (_, "/metrics"), (_, "/-/healthy"), (_, "/-/ready"), (_, "/api/v1/targets"):
            (status, contentType, body) = (.methodNotAllowed, "text/plain; charset=utf-8", Array("Method Not Allowed\n".utf8))
        default:
            (status, contentType, body) = (.notFound, "text/plain; charset=utf-8", Array("404 page not found\n".utf8))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
