import NIOCore
import NIOHTTP1

/// A response body that is written a piece at a time, so that it never has to be held whole.
protocol ChunkedBody {
    /// Whether the whole body has been written.
    var isFinished: Bool { get }

    /// Appends the next part of the body to `buffer` until `buffer` holds at least
    /// `minimumBytes` readable bytes or the body is finished. Does nothing once finished.
    mutating func write(into buffer: inout ByteBuffer, minimumBytes: Int)
}

/// Sends an HTTP response whose body is a ``ChunkedBody``, with back-pressure: a chunk is
/// written only once the previous one has left NIO for the socket (its write promise
/// succeeded). So the agent holds one chunk of the body at a time, whatever the body's size;
/// a client that reads slowly slows the writing down, and one that stops reading stops it.
///
/// Without a `Content-Length` in `head`, NIO's HTTP/1.1 encoder sends the chunks with chunked
/// transfer encoding. Everything runs on the channel's event loop; each chunk is written in a
/// turn of its own, so other connections of that loop are served in between.
enum ChunkedResponse {
    /// The bytes asked of the body per chunk.
    static let chunkSize = 64 * 1024

    /// Writes `head`, the body, and the end of the response to `channel`; call it on the
    /// channel's event loop. The future succeeds when the end has been written, and fails (the
    /// rest of the body abandoned) when a write fails, e.g. because the client went away.
    static func send(
        _ body: some ChunkedBody, head: HTTPResponseHead, on channel: Channel, chunkSize: Int = Self.chunkSize
    ) -> EventLoopFuture<Void> {
        channel.eventLoop.preconditionInEventLoop()
        let done = channel.eventLoop.makePromise(of: Void.self)
        let sender = Sender(body: body, channel: channel, chunkSize: chunkSize, done: done)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        sender.sendNextChunk()
        return done.futureResult
    }

    /// One response in progress. Used on `channel`'s event loop only, which is what makes its
    /// mutable `body` safe; it lives as long as a write of it is pending.
    private final class Sender: @unchecked Sendable {
        private var body: any ChunkedBody
        private let channel: Channel
        private let chunkSize: Int
        private let done: EventLoopPromise<Void>

        init(body: any ChunkedBody, channel: Channel, chunkSize: Int, done: EventLoopPromise<Void>) {
            self.body = body
            self.channel = channel
            self.chunkSize = chunkSize
            self.done = done
        }

        func sendNextChunk() {
            channel.eventLoop.assertInEventLoop()
            var chunk = channel.allocator.buffer(capacity: chunkSize + chunkSize / 4)
            body.write(into: &chunk, minimumBytes: chunkSize)
            if body.isFinished {
                if chunk.readableBytes > 0 { channel.write(HTTPServerResponsePart.body(.byteBuffer(chunk)), promise: nil) }
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: done)
                return
            }
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(chunk))).whenComplete { result in
                switch result {
                case .success:
                    // A write that went straight to the socket has completed already: the next
                    // chunk goes in a new turn, not deeper into this one's stack.
                    self.channel.eventLoop.execute { self.sendNextChunk() }
                case .failure(let error):
                    self.done.fail(error)
                }
            }
        }
    }
}
