import Curl
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TestSupport
import Testing

/// A server whose responses are chunked streams written over time:
/// - `GET /pieces?n=N&ms=M`: N chunks `piece <i>\n`, one every M ms, then the end.
/// - `GET /forever?ms=M`: a chunk every M ms until the client goes away.
/// - `GET /silent`: the head, then nothing.
/// - `GET /broken?n=N`: N chunks, then the connection is closed without the final chunk.
/// - `GET /empty404`: 404 with an empty body.
private final class StreamingServer: Sendable {
    let port: Int
    private let channel: any Channel

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

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func shutdown() async throws { try await channel.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let components = URLComponents(string: head.uri)
            let query = Dictionary(
                (components?.queryItems ?? []).map { ($0.name, Int($0.value ?? "") ?? 0) }, uniquingKeysWith: { $1 })
            let interval = TimeAmount.milliseconds(Int64(query["ms"] ?? 100))
            switch components?.path {
            case "/pieces":
                startChunked(context)
                send(context, index: 0, count: query["n"] ?? 3, interval: interval, finish: true)
            case "/forever":
                startChunked(context)
                send(context, index: 0, count: Int.max, interval: interval, finish: true)
            case "/silent":
                startChunked(context)
            case "/broken":
                startChunked(context)
                send(context, index: 0, count: query["n"] ?? 2, interval: .milliseconds(50), finish: false)
            case "/empty404":
                var head = HTTPResponseHead(version: .http1_1, status: .notFound)
                head.headers.add(name: "Content-Length", value: "0")
                head.headers.add(name: "X-Reason", value: "nothing here")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            default:
                context.close(promise: nil)
            }
        }

        private func startChunked(_ context: ChannelHandlerContext) {
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "Transfer-Encoding", value: "chunked")
            head.headers.add(name: "Content-Type", value: "application/json")
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        }

        private func send(_ context: ChannelHandlerContext, index: Int, count: Int, interval: TimeAmount, finish: Bool) {
            guard context.channel.isActive else { return }
            guard index < count else {
                if finish {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else {
                    context.close(promise: nil)
                }
                return
            }
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "piece \(index)\n")))), promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
                self.send(context, index: index + 1, count: count, interval: interval, finish: finish)
            }
        }
    }
}

private func withStreamingServer(_ body: (StreamingServer) async throws -> Void) async throws {
    let server = try await StreamingServer()
    do {
        try await body(server)
    } catch {
        try? await server.shutdown()
        throw error
    }
    try await server.shutdown()
}

/// What one `stream` call saw.
private struct Received: Sendable {
    var status: [Int] = []
    /// Each `onData` call's bytes and when it arrived.
    var pieces: [(bytes: [UInt8], at: ContinuousClock.Instant)] = []
    var text: String { String(decoding: pieces.flatMap(\.bytes), as: UTF8.self) }
}

/// Runs the blocking `stream` on a thread of its own (as the Kubernetes watch does).
private func stream(
    _ connection: HTTPConnection, _ request: HTTPRequest, idleTimeout: Duration? = nil,
    cancellation: StreamCancellation? = nil, stopAfter: Int = .max
) async -> (Received, Result<HTTPResponse, CurlError>) {
    await withCheckedContinuation { continuation in
        Thread {
            var received = Received()
            let result = Result { () throws(CurlError) -> HTTPResponse in
                try connection.stream(
                    request, idleTimeout: idleTimeout, cancellation: cancellation,
                    onStatus: { received.status.append($0) },
                    onData: { bytes in
                        received.pieces.append((Array(bytes), ContinuousClock.now))
                        return received.pieces.count < stopAfter
                    })
            }
            continuation.resume(returning: (received, result))
        }.start()
    }
}

/// The status of a successful stream (untyped `throws`, for `#expect`).
private func status(_ result: Result<HTTPResponse, CurlError>) throws -> Int {
    try result.get().status
}

@Suite struct StreamingTests {
    @Test func deliversChunksAsTheyArrive() async throws {
        try await withStreamingServer { server in
            let connection = HTTPConnection()
            let (received, result) = await stream(connection, HTTPRequest(url: server.url("/pieces?n=5&ms=150")))
            let response = try result.get()
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            #expect(response.body.isEmpty)
            #expect(received.status == [200])
            #expect(received.text == (0..<5).map { "piece \($0)\n" }.joined())
            // Delivered piece by piece over time, not all at the end.
            #expect(received.pieces.count >= 4)
            if let first = received.pieces.first, let last = received.pieces.last {
                #expect(last.at - first.at >= .milliseconds(400))
            }
        }
    }

