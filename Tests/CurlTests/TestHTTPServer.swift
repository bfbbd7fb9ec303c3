import NIOCore
import NIOHTTP1
import NIOPosix

/// A small in-process HTTP/1.1 server on 127.0.0.1 and an ephemeral port, for testing the
/// Curl client against real sockets.
///
/// Routes (query parameters in brackets):
/// - `GET /hello`: 200 "hello world", headers `X-Test: yes`, `X-Multi: a`, `X-Multi: b`
/// - `POST /echo`: 200 with the request body; `X-Request-Content-Type` echoes Content-Type
/// - `* /headers`: 200, body is the request headers, one `name: value` line each
/// - `* /status/<code>`: that status, body "status <code>"
/// - `GET /slow[?ms=N]`: responds after N milliseconds (default 2000)
/// - `GET /big[?n=N]`: N bytes of "x" (default 100000)
/// - `GET /gzip`: a gzip-encoded body ("gzip " repeated) with `Content-Encoding: gzip`
/// - `GET /redirect`: 302 to /hello with `X-Redirect: 1`
/// - `GET /port`: the client's source port, to detect connection reuse
/// - `GET /auth`: 200 "authorized" if `Authorization` is Basic with ``basicUser`` and
///   ``basicPassword``, else 401 with `WWW-Authenticate: Basic`
/// - any absolute-form URI (`GET http://host/path`), as a forward proxy receives it:
///   200 "proxied <uri>"
final class TestHTTPServer: Sendable {
    let port: Int
    private let channel: any Channel

    static let basicUser = "metrics"
    static let basicPassword = "p@ss:wörd"
    /// `Basic base64("metrics:p@ss:wörd")` (UTF-8).
    static let basicAuthorization = "Basic bWV0cmljczpwQHNzOnfDtnJk"

    static let gzipPlain = [UInt8](String(repeating: "gzip ", count: 50).utf8)
    static let gzipBody = gzipStored(gzipPlain)

    init() async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress!.port!
    }

    /// `http://127.0.0.1:<port><path>`.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func shutdown() async throws {
        try await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                self.head = nil
                route(head, context: context)
            }
        }

        private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
            if head.uri.lowercased().hasPrefix("http://") {
                respond(context, .ok, [], Array("proxied \(head.uri)".utf8))
                return
            }
            let parts = head.uri.split(separator: "?", maxSplits: 1)
            let path = String(parts.first ?? "")
            var query: [String: String] = [:]
            if parts.count > 1 {
                for pair in parts[1].split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
                }
            }
            switch path {
            case "/hello":
                respond(context, .ok, [("X-Test", "yes"), ("X-Multi", "a"), ("X-Multi", "b")], Array("hello world".utf8))
            case "/echo":
                respond(context, .ok, [("X-Request-Content-Type", head.headers.first(name: "content-type") ?? "<none>")], body)
            case "/headers":
                let text = head.headers.map { "\($0.name.lowercased()): \($0.value)\n" }.joined()
                respond(context, .ok, [], Array(text.utf8))
            case _ where path.hasPrefix("/status/"):
                let code = Int(path.dropFirst("/status/".count)) ?? 500
                respond(context, HTTPResponseStatus(statusCode: code), [], Array("status \(code)".utf8))
            case "/slow":
                let delay = Int64(query["ms"].flatMap(Int.init) ?? 2000)
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(delay)) {
                    self.respond(context, .ok, [], Array("finally".utf8))
                }
            case "/big":
                let count = query["n"].flatMap(Int.init) ?? 100_000
                respond(context, .ok, [], [UInt8](repeating: UInt8(ascii: "x"), count: count))
            case "/gzip":
                respond(context, .ok, [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")], TestHTTPServer.gzipBody)
            case "/redirect":
                respond(context, .found, [("Location", "/hello"), ("X-Redirect", "1")], [])
            case "/auth":
                if head.headers["authorization"] == [TestHTTPServer.basicAuthorization] {
                    respond(context, .ok, [], Array("authorized".utf8))
                } else {
                    respond(context, .unauthorized, [("WWW-Authenticate", "Basic realm=\"test\"")], Array("unauthorized".utf8))
                }
            case "/port":
                respond(context, .ok, [], Array("\(context.channel.remoteAddress?.port ?? -1)".utf8))
            default:
                respond(context, .notFound, [], Array("no route".utf8))
            }
        }

        private func respond(
            _ context: ChannelHandlerContext, _ status: HTTPResponseStatus,
            _ headers: [(String, String)], _ body: [UInt8]
        ) {
            guard context.channel.isActive else { return }
            var head = HTTPResponseHead(version: .http1_1, status: status)
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            head.headers.add(name: "Content-Length", value: "\(body.count)")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// A gzip member holding `data` in one stored (uncompressed) deflate block: enough to test
/// transparent decoding without a compressor.
func gzipStored(_ data: [UInt8]) -> [UInt8] {
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
