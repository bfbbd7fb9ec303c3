import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Agent

/// Back-pressure of ``ChunkedResponse``: on an embedded channel whose writes stay pending until
/// the test completes them, as writes to a client that does not read do.
@Suite("Chunked responses")
struct ChunkedResponseTests {
    /// Records what is written and holds every write's promise until ``complete(with:)``.
    final class PendingWrites: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = HTTPServerResponsePart
        var parts: [HTTPServerResponsePart] = []
        var pending: [EventLoopPromise<Void>] = []

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            parts.append(unwrapOutboundIn(data))
            if let promise { pending.append(promise) }
        }

        func complete(with error: (any Error)? = nil) {
            let promises = pending
            pending = []
            for promise in promises {
                if let error { promise.fail(error) } else { promise.succeed() }
            }
        }

        var bodyBytes: [UInt8] {
            parts.flatMap { part -> [UInt8] in
                if case .body(.byteBuffer(let buffer)) = part { return Array(buffer.readableBytesView) }
                return []
            }
        }

        var ended: Bool {
            if case .end = parts.last { return true }
            return false
        }
    }

    /// How many chunks a body was asked for.
    final class Asked {
        var count = 0
    }

    /// `chunks` chunks of `minimumBytes` bytes, byte k of the body being k % 251.
    struct CountingBody: ChunkedBody {
        let chunks: Int
        let asked: Asked
        private var written = 0
        private var offset = 0

        init(chunks: Int, asked: Asked) {
            self.chunks = chunks
            self.asked = asked
        }

        var isFinished: Bool { written == chunks }

        mutating func write(into buffer: inout ByteBuffer, minimumBytes: Int) {
            guard !isFinished else { return }
            asked.count += 1
            for _ in 0..<minimumBytes {
                buffer.writeInteger(UInt8(offset % 251))
                offset += 1
            }
            written += 1
        }
    }

    static let head = HTTPResponseHead(version: .http1_1, status: .ok)

    @Test func theNextChunkIsWrittenOnlyAfterThePreviousOneLeft() throws {
        let writes = PendingWrites()
        let channel = EmbeddedChannel(handler: writes)
        let asked = Asked()
        let done = ChunkedResponse.send(CountingBody(chunks: 5, asked: asked), head: Self.head, on: channel, chunkSize: 100)
        var finished = false
        done.whenSuccess { finished = true }

        for chunk in 1...4 {
            channel.embeddedEventLoop.run()
            #expect(asked.count == chunk, "one chunk at a time, however long the client takes")
            #expect(writes.bodyBytes.count == chunk * 100)
            #expect(!finished && !writes.ended)
            writes.complete()
        }
        channel.embeddedEventLoop.run()
        #expect(asked.count == 5)
        #expect(writes.ended)
        writes.complete()
        #expect(finished)
        if case .head(let head) = writes.parts.first { #expect(head.status == .ok) } else { Issue.record("no head first") }
        #expect(writes.bodyBytes == (0..<500).map { UInt8($0 % 251) })
        _ = try channel.finish()
    }

    @Test func aFailedWriteAbandonsTheRestOfTheBody() throws {
        struct Gone: Error {}
        let writes = PendingWrites()
        let channel = EmbeddedChannel(handler: writes)
        let asked = Asked()
        let done = ChunkedResponse.send(CountingBody(chunks: 100, asked: asked), head: Self.head, on: channel, chunkSize: 10)
        var failure: (any Error)?
        done.whenFailure { failure = $0 }
        channel.embeddedEventLoop.run()
        writes.complete()
        channel.embeddedEventLoop.run()
        writes.complete(with: Gone())
        channel.embeddedEventLoop.run()
        #expect(failure is Gone)
        #expect(asked.count == 2)
        #expect(!writes.ended)
        _ = try? channel.finish()
    }
}
