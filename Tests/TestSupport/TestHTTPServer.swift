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
    /// The client's source port (a new one means a new connection).
    public var remotePort: Int?

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The path, without the query.
    public var path: String { String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") }

    /// The query parameters (`a=1&b` → `["a": "1", "b": ""]`), not percent-decoded.
    public var query: [String: String] {
        let parts = uri.split(separator: "?", maxSplits: 1)
        guard parts.count > 1 else { return [:] }
        var query: [String: String] = [:]
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
        }
        return query
    }
}

/// A response the test server sends.
public struct CannedResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// The body, sent with a `Content-Length` (unless ``chunks`` is set).
    public var body: [UInt8]
    /// Sleep this long before answering (a slow target).
    public var delay: Duration
    /// When set, the body is sent with chunked encoding, piece by piece, instead of ``body``.
    public var chunks: ChunkedBody?
    /// When false, nothing is sent: the connection stays open until the client closes it.
    public var answers = true
    /// When set, the response is held back until the test opens the gate (then sent after
    /// ``delay``, if any): a request that hangs exactly as long as the test wants.
    public var gate: ResponseGate?

    public init(
        status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = [], delay: Duration = .zero,
        chunks: ChunkedBody? = nil
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.chunks = chunks
    }

    public init(status: Int = 200, contentType: String, body: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    /// Reads the request and never answers.
    public static var noAnswer: CannedResponse {
        var response = CannedResponse()
        response.answers = false
        return response
    }
}

/// Holds responses back until ``open()``: the test decides when a hanging request is answered.
/// Opening it again does nothing; responses that use an open gate go out at once.
public final class ResponseGate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [@Sendable () -> Void])>((false, []))

    public init() {}

    public var isOpen: Bool { state.withLock { $0.isOpen } }

    /// Releases every response held by this gate (and lets later ones through at once).
    public func open() {
        let waiters = state.withLock { s -> [@Sendable () -> Void] in
            s.isOpen = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter() }
    }

    /// Runs `body` when the gate opens (at once if it is open).
    func whenOpen(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.isOpen { return true }
            s.waiters.append(body)
            return false
        }
        if now { body() }
    }
}

/// A body sent in chunks over time. The next chunk is written once the previous one reached
/// the socket and `interval` passed, so a client that stops reading stops the server too.
public struct ChunkedBody: Sendable {
    /// What happens after the last chunk.
    public enum Ending: Sendable {
        /// The terminating chunk: a complete response.
        case complete
        /// The connection is closed without it: a truncated response.
        case close
        /// Nothing: the response stays open and silent.
        case hang
    }

    /// Chunk `index` (from 0), or `nil` after the last.
    public var chunk: @Sendable (_ index: Int) -> [UInt8]?
    public var interval: Duration
    public var ending: Ending

    public init(interval: Duration, ending: Ending = .complete, chunk: @escaping @Sendable (_ index: Int) -> [UInt8]?) {
        self.chunk = chunk
        self.interval = interval
        self.ending = ending
    }
}

/// An HTTP/1.1 server on 127.0.0.1 and a free port, for tests against real sockets: either
/// every request is answered by a closure, or (``init()``) by the standard routes below.
///
/// Standard routes (query parameters in brackets):
/// - `GET /hello`: 200 "hello world", headers `X-Test: yes`, `X-Multi: a`, `X-Multi: b`
/// - `POST /echo`: 200 with the request body; `X-Request-Content-Type` echoes Content-Type
/// - `* /headers`: 200, body is the request headers, one `name: value` line each
/// - `* /status/<code>`: that status, body "status <code>"
/// - `GET /slow[?ms=N]`: responds "finally" after N milliseconds (default 2000)
/// - `GET /never`: never responds
/// - `GET /big[?n=N]`: N bytes of "x" (default 100000)
/// - `GET /gzip`: a gzip-encoded body (``gzipPlain``) with `Content-Encoding: gzip`
/// - `GET /redirect`: 302 to /hello with `X-Redirect: 1`
/// - `GET /port`: the client's source port, to detect connection reuse
/// - `GET /auth`: 200 "authorized" if `Authorization` is Basic with ``basicUser`` and
///   ``basicPassword``, else 401 with `WWW-Authenticate: Basic`
/// - any absolute-form URI (`GET http://host/path`), as a forward proxy receives it:
///   200 "proxied <uri>"
/// - chunked streams: `GET /pieces?n=N&ms=M`: N chunks `piece <i>\n`, one every M ms (default
///   3 and 100); `GET /forever?ms=M`: such chunks until the client goes away; `GET /firehose`:
///   64 KiB chunks as fast as the client reads, forever; `GET /silent`: the head, then
///   nothing; `GET /broken?n=N`: N chunks, then the connection is closed mid-body
/// - `GET /empty404`: 404 with an empty body and `X-Reason: nothing here`
public final class TestHTTPServer: Sendable {
    public let port: Int
    private let channel: any Channel
    private let counters = ConnectionCounters()