    @Test func ignoresTheTotalTimeout() async throws {
        try await withStreamingServer { server in
            var request = HTTPRequest(url: server.url("/pieces?n=6&ms=200"), timeout: .milliseconds(300))
            request.connectTimeout = .seconds(2)
            let (received, result) = await stream(HTTPConnection(), request)
            let resultStatus = try status(result)
            #expect(resultStatus == 200)
            #expect(received.text.hasSuffix("piece 5\n"))
        }
    }

    @Test func returningFalseStopsTheStream() async throws {
        try await withStreamingServer { server in
            let connection = HTTPConnection()
            let start = ContinuousClock.now
            let (received, result) = await stream(
                connection, HTTPRequest(url: server.url("/forever?ms=50")), stopAfter: 3)
            let resultStatus = try status(result)
            #expect(resultStatus == 200)
            #expect(received.pieces.count == 3)
            #expect(ContinuousClock.now - start < .seconds(25), "the stream never ends by itself")
            // The connection stays usable.
            let (_, again) = await stream(connection, HTTPRequest(url: server.url("/pieces?n=2&ms=10")))
            let againStatus = try status(again)
            #expect(againStatus == 200)
        }
    }

    @Test func cancellationStopsASilentStream() async throws {
        try await withStreamingServer { server in
            let cancellation = StreamCancellation()
            let start = ContinuousClock.now
            async let outcome = stream(HTTPConnection(), HTTPRequest(url: server.url("/silent")), cancellation: cancellation)
            try await Task.sleep(for: .milliseconds(300))
            cancellation.cancel()
            let (received, result) = await outcome
            let resultStatus = try status(result)
            #expect(resultStatus == 200)
            #expect(received.status == [200])
            #expect(received.pieces.isEmpty)
            // The progress callback runs at least once a second; the stream itself never ends.
            // (Generous: a loaded CI machine once needed 11.7 s.)
            #expect(ContinuousClock.now - start < .seconds(25))
        }
    }

    @Test func cancelledBeforeStartDoesNothing() async throws {
        let cancellation = StreamCancellation()
        cancellation.cancel()
        let (received, result) = await stream(
            HTTPConnection(), HTTPRequest(url: "http://127.0.0.1:1/"), cancellation: cancellation)
        let resultStatus = try status(result)
        #expect(resultStatus == 0)
        #expect(received.status.isEmpty)
    }

    @Test func idleTimeoutDetectsAStalledStream() async throws {
        try await withStreamingServer { server in
            let start = ContinuousClock.now
            let (received, result) = await stream(
                HTTPConnection(), HTTPRequest(url: server.url("/silent")), idleTimeout: .seconds(1))
            guard case .failure(let error) = result else {
                Issue.record("expected a timeout")
                return
            }
            #expect(error.kind == .timeout)
            #expect(received.status == [200])
            #expect(ContinuousClock.now - start < .seconds(25), "the stream never ends by itself")
        }
    }

    @Test func brokenConnectionThrowsAfterDeliveringWhatArrived() async throws {
        try await withStreamingServer { server in
            let (received, result) = await stream(HTTPConnection(), HTTPRequest(url: server.url("/broken?n=2")))
            guard case .failure(let error) = result else {
                Issue.record("expected a connection error")
                return
            }
            #expect(error.kind == .connection)
            #expect(received.text == "piece 0\npiece 1\n")
        }
    }

    @Test func statusIsReportedForAnEmptyBody() async throws {
        try await withStreamingServer { server in
            let (received, result) = await stream(HTTPConnection(), HTTPRequest(url: server.url("/empty404")))
            let response = try result.get()
            #expect(response.status == 404)
            #expect(response.header("x-reason") == "nothing here")
            #expect(received.status == [404])
            #expect(received.pieces.isEmpty)
        }
    }

    @Test func connectionRefusedThrows() async throws {
        let port = try freePort()
        var request = HTTPRequest(url: "http://127.0.0.1:\(port)/")
        request.connectTimeout = .seconds(2)
        let (received, result) = await stream(HTTPConnection(), request)
        guard case .failure(let error) = result else {
            Issue.record("expected a connection error")
            return
        }
        #expect(error.kind == .connection)
        #expect(received.status.isEmpty)
    }
}
