@testable import Curl
import TestSupport
import Testing

/// What one stream delivered.
private struct Received: Sendable {
    /// Each chunk and when it arrived.
    var pieces: [(bytes: [UInt8], at: ContinuousClock.Instant)] = []
    var text: String { String(decoding: pieces.flatMap(\.bytes), as: UTF8.self) }
}

/// Reads `stream`'s body to its end (or `stopAfter` chunks), returning what arrived and how it
/// ended.
private func consume(_ stream: HTTPResponseStream, stopAfter: Int = .max) async -> (Received, Result<Void, any Error>) {
    var received = Received()
    do {
        for try await chunk in stream.body {
            received.pieces.append((chunk, ContinuousClock.now))
            if received.pieces.count >= stopAfter { break }
        }
        return (received, .success(()))
    } catch {
        return (received, .failure(error))
    }
}

/// ``HTTPTransport/stream(_:idleTimeout:maxBufferedBytes:)``: for Kubernetes watches.
@Suite(.timeLimit(.minutes(1))) struct StreamingTests {
    @Test func deliversChunksAsTheyArriveBeforeTheResponseEnds() async throws {
        try await withServer { server in
            let finite = try await HTTPTransport().stream(HTTPRequest(url: server.url("/pieces?n=5&ms=150")))
            #expect(finite.status == 200)
            #expect(finite.header("content-type") == "application/json")
            let (received, result) = await consume(finite)
            try result.get()
            #expect(received.text == (0..<5).map { "piece \($0)\n" }.joined())
            #expect(received.pieces.count >= 4, "delivered piece by piece")
            // A response that never ends: whatever arrives was delivered before its end.
            let endless = try await HTTPTransport().stream(HTTPRequest(url: server.url("/forever?ms=20")))
            var pieces = 0
            for try await _ in endless.body {
                pieces += 1
                if pieces == 3 { break }
            }
            #expect(pieces == 3)
        }
    }

    @Test func returnsOnceTheHeadArrivedBeforeAnyBody() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let stream = try await transport.stream(HTTPRequest(url: server.url("/silent")))
            #expect(stream.status == 200)
            #expect(stream.header("transfer-encoding") == "chunked")
            #expect(transport.activeTransfers == 1, "the body is still to come")
        }
    }

    @Test func followsRedirectsAndKeepsOnlyTheFinalHead() async throws {
        try await withServer { server in
            let stream = try await HTTPTransport().stream(HTTPRequest(url: server.url("/redirect")))
            #expect(stream.status == 200)
            #expect(stream.header("x-redirect") == nil)
            #expect(stream.header("x-test") == "yes")
            let (received, result) = await consume(stream)
            try result.get()
            #expect(received.text == "hello world")
        }
    }

    @Test func ignoresTheTotalTimeout() async throws {
        try await withServer { server in
            var request = HTTPRequest(url: server.url("/pieces?n=6&ms=200"), timeout: .milliseconds(300))
            request.connectTimeout = .seconds(2)
            let (received, result) = await consume(try await HTTPTransport().stream(request))
            try result.get()
            #expect(received.text.hasSuffix("piece 5\n"))
        }
    }

    @Test func leavingTheLoopAbortsTheTransferAndClosesTheConnection() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let start = ContinuousClock.now
            let (received, result) = await consume(
                try await transport.stream(HTTPRequest(url: server.url("/forever?ms=50"))), stopAfter: 3)
            try result.get()
            #expect(received.pieces.count == 3)
            #expect(ContinuousClock.now - start < .seconds(25), "the stream never ends by itself")
            #expect(await eventually(timeout: .seconds(5)) { transport.activeTransfers == 0 && server.connectionsClosed == 1 })
            // The transport stays usable.
            let (_, again) = await consume(try await transport.stream(HTTPRequest(url: server.url("/pieces?n=2&ms=10"))))
            try again.get()
        }
    }

    @Test func droppingTheStreamAbortsTheTransfer() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            do {
                let stream = try await transport.stream(HTTPRequest(url: server.url("/silent")))
                #expect(stream.status == 200)
            }
            #expect(await eventually(timeout: .seconds(5)) { transport.activeTransfers == 0 && server.connectionsClosed == 1 })
        }
    }

    @Test func cancellingTheConsumerEndsASilentStreamAtOnce() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let task = Task { () async -> (Received, Result<Void, any Error>) in
                do {
                    return await consume(try await transport.stream(HTTPRequest(url: server.url("/silent"))))
                } catch {
                    return (Received(), .failure(error))
                }
            }
            #expect(await eventually(timeout: .seconds(10)) { transport.activeTransfers == 1 })
            try await Task.sleep(for: .milliseconds(100))
            let start = ContinuousClock.now
            task.cancel()
            let (received, result) = await task.value
            // A generous bound that still tells "at once" from "never".
            #expect(ContinuousClock.now - start < .seconds(5), "a 30 s timeout, not the cancellation, ended it")
            #expect(received.pieces.isEmpty)
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(await eventually(timeout: .seconds(5)) { transport.activeTransfers == 0 && server.connectionsClosed == 1 })
        }
    }

    @Test func cancellingWhileWaitingForTheHeadAbortsTheRequest() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let task = Task { try await transport.stream(HTTPRequest(url: server.url("/never"))) }
            #expect(await eventually(timeout: .seconds(10)) { transport.activeTransfers == 1 && server.connectionsOpened == 1 })
            let start = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(ContinuousClock.now - start < .seconds(5), "a 30 s timeout, not the cancellation, ended it")
            #expect(await eventually(timeout: .seconds(5)) { transport.activeTransfers == 0 && server.connectionsClosed == 1 })
        }
    }

    @Test func cancelledBeforeStartSendsNothing() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let task = Task {
                while !Task.isCancelled { await Task.yield() }
                return try await transport.stream(HTTPRequest(url: server.url("/silent")))
            }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(transport.peakActiveTransfers == 0)
            #expect(server.connectionsOpened == 0)
        }
    }

    @Test func idleTimeoutDetectsAStalledStream() async throws {
        try await withServer { server in
            let start = ContinuousClock.now
            let stream = try await HTTPTransport().stream(HTTPRequest(url: server.url("/silent")), idleTimeout: .seconds(1))
            #expect(stream.status == 200)
            let (received, result) = await consume(stream)
            guard case .failure(let error as CurlError) = result else {
                Issue.record("expected a timeout, got \(result)")
                return
            }
            #expect(error.kind == .timeout)
            #expect(received.pieces.isEmpty)
            #expect(ContinuousClock.now - start < .seconds(25), "the stream never ends by itself")
        }
    }

    @Test func brokenConnectionThrowsAfterDeliveringWhatArrived() async throws {
        try await withServer { server in
            let (received, result) = await consume(try await HTTPTransport().stream(HTTPRequest(url: server.url("/broken?n=2"))))
            guard case .failure(let error as CurlError) = result else {
                Issue.record("expected a connection error, got \(result)")
                return
            }
            #expect(error.kind == .connection)
            #expect(received.text == "piece 0\npiece 1\n")
        }
    }

    @Test func statusIsReportedForAnEmptyBody() async throws {
        try await withServer { server in
            let stream = try await HTTPTransport().stream(HTTPRequest(url: server.url("/empty404")))
            #expect(stream.status == 404)
            #expect(stream.header("x-reason") == "nothing here")
            let (received, result) = await consume(stream)
            try result.get()
            #expect(received.pieces.isEmpty)
        }
    }

    @Test func connectionRefusedThrows() async throws {
        let port = try freePort()
        var request = HTTPRequest(url: "http://127.0.0.1:\(port)/")
        request.connectTimeout = .seconds(2)
        await #expect {
            _ = try await HTTPTransport().stream(request)
        } throws: { error in
            (error as? CurlError)?.kind == .connection
        }
    }

    /// A server that sends as fast as the client reads, read slowly: the transport must stop
    /// reading from the socket instead of buffering without bound, and resume when the
    /// consumer catches up.
    @Test func aSlowConsumerPausesTheTransferInsteadOfBuffering() async throws {
        try await withServer { server in
            let limit = 256 << 10
            let transport = HTTPTransport()
            let stream = try await transport.stream(HTTPRequest(url: server.url("/firehose")), maxBufferedBytes: limit)
            var iterator = stream.body.makeAsyncIterator()
            var received = 0
            // Slowly: one chunk every 20 ms for a while, during which the server could send
            // hundreds of megabytes.
            for _ in 0..<40 {
                received += try await iterator.next()?.count ?? 0
                try await Task.sleep(for: .milliseconds(20))
            }
            let state = stream.body.state
            // At most one callback's worth (16 KiB) over the bound.
            #expect(state.peakBufferedBytes <= limit + (64 << 10), "peak \(state.peakBufferedBytes)")
            #expect(state.bufferedBytes <= limit + (64 << 10))
            // Then fast: the transfer was unpaused and keeps going, still within the bound.
            while received < 32 << 20 {
                guard let chunk = try await iterator.next() else { break }
                received += chunk.count
            }
            #expect(received >= 32 << 20)
            #expect(state.peakBufferedBytes <= limit + (64 << 10), "peak \(state.peakBufferedBytes)")
        }
    }

    @Test func aPausedStreamIsNotIdle() async throws {
        try await withServer { server in
            let stream = try await HTTPTransport().stream(
                HTTPRequest(url: server.url("/firehose")), idleTimeout: .seconds(1), maxBufferedBytes: 64 << 10)
            var iterator = stream.body.makeAsyncIterator()
            _ = try await iterator.next()
            // Paused for longer than the idle timeout because the consumer is busy.
            try await Task.sleep(for: .seconds(3))
            var received = 0
            while received < 4 << 20 {
                guard let chunk = try await iterator.next() else { break }
                received += chunk.count
            }
            #expect(received >= 4 << 20)
        }
    }
}