    public static let basicUser = "metrics"
    public static let basicPassword = "p@ss:wörd"
    /// `Basic base64("metrics:p@ss:wörd")` (UTF-8).
    public static let basicAuthorization = "Basic bWV0cmljczpwQHNzOnfDtnJk"

    /// What `/gzip` decodes to, and the gzip bytes it sends.
    public static let gzipPlain = [UInt8](String(repeating: "gzip ", count: 50).utf8)
    public static let gzipBody = gzipStored(gzipPlain)

    /// A server that answers every request with `handler` (called on an event loop: keep it quick).
    public convenience init(handler: @escaping @Sendable (ReceivedRequest) -> CannedResponse) async throws {
        try await self.init(responder: .immediate(handler))
    }

    /// A server that answers every request with `handler`, run as a task off the event loops,
    /// so it may await (a proxy forwarding the request upstream, say) without holding up the
    /// other servers that share NIO's event loops.
    public convenience init(asyncHandler: @escaping @Sendable (ReceivedRequest) async -> CannedResponse) async throws {
        try await self.init(responder: .task(asyncHandler))
    }

    private init(responder: Responder) async throws {
        let counters = self.counters
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(responder: responder, counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress!.port!
    }

    /// A server with the standard routes.
    public convenience init() async throws {
        try await self.init(handler: Self.standardRoutes)
    }

    public var address: String { "127.0.0.1:\(port)" }

    /// `http://127.0.0.1:<port><path>`.
    public func url(_ path: String) -> String { "http://\(address)\(path)" }

    /// Connections accepted so far.
    public var connectionsOpened: Int { counters.opened.load(ordering: .relaxed) }
    /// Connections closed so far (by either side).
    public var connectionsClosed: Int { counters.closed.load(ordering: .relaxed) }

    /// Stops listening. Open connections stay until their clients close them.
    public func stop() async throws {
        try await channel.close()
    }

    /// The standard routes (see the type's documentation).
    public static func standardRoutes(_ request: ReceivedRequest) -> CannedResponse {
        if request.uri.lowercased().hasPrefix("http://") {
            return CannedResponse(body: Array("proxied \(request.uri)".utf8))
        }
        let query = request.query
        func number(_ name: String, _ fallback: Int) -> Int { query[name].flatMap(Int.init) ?? fallback }
        @Sendable func piece(_ index: Int) -> [UInt8] { Array("piece \(index)\n".utf8) }
        let chunked: [(name: String, value: String)] = [("Content-Type", "application/json")]
        let path = request.path
        switch path {
        case "/hello":
            return CannedResponse(headers: [("X-Test", "yes"), ("X-Multi", "a"), ("X-Multi", "b")], body: Array("hello world".utf8))
        case "/echo":
            return CannedResponse(headers: [("X-Request-Content-Type", request.header("content-type") ?? "<none>")], body: request.body)
        case "/headers":
            return CannedResponse(body: Array(request.headers.map { "\($0.name.lowercased()): \($0.value)\n" }.joined().utf8))
        case _ where path.hasPrefix("/status/"):
            let code = Int(path.dropFirst("/status/".count)) ?? 500
            return CannedResponse(status: code, body: Array("status \(code)".utf8))
        case "/slow":
            return CannedResponse(body: Array("finally".utf8), delay: .milliseconds(number("ms", 2000)))
        case "/never":
            return .noAnswer
        case "/big":
            return CannedResponse(body: [UInt8](repeating: UInt8(ascii: "x"), count: number("n", 100_000)))
        case "/gzip":
            return CannedResponse(headers: [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")], body: gzipBody)
        case "/redirect":
            return CannedResponse(status: 302, headers: [("Location", "/hello"), ("X-Redirect", "1")])
        case "/port":
            return CannedResponse(body: Array("\(request.remotePort ?? -1)".utf8))
        case "/auth":
            if request.header("authorization") == basicAuthorization {
                return CannedResponse(body: Array("authorized".utf8))
            }
            return CannedResponse(status: 401, headers: [("WWW-Authenticate", "Basic realm=\"test\"")], body: Array("unauthorized".utf8))
        case "/pieces":
            let count = number("n", 3)
            return CannedResponse(headers: chunked, chunks: ChunkedBody(interval: .milliseconds(number("ms", 100))) { index in
                index < count ? piece(index) : nil
            })
        case "/forever":
            return CannedResponse(headers: chunked, chunks: ChunkedBody(interval: .milliseconds(number("ms", 100)), chunk: piece))
        case "/firehose":
            let block = [UInt8](repeating: UInt8(ascii: "f"), count: 64 << 10)
            return CannedResponse(headers: chunked, chunks: ChunkedBody(interval: .zero) { _ in block })
        case "/silent":
            return CannedResponse(headers: chunked, chunks: ChunkedBody(interval: .zero, ending: .hang) { _ in nil })
        case "/broken":
            let count = number("n", 2)
            return CannedResponse(headers: chunked, chunks: ChunkedBody(interval: .milliseconds(50), ending: .close) { index in
                index < count ? piece(index) : nil
            })
        case "/empty404":
            return CannedResponse(status: 404, headers: [("X-Reason", "nothing here")])
        default:
            return CannedResponse(status: 404, body: Array("no route".utf8))
        }
    }
}

/// How a server's requests are answered: by a closure on the event loop, or by one run as a task.
private enum Responder: Sendable {
    case immediate(@Sendable (ReceivedRequest) -> CannedResponse)
    case task(@Sendable (ReceivedRequest) async -> CannedResponse)
}

private final class ConnectionCounters: Sendable {
    let opened = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
}

private final class Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: Responder
    private let counters: ConnectionCounters
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(responder: Responder, counters: ConnectionCounters) {
        self.responder = responder
        self.counters = counters
    }

    func channelActive(context: ChannelHandlerContext) {
        counters.opened.add(1, ordering: .relaxed)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        counters.closed.add(1, ordering: .relaxed)
        context.fireChannelInactive()
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
            self.head = nil
            let request = ReceivedRequest(
                method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body,
                remotePort: context.channel.remoteAddress?.port)
            switch responder {
            case .immediate(let handler):
                deliver(handler(request), version: head.version, context: context)
            case .task(let handler):
                let promise = context.eventLoop.makePromise(of: CannedResponse.self)
                promise.completeWithTask { await handler(request) }
                promise.futureResult.assumeIsolated().whenSuccess { response in
                    self.deliver(response, version: head.version, context: context)
                }
            }
        }
    }

    /// Answers with `response`, after its gate opens when it has one.
    private func deliver(_ response: CannedResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        guard response.answers else { return }
        guard let gate = response.gate else { return answer(response, version: version, context: context) }
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        var ungated = response
        ungated.gate = nil
        gate.whenOpen {
            loop.execute {
                let (handler, context) = bound.value
                handler.answer(ungated, version: version, context: context)
            }
        }
    }

    /// Sends `response` (after its delay), unless it is one that never answers.
    private func answer(_ response: CannedResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        guard response.answers else { return }
        if response.delay > .zero {
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(response.delay)) {
                self.respond(response, version: version, context: context)
            }
        } else {
            respond(response, version: version, context: context)
        }
    }

