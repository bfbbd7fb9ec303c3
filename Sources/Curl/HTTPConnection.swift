import CCurl
import Synchronization

/// Facts about the linked libcurl, and its one-time global setup.
public enum Curl {
    /// libcurl's version string, e.g. `"libcurl/7.88.1 OpenSSL/3.0.x zlib/1.2.13 ..."`.
    public static var version: String {
        String(cString: curl_version())
    }

    /// `curl_global_init(CURL_GLOBAL_ALL)`, run exactly once (Swift runs a `static let`
    /// initializer once, thread-safely) before the first easy or multi handle is created.
    static let globalInitResult: CURLcode = ccurl_global_init()
}

/// **Legacy, to be removed**: one blocking libcurl easy handle. Use ``HTTPTransport``.
///
/// Kept only until the scrape loop, remote write and the end-to-end test helpers move to
/// ``HTTPTransport``. It shares the option setting and error classification with the transport,
/// so requests behave the same way.
///
/// Thread-safe: requests on one `HTTPConnection` are serialized by an internal `Mutex`.
/// ``perform(_:)`` **blocks the calling thread** for the whole transfer, so call it from a
/// thread pool (for example `NIOThreadPool`), never on an event loop or the cooperative pool.
public final class HTTPConnection: Sendable {
    private let easy: Mutex<EasyHandle?>

    /// Creates the handle. Does not connect; the first request does.
    public init() {
        easy = Mutex(EasyHandle())
    }

    /// Performs `request` and returns the final response, blocking the calling thread.
    ///
    /// - Throws: ``CurlError`` if no complete response arrived. HTTP error statuses are
    ///   returned as responses.
    public func perform(_ request: HTTPRequest) throws(CurlError) -> HTTPResponse {
        let prepared = try PreparedRequest(request, mode: .collect(maxBodyBytes: request.maxResponseBytes, timeout: request.timeout))
        return try easy.withLock { (handle: inout EasyHandle?) throws(CurlError) -> HTTPResponse in
            guard let handle else { throw .initializationFailed }
            let context = TransferContext(request: prepared, stream: nil)
            defer { handle.reset() }
            try handle.apply(prepared, context: context)
            let code = withExtendedLifetime(context) { curl_easy_perform(handle.pointer) }
            return try handle.outcome(code, context: context).get()
        }
    }
}
