import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request as the test server saw it.
public struct ReceivedRequest: Sendable {
    public var method: String
    public var uri: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A response the test server sends.
public struct CannedResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Sleep this long before answering (a slow target).
    public var delay: Duration

    public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = [], delay: Duration = .zero) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    public init(status: Int = 200, contentType: String, body: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }
}

/// An HTTP/1.1 server on 127.0.0.1 and a free port, answering every request with a closure.
public final class TestHTTPServer: Sendable {
    public let port: Int
    private let channel: Channel

    public init(handler: @escaping @Sendable (ReceivedRequest) -> CannedResponse) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(ClosureHandler(handler: handler))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress!.port!
    }

    public var address: String { "127.0.0.1:\(port)" }

    public func stop() async throws {
        try await channel.close()
    }
}

private final class ClosureHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let handler: @Sendable (ReceivedRequest) -> CannedResponse
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(handler: @escaping @Sendable (ReceivedRequest) -> CannedResponse) {
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            let request = ReceivedRequest(
                method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body)
            let response = handler(request)
            if response.delay > .zero {
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                let version = head.version
                context.eventLoop.scheduleTask(in: TimeAmount(response.delay)) {
                    loopBound.value.write(response, version: version, context: contextBound.value)
                }
                self.head = nil
                return
            }
            write(response, version: head.version, context: context)
            self.head = nil
        }
    }

    private func write(_ response: CannedResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// A value shared between a test and the server's handler closures.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
    public var value: Value { mutex.withLock { $0 } }
}

/// A target exposing one counter whose value is the number of scrapes served so far (1, 2, 3, …),
/// so a receiver that got every scrape holds exactly the values 1…N.
public final class CounterTarget: Sendable {
    public let server: TestHTTPServer
    private let served: Locked<Int>

    public init() async throws {
        let served = Locked(0)
        self.served = served
        server = try await TestHTTPServer { request in
            guard request.uri.hasPrefix("/metrics") else { return CannedResponse(status: 404) }
            let value = served.withLock { count in
                count += 1
                return count
            }
            let body = """
                # HELP e2e_counter_total Scrapes served by the test target.
                # TYPE e2e_counter_total counter
                e2e_counter_total \(value)

                """
            return CannedResponse(headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(body.utf8))
        }
    }

    public var scrapesServed: Int { served.value }
}