    private func respond(_ response: CannedResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        if response.chunks == nil {
            headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
        } else {
            headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
        }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        guard let chunks = response.chunks else {
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        send(chunks, index: 0, context: context)
    }

    /// Writes chunk `index`, and once it reached the socket (and the interval passed), the next.
    private func send(_ chunks: ChunkedBody, index: Int, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        guard let chunk = chunks.chunk(index) else {
            switch chunks.ending {
            case .complete: context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .close: context.close(promise: nil)
            case .hang: break
            }
            return
        }
        let loop = context.eventLoop.assumeIsolated()
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: chunk)))))
            .assumeIsolated()
            .whenComplete { result in
                guard case .success = result else { return }
                if chunks.interval > .zero {
                    loop.scheduleTask(in: TimeAmount(chunks.interval)) { self.send(chunks, index: index + 1, context: context) }
                } else {
                    loop.execute { self.send(chunks, index: index + 1, context: context) }
                }
            }
    }
}

/// A value shared between a test and the server's handler closures.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
    public var value: Value { mutex.withLock { $0 } }
}

/// A gzip member holding `data` in one stored (uncompressed) deflate block: enough to test
/// transparent decoding without a compressor.
public func gzipStored(_ data: [UInt8]) -> [UInt8] {
    precondition(data.count <= 0xFFFF)
    var out: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF]  // magic, deflate, no flags, mtime, xfl, OS
    let length = UInt16(data.count)
    out += [0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]  // final stored block
    out += data
    let crc = crc32(data), size = UInt32(data.count)
    for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
    for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
    return out
}

private func crc32(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~crc
}
