import CCurl
import Synchronization

/// A thread-safe flag that stops a running ``HTTPConnection/stream(_:idleTimeout:cancellation:onStatus:onData:)``.
///
/// ``cancel()`` may be called from any thread, before or during the transfer. libcurl checks
/// the flag in its progress callback, which runs at least once a second even when no data
/// arrives, and before every delivery of body bytes; so a cancelled stream returns within
/// about a second.
public final class StreamCancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Creates a flag that is not cancelled.
    public init() {}

    /// Requests that the stream stop. Idempotent.
    public func cancel() {
        flag.store(true, ordering: .releasing)
    }

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
}

extension HTTPConnection {
    /// Performs `request` and hands the response body to `onData` piece by piece, as it
    /// arrives: for never-ending responses such as a Kubernetes watch (a chunked stream of
    /// JSON lines).
    ///
    /// **Blocks the calling thread** until the server ends the response, the connection
    /// breaks, `onData` returns `false`, or `cancellation` is cancelled. It also holds this
    /// connection for that whole time (requests on one connection are serialized), so give
    /// each long-lived stream its own ``HTTPConnection`` and its own thread.
    ///
    /// Differences from ``perform(_:)``:
    /// - ``HTTPRequest/timeout`` and ``HTTPRequest/maxResponseBytes`` are ignored: there is no
    ///   limit on the whole transfer. ``HTTPRequest/connectTimeout`` still applies (set it).
    /// - `idleTimeout`, when set, aborts with a ``CurlError/Kind-swift.enum/timeout`` error once
    ///   the transfer has stalled (averaging under one byte per second) for that long, which
    ///   detects a dead peer on a silent connection. Rounded up to whole seconds.
    ///
    /// Callbacks run on the calling thread, in order: `onStatus` once with the final
    /// response's status (before the first `onData`, or at the end when the body is empty or
    /// the transfer failed after the response head arrived; never if no head arrived), then
    /// `onData` zero or more times.
    /// The buffer passed to `onData` is valid only during the call.
    ///
    /// - Returns: The final response's status and headers, with an empty body, also when the
    ///   caller stopped the transfer (by `onData` returning `false` or by `cancellation`).
    ///   Status 0 when `cancellation` was already cancelled (nothing was sent).
    /// - Throws: ``CurlError`` if the transfer failed: no response, or the connection broke or
    ///   timed out mid-body (the bytes received until then were already delivered).
    @discardableResult
    public func stream(
        _ request: HTTPRequest,
        idleTimeout: Duration? = nil,
        cancellation: StreamCancellation? = nil,
        onStatus: (_ status: Int) -> Void = { _ in },
        onData: (UnsafeRawBufferPointer) -> Bool
    ) throws(CurlError) -> HTTPResponse {
        if cancellation?.isCancelled == true {
            return HTTPResponse(status: 0)
        }
        let result: Result<HTTPResponse, CurlError> = withoutActuallyEscaping(onStatus) { onStatus in
            withoutActuallyEscaping(onData) { onData in
                easy.withLock { (handle: inout EasyHandle?) -> Result<HTTPResponse, CurlError> in
                    guard let handle else {
                        return .failure(CurlError(kind: .other, code: Int32(CURLE_FAILED_INIT.rawValue),
                                                  message: "libcurl could not be initialised"))
                    }
                    let sink = StreamSink(
                        easy: handle.pointer, idleTimeout: idleTimeout, cancellation: cancellation,
                        onStatus: onStatus, onData: onData)
                    return withExtendedLifetime(sink) {
                        Result { () throws(CurlError) -> HTTPResponse in try handle.perform(request, stream: sink) }
                    }
                }
            }
        }
        return try result.get()
    }
}

/// The streaming state of one ``HTTPConnection/stream(_:idleTimeout:cancellation:onStatus:onData:)``
/// call; lives on the calling thread for the duration of `curl_easy_perform`.
final class StreamSink {
    private let easy: UnsafeMutableRawPointer
    private let idleTimeout: Duration?
    private let cancellation: StreamCancellation?
    private let onStatus: (Int) -> Void
    private let onData: (UnsafeRawBufferPointer) -> Bool
    private var statusDelivered = false
    /// Set when the transfer ended because the caller asked for it.
    private(set) var abortedByCaller = false

    init(
        easy: UnsafeMutableRawPointer, idleTimeout: Duration?, cancellation: StreamCancellation?,
        onStatus: @escaping (Int) -> Void, onData: @escaping (UnsafeRawBufferPointer) -> Bool
    ) {
        self.easy = easy
        self.idleTimeout = idleTimeout
        self.cancellation = cancellation
        self.onStatus = onStatus
        self.onData = onData
    }

    /// Sets the streaming options (after `curl_easy_reset`): no total timeout, the progress
    /// callback for cancellation, and the low-speed limit for `idleTimeout`.
    func configure(_ pointer: UnsafeMutableRawPointer) throws(CurlError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(ccurl_setopt_long(pointer, CURLOPT_NOPROGRESS, 0))
        try check(ccurl_setopt_xferinfo_callback(pointer) { context, _, _, _, _ in
            Unmanaged<StreamSink>.fromOpaque(context!).takeUnretainedValue().progress()
        })
        try check(ccurl_setopt_pointer(pointer, CURLOPT_XFERINFODATA, context))
        if let idleTimeout {
            let (seconds, attoseconds) = idleTimeout.components
            let whole = Swift.max(1, Int(clamping: seconds) + (attoseconds > 0 ? 1 : 0))
            try check(ccurl_setopt_long(pointer, CURLOPT_LOW_SPEED_LIMIT, 1))
            try check(ccurl_setopt_long(pointer, CURLOPT_LOW_SPEED_TIME, whole))
        }
    }

    /// CURLOPT_XFERINFOFUNCTION: non-zero aborts with CURLE_ABORTED_BY_CALLBACK.
    private func progress() -> Int32 {
        guard cancellation?.isCancelled == true else { return 0 }
        abortedByCaller = true
        return 1
    }

    /// CURLOPT_WRITEFUNCTION for the body: returning less than `data.count` aborts the transfer.
    func receive(_ data: UnsafeRawBufferPointer) -> Int {
        if cancellation?.isCancelled == true {
            abortedByCaller = true
            return 0
        }
        if !statusDelivered {
            var status = 0
            _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            deliverStatus(status)
        }
        guard onData(data) else {
            abortedByCaller = true
            return 0
        }
        return data.count
    }

    /// Calls `onStatus` unless it was already called.
    func deliverStatus(_ status: Int) {
        guard !statusDelivered else { return }
        statusDelivered = true
        onStatus(status)
    }

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else {
            throw CurlError(kind: .other, code: Int32(bitPattern: code.rawValue),
                            message: String(cString: curl_easy_strerror(code)))
        }
    }
}
