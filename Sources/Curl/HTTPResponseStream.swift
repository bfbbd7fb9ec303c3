import Synchronization

/// A response whose head has arrived and whose body arrives over time: the result of
/// ``HTTPTransport/stream(_:idleTimeout:maxBufferedBytes:)``.
///
/// The transfer is aborted (its connection closed) as soon as any of these happens: the task
/// iterating the body is cancelled; an iterator is dropped before the end (a `for try await`
/// loop left by `break` or `throw`); this value and every copy of its
/// ``body-swift.property`` are gone. A waiting iteration then throws `CancellationError` at
/// once, without waiting for the I/O thread, which removes the transfer (closing its
/// connection) right after. The transport stays up as long as a stream from it exists.
public struct HTTPResponseStream: Sendable {
    /// The final response's status (after redirects).
    public let status: Int
    /// The final response's headers in arrival order, names lowercased, values trimmed.
    public let headers: [(name: String, value: String)]
    /// The body, in pieces as they arrive (decoded when ``HTTPRequest/acceptEncoding`` asked
    /// for it). Iterate it once.
    public let body: Body

    init(head: StreamState.Head, state: StreamState, transport: HTTPTransport) {
        status = head.status
        headers = head.headers
        body = Body(lease: StreamLease(state, transport: transport))
    }

    /// The first value of the header `name`, compared case-insensitively, or `nil`.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }

    /// The body of an ``HTTPResponseStream``: byte chunks in arrival order.
    ///
    /// Iteration ends (`nil`) when the server completed the response; it throws ``CurlError``
    /// when the transfer failed mid-body (the chunks received until then are delivered first),
    /// and `CancellationError` when the iterating task was cancelled.
    ///
    /// Backpressure: when more than the stream's `maxBufferedBytes` are waiting to be
    /// consumed, libcurl stops reading from the socket until the consumer caught up.
    public struct Body: AsyncSequence, Sendable {
        /// A chunk of body bytes, as one read from the connection delivered them.
        public typealias Element = [UInt8]

        let lease: StreamLease

        /// The state shared with the I/O thread (internal: tests look at its buffer).
        var state: StreamState { lease.state }

        /// An iterator over the chunks. Iterate once: dropping it before the end aborts the transfer.
        public func makeAsyncIterator() -> Iterator {
            Iterator(lease: StreamLease(lease.state, transport: lease.transport))
        }

        /// Iterates the chunks; dropping it before the end aborts the transfer.
        public struct Iterator: AsyncIteratorProtocol {
            let lease: StreamLease

            /// The next chunk, `nil` at the end of the body.
            public mutating func next() async throws -> [UInt8]? {
                try await lease.state.next()
            }
        }
    }
}

/// Keeps a stream's transfer wanted, and its transport running: when the last reference to a
/// lease goes away, the transfer is aborted (a no-op once it ended).
final class StreamLease: Sendable {
    let state: StreamState
    /// A stream keeps its transport (and so the I/O thread) alive.
    let transport: HTTPTransport

    init(_ state: StreamState, transport: HTTPTransport) {
        self.state = state
        self.transport = transport
    }

    deinit {
        state.abandon()
    }
}

