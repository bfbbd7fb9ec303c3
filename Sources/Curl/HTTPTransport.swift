#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl
import Synchronization

/// The agent's one HTTP client: every transfer (scrapes, remote write, Kubernetes lists and
/// watches) of one transport runs on a single libcurl multi handle, driven by a single
/// dedicated I/O thread (named `curl-io`). No thread is blocked per request, so a thousand slow
/// targets cost sockets, not threads.
///
/// **Threads.** ``init(maxConnections:)`` starts the I/O thread; ``shutdown()`` (or `deinit`)
/// stops and joins it. The I/O thread is the only one that calls libcurl for this transport: it
/// sets each transfer's options, runs libcurl's callbacks (which only copy bytes and split
/// header lines), and completes transfers. Callers only validate their request, queue a
/// command under a lock and wake the thread (`curl_multi_wakeup`); they never block.
///
/// **Completion.** Each ``perform(_:)`` is resumed exactly once: with the response or error by
/// the I/O thread when the transfer ends or is aborted, or by the caller itself when the
/// request is invalid, the task was already cancelled, or the transport is shut down.
///
/// **Cancellation.** Cancelling the task that awaits ``perform(_:)`` aborts the transfer at
/// once: the I/O thread removes it from libcurl, which closes its connection, then resumes the
/// call with `CancellationError`. For a stream (waiting for its head or its next chunk), the
/// call throws `CancellationError` immediately and the I/O thread removes the transfer right
/// after. A transfer whose task was cancelled before it was queued is never started.
///
/// **Connections.** Connections live in the multi handle's pool and are reused by later
/// requests to the same host and port with the same TLS settings, whichever request made them.
/// Up to `maxConnections` idle connections are kept (each for at most 5 minutes), so targets
/// scraped every interval keep theirs. The DNS cache is shared too. Easy handles are reused
/// (reset between transfers).
///
/// libcurl is used with `CURLOPT_NOSIGNAL`; a proxy is used only when the request names one
/// (``HTTPRequest/proxyURL``): environment variables such as `http_proxy` are ignored.
public final class HTTPTransport: Sendable {
    let core: TransportCore
    private let thread: Mutex<pthread_t?>

    /// Creates the multi handle and starts the I/O thread.
    ///
    /// - Parameter maxConnections: How many idle connections the pool keeps
    ///   (`CURLMOPT_MAXCONNECTS`). It should exceed the number of distinct hosts this transport
    ///   talks to regularly (scrape targets, remote-write endpoints), or connections are closed
    ///   between uses. libcurl's default would be four times the number of running transfers.
    public init(maxConnections: Int = 4096) {
        var multi: MultiHandle?
        if Curl.globalInitResult == CURLE_OK, let pointer = curl_multi_init() {
            _ = ccurl_multi_setopt_long(pointer, CURLMOPT_MAXCONNECTS, Swift.max(1, maxConnections))
            multi = MultiHandle(pointer)
        }
        core = TransportCore(multi: multi)
        guard multi != nil else {
            // Every request fails with CurlError.initializationFailed; there is no thread.
            thread = Mutex(nil)
            return
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(core).toOpaque()
        let result = pthread_create(&thread, nil, { context in
            let core = Unmanaged<TransportCore>.fromOpaque(context!).takeRetainedValue()
            ccurl_name_current_thread("curl-io")
            IOLoop(core: core, multi: core.multi!.pointer).run()
            return nil
        }, context)
        precondition(result == 0, "cannot start the HTTP transport's I/O thread (error \(result))")
        self.thread = Mutex(thread)
    }

    deinit {
        shutdown()
    }

    /// Stops the I/O thread: transfers still running or queued fail with a ``CurlError`` (of
    /// kind ``CurlError/Kind-swift.enum/other``), idle connections are closed, and later
    /// requests fail at once. Blocks until the thread has exited (normally milliseconds).
    /// Idempotent; also done by `deinit`.
    public func shutdown() {
        core.requestShutdown()
        guard let thread = thread.withLock({ thread in
            defer { thread = nil }
            return thread
        }) else { return }
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    /// Transfers currently running (added to libcurl and not yet finished), for metrics.
    public var activeTransfers: Int {
        core.activeTransfers.load(ordering: .relaxed)
    }

    /// The most transfers ever running at once (for tests).
    var peakActiveTransfers: Int {
        core.peakActiveTransfers.load(ordering: .relaxed)
    }

    /// Performs `request` and returns the final response.
    ///
    /// Every option is set afresh for each request, so nothing carries over from one request
    /// to the next except open connections, the DNS cache and TLS sessions.
    ///
    /// - Throws: ``CurlError`` if no complete response arrived (HTTP error statuses are
    ///   responses); `CancellationError` if the task was cancelled: the transfer is aborted and
    ///   its connection closed before this returns.
    public func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        let prepared = try PreparedRequest(
            request, mode: .collect(maxBodyBytes: request.maxResponseBytes, timeout: request.timeout))
        let id = core.makeID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                core.submitAdd(id: id, request: prepared, completion: .response(continuation))
            }
        } onCancel: { [core] in
            core.submit(.abort(id))
        }
    }

    /// Starts `request` and returns as soon as the final response's head (status and headers)
    /// arrived; the body follows through ``HTTPResponseStream/body-swift.property``. For
    /// long-lived responses such as a Kubernetes watch.
    ///
    /// Differences from ``perform(_:)``:
    /// - ``HTTPRequest/timeout`` and ``HTTPRequest/maxResponseBytes`` are ignored: there is no
    ///   limit on the whole transfer. ``HTTPRequest/connectTimeout`` still applies (set it).
    /// - `idleTimeout`, when set, fails the transfer with a
    ///   ``CurlError/Kind-swift.enum/timeout`` error once it has stalled (averaging under one
    ///   byte per second) for that long, which detects a dead peer on a silent connection.
    ///   Rounded up to whole seconds. A transfer paused because its consumer is slow is not
    ///   stalled.
    /// - At most about `maxBufferedBytes` of body are held for a slow consumer: beyond that,
    ///   libcurl stops reading from the socket until the consumer drained half of it.
    ///
    /// - Throws: ``CurlError`` if no response head arrived; `CancellationError` if the task was
    ///   cancelled (the transfer is aborted).
    public func stream(
        _ request: HTTPRequest, idleTimeout: Duration? = nil, maxBufferedBytes: Int = 1 << 20
    ) async throws -> HTTPResponseStream {
        let prepared = try PreparedRequest(request, mode: .stream(idleTimeout: idleTimeout))
        let id = core.makeID()
        let state = StreamState(id: id, limit: maxBufferedBytes, core: core)
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<StreamState.Head, any Error>) in
                state.awaitHead(continuation)
                core.submitAdd(id: id, request: prepared, completion: .stream(state))
            }
        } onCancel: {
            state.cancel()
        }
        return HTTPResponseStream(head: head, state: state, transport: self)
    }
}