/// The hand-over point between the I/O thread, which produces a stream's head and body, and the
/// task that consumes them.
///
/// All mutable state is behind one `Mutex`. Each continuation stored here (the head waiter, the
/// body waiter) is taken out of the state under the lock by whoever resumes it, so each is
/// resumed exactly once, by the I/O thread (head, data, end), by a cancellation handler, or by
/// the submitting task when the transfer could not be queued.
///
/// The consumer never calls libcurl: to unpause or abort it queues a command for the I/O
/// thread.
final class StreamState: Sendable {
    /// A response head.
    struct Head: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
    }

    /// What the write callback should do with the bytes it was given.
    enum Offer {
        /// Taken (buffered or handed to the waiting consumer).
        case accepted
        /// Not taken: the buffer is full; return `CURL_WRITEFUNC_PAUSE`.
        case pause
        /// Not taken: the consumer is gone; abort the transfer.
        case abandoned
    }

    private struct State {
        var headWaiter: CheckedContinuation<Head, any Error>?
        var chunks: [[UInt8]] = []
        /// Index of the first chunk not yet consumed.
        var readIndex = 0
        /// Bytes in `chunks[readIndex...]`.
        var buffered = 0
        /// The most ever buffered (for tests).
        var peakBuffered = 0
        /// Whether the write callback paused the transfer and no unpause was asked for since.
        var paused = false
        /// How the body ended; `nil` while it goes on.
        var end: Result<Void, any Error>?
        var bodyWaiter: CheckedContinuation<[UInt8]?, any Error>?
        /// The consumer cancelled or went away; later bytes are refused.
        var abandoned = false

        mutating func pop(limit: Int) -> (chunk: [UInt8], unpause: Bool)? {
            guard readIndex < chunks.count else { return nil }
            let chunk = chunks[readIndex]
            chunks[readIndex] = []
            readIndex += 1
            if readIndex == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                readIndex = 0
            } else if readIndex >= 64, readIndex * 2 >= chunks.count {
                chunks.removeFirst(readIndex)
                readIndex = 0
            }
            buffered -= chunk.count
            // Hysteresis: resume only once half the bound is free, not for every chunk.
            let unpause = paused && buffered <= limit / 2
            if unpause { paused = false }
            return (chunk, unpause)
        }
    }

    /// The transfer's id in its transport.
    let id: UInt64
    /// The most bytes buffered before the transfer is paused.
    let limit: Int
    private let core: TransportCore
    private let state = Mutex(State())

    init(id: UInt64, limit: Int, core: TransportCore) {
        self.id = id
        self.limit = Swift.max(1, limit)
        self.core = core
    }

    /// Bytes received and not yet consumed.
    var bufferedBytes: Int { state.withLock { $0.buffered } }
    /// The most bytes ever buffered at once.
    var peakBufferedBytes: Int { state.withLock { $0.peakBuffered } }

    // MARK: Consumer side

    /// Stores the continuation that ``deliverHead(_:)`` or ``finish(_:)`` resumes; called before
    /// the transfer is queued. Resumes it at once if the stream already ended (cancelled).
    func awaitHead(_ continuation: CheckedContinuation<Head, any Error>) {
        let ended: (any Error)? = state.withLock { state in
            if case .failure(let error) = state.end { return error }
            state.headWaiter = continuation
            return nil
        }
        if let ended { continuation.resume(throwing: ended) }
    }

    /// The next body chunk, `nil` at the end.
    func next() async throws -> [UInt8]? {
        enum Step {
            case chunk([UInt8], unpause: Bool)
            case end(Result<Void, any Error>)
            case cancelled
            case wait
        }
        func step(_ state: inout State, waiter: CheckedContinuation<[UInt8]?, any Error>?) -> Step {
            if state.abandoned { return .cancelled }
            if let (chunk, unpause) = state.pop(limit: limit) { return .chunk(chunk, unpause: unpause) }
            if let end = state.end { return .end(end) }
            guard let waiter else { return .wait }
            // Checked under the lock: a cancellation handler that runs after this point finds
            // the waiter stored; one that ran before set the flag this sees.
            if Task.isCancelled { return .cancelled }
            state.bodyWaiter = waiter
            return .wait
        }
        func perform(_ step: Step) throws -> [UInt8]?? {
            switch step {
            case .chunk(let chunk, let unpause):
                if unpause { core.submit(.unpause(id)) }
                return .some(chunk)
            case .end(let result):
                try result.get()
                return .some(nil)
            case .cancelled:
                cancel()
                throw CancellationError()
            case .wait:
                return nil
            }
        }

        // Checked on every call, not only while waiting: a consumer that never has to wait
        // (the data keeps coming) must still notice its cancellation.
        if Task.isCancelled {
            cancel()
            throw CancellationError()
        }
        if let value = try perform(state.withLock { step(&$0, waiter: nil) }) { return value }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                do {
                    if let value = try perform(state.withLock { step(&$0, waiter: continuation) }) {
                        continuation.resume(returning: value)
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The consumer cancelled: resumes any waiter with `CancellationError`, refuses further
    /// bytes, and asks the I/O thread to abort the transfer. Idempotent.
    func cancel() {
        let (head, body, wasRunning) = state.withLock { state in
            state.abandoned = true
            let wasRunning = state.end == nil
            if wasRunning { state.end = .failure(CancellationError()) }
            defer { state.headWaiter = nil; state.bodyWaiter = nil }
            return (state.headWaiter, state.bodyWaiter, wasRunning)
        }
        head?.resume(throwing: CancellationError())
        body?.resume(throwing: CancellationError())
        if wasRunning { core.submit(.abort(id)) }
    }

    /// The consumer dropped the stream: the same as ``cancel()``.
    func abandon() {
        cancel()
    }

    // MARK: I/O thread side

    /// The final response's head arrived.
    func deliverHead(_ head: Head) {
        let waiter = state.withLock { state in
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        waiter?.resume(returning: head)
    }

    /// Body bytes arrived (from the write callback).
    func offer(_ data: UnsafeRawBufferPointer) -> Offer {
        let (offer, waiter): (Offer, CheckedContinuation<[UInt8]?, any Error>?) = state.withLock { state in
            if state.abandoned || state.end != nil { return (.abandoned, nil) }
            if let waiter = state.bodyWaiter {
                // The consumer waits, so nothing is buffered: hand the bytes over directly.
                state.bodyWaiter = nil
                return (.accepted, waiter)
            }
            if state.buffered >= limit {
                state.paused = true
                return (.pause, nil)
            }
            state.chunks.append(Array(data))
            state.buffered += data.count
            state.peakBuffered = Swift.max(state.peakBuffered, state.buffered)
            return (.accepted, nil)
        }
        waiter?.resume(returning: Array(data))
        return offer
    }

    /// The transfer ended: resumes the head waiter (with the head, or the error) and the body
    /// waiter (with the end, or the error). Later calls change nothing.
    ///
    /// Also called off the I/O thread when the transfer could not be queued.
    func finish(_ outcome: Result<Head, any Error>) {
        let (head, body, end) = state.withLock { state in
            if state.end == nil { state.end = outcome.map { _ in () } }
            defer { state.headWaiter = nil; state.bodyWaiter = nil }
            return (state.headWaiter, state.bodyWaiter, state.end!)
        }
        head?.resume(with: outcome)
        if let body {
            switch end {
            case .success: body.resume(returning: nil)
            case .failure(let error): body.resume(throwing: error)
            }
        }
    }
}
