import CCurl
import Synchronization

/// Facts about the linked libcurl, and its one-time global setup.
public enum Curl {
    /// libcurl's version string, e.g. `"libcurl/7.88.1 OpenSSL/3.0.x zlib/1.2.13 ..."`.
    public static var version: String {
        String(cString: curl_version())
    }

    /// `curl_global_init(CURL_GLOBAL_ALL)`, run exactly once (Swift runs a `static let`
    /// initializer once, thread-safely) before the first easy handle is created.
    static let globalInitResult: CURLcode = ccurl_global_init()
}

/// One reusable libcurl easy handle: a keep-alive connection (or a small pool of them,
/// per host) reused by successive requests.
///
/// Thread-safe: requests on one `HTTPConnection` are serialized by an internal `Mutex`.
/// ``perform(_:)`` **blocks the calling thread** for the whole transfer, so call it from a
/// thread pool (for example `NIOThreadPool`), never on an event loop or the cooperative pool
/// directly. Use one connection per concurrent request stream (per scrape target, per
/// remote-write shard).
///
/// libcurl is used with `CURLOPT_NOSIGNAL`, and with proxies disabled (environment
/// variables such as `http_proxy` are ignored).
public final class HTTPConnection: Sendable {
    private let easy: Mutex<EasyHandle?>

    /// Creates the handle. Does not connect; the first request does.
    public init() {
        easy = Mutex(Curl.globalInitResult == CURLE_OK ? EasyHandle() : nil)
    }

    /// Performs `request` and returns the final response.
    ///
    /// Every option is set afresh for each request (after `curl_easy_reset`), so nothing leaks
    /// from one request to the next except the open connection and DNS cache.
    ///
    /// - Throws: ``CurlError`` if no complete response arrived. HTTP error statuses are
    ///   returned as responses.
    public func perform(_ request: HTTPRequest) throws(CurlError) -> HTTPResponse {
        try easy.withLock { (handle: inout EasyHandle?) throws(CurlError) -> HTTPResponse in
            guard let handle else {
                throw CurlError(kind: .other, code: Int32(CURLE_FAILED_INIT.rawValue),
                                message: "libcurl could not be initialised")
            }
            return try handle.perform(request)
        }
    }
}

/// Owns a `CURL *` and its error buffer. Not thread-safe: used only under the `Mutex`.
private final class EasyHandle {
    let pointer: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let pointer = curl_easy_init() else { return nil }
        self.pointer = pointer
        errorBuffer = .allocate(capacity: ccurl_error_size())
        errorBuffer.initialize(repeating: 0, count: ccurl_error_size())
    }

    deinit {
        curl_easy_cleanup(pointer)
        errorBuffer.deallocate()
    }

    func perform(_ request: HTTPRequest) throws(CurlError) -> HTTPResponse {
        curl_easy_reset(pointer)
        errorBuffer[0] = 0

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        for line in try headerLines(for: request) {
            guard let appended = curl_slist_append(headerList, line) else {
                throw CurlError(kind: .other, code: Int32(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory")
            }
            headerList = appended
        }

        let transfer = Transfer(maxBodyBytes: request.maxResponseBytes)
        let context = Unmanaged.passUnretained(transfer).toOpaque()

        try check(ccurl_setopt_long(pointer, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_setopt_string(pointer, CURLOPT_URL, request.url))
        try check(ccurl_setopt_string(pointer, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(ccurl_setopt_string(pointer, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        try check(ccurl_setopt_string(pointer, CURLOPT_PROXY, ""))
        try check(ccurl_setopt_long(pointer, CURLOPT_TCP_KEEPALIVE, 1))
        try check(ccurl_setopt_long(pointer, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0))
        try check(ccurl_setopt_long(pointer, CURLOPT_MAXREDIRS, 10))
        try check(ccurl_setopt_long(pointer, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout)))
        if let connectTimeout = request.connectTimeout {
            try check(ccurl_setopt_long(pointer, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(connectTimeout)))
        }
        if let encoding = request.acceptEncoding {
            try check(ccurl_setopt_string(pointer, CURLOPT_ACCEPT_ENCODING, encoding))
        }
        try check(ccurl_setopt_slist(pointer, CURLOPT_HTTPHEADER, headerList))
        try check(ccurl_setopt_data_callback(pointer, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                .receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        try check(ccurl_setopt_pointer(pointer, CURLOPT_WRITEDATA, context))
        try check(ccurl_setopt_data_callback(pointer, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                .receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        try check(ccurl_setopt_pointer(pointer, CURLOPT_HEADERDATA, context))

        let code: CURLcode = try withExtendedLifetime(transfer) { () throws(CurlError) -> CURLcode in
            switch request.method {
            case .get:
                try check(ccurl_setopt_long(pointer, CURLOPT_HTTPGET, 1))
                return curl_easy_perform(pointer)
            case .post:
                // POSTFIELDS is not copied: the body must stay valid until curl_easy_perform
                // returns, which `withUnsafeBytes` guarantees.
                var result = CURLE_OK
                var setupError: CurlError?
                request.body.withUnsafeBytes { body in
                    var empty: UInt8 = 0
                    withUnsafeMutablePointer(to: &empty) { emptyPointer in
                        let data = body.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                            ?? UnsafeMutableRawPointer(emptyPointer)
                        do throws(CurlError) {
                            try check(ccurl_setopt_long(pointer, CURLOPT_POST, 1))
                            try check(ccurl_setopt_off_t(pointer, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                            try check(ccurl_setopt_pointer(pointer, CURLOPT_POSTFIELDS, data))
                            result = curl_easy_perform(pointer)
                        } catch {
                            setupError = error
                        }
                    }
                }
                if let setupError { throw setupError }
                return result
            }
        }

        guard code == CURLE_OK else {
            throw error(for: code, bodyLimit: transfer.bodyTooLarge ? request.maxResponseBytes : nil)
        }
        var status = 0
        try check(ccurl_getinfo_long(pointer, CURLINFO_RESPONSE_CODE, &status))
        return HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
    }

    /// Header lines for `CURLOPT_HTTPHEADER`, validated.
    private func headerLines(for request: HTTPRequest) throws(CurlError) -> [String] {
        var lines: [String] = []
        lines.reserveCapacity(request.headers.count + 2)
        var hasExpect = false, hasContentType = false
        for (name, value) in request.headers {
            let valid = !name.isEmpty
                && !name.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == 13 || $0 == 10 || $0 == 0 })
                && !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 })
            guard valid else {
                throw CurlError(kind: .other, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                                message: "invalid request header \(String(reflecting: name))")
            }
            let lowered = name.lowercased()
            hasExpect = hasExpect || lowered == "expect"
            hasContentType = hasContentType || lowered == "content-type"
            // "Name:" would make libcurl remove the header; "Name;" sends it empty.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if request.method == .post {
            // Suppress libcurl's `Expect: 100-continue` (a round trip per request) and its
            // default `application/x-www-form-urlencoded` content type.
            if !hasExpect { lines.append("Expect:") }
            if !hasContentType { lines.append("Content-Type:") }
        }
        return lines
    }

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else { throw error(for: code, bodyLimit: nil) }
    }

    /// - Parameter bodyLimit: Set when the write callback aborted because the body exceeded it.
    private func error(for code: CURLcode, bodyLimit: Int?) -> CurlError {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let kind: CurlError.Kind
        switch code {
        case _ where bodyLimit != nil, CURLE_FILESIZE_EXCEEDED:
            kind = .responseTooLarge
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timeout
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
             CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
             CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            kind = .connection
        default:
            kind = .other
        }
        let message = bodyLimit.map { "response body exceeds the limit of \($0) bytes" } ?? detail
        return CurlError(kind: kind, code: Int32(bitPattern: code.rawValue), message: message)
    }
}

/// Per-request state the libcurl callbacks fill in.
private final class Transfer {
    let maxBodyBytes: Int?
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var bodyTooLarge = false

    init(maxBodyBytes: Int?) {
        self.maxBodyBytes = maxBodyBytes
    }

    /// CURLOPT_WRITEFUNCTION: returning less than `data.count` aborts the transfer.
    func receiveBody(_ data: UnsafeRawBufferPointer) -> Int {
        if let maxBodyBytes, body.count + data.count > maxBodyBytes {
            bodyTooLarge = true
            return 0
        }
        body.append(contentsOf: data)
        return data.count
    }

    /// CURLOPT_HEADERFUNCTION: called once per complete header line, CRLF included, for every
    /// response (redirects, 100 Continue). A status line starts a new response, so only the
    /// final response's headers remain.
    func receiveHeaderLine(_ data: UnsafeRawBufferPointer) -> Int {
        // Work on bytes: in Swift, "\r\n" is a single Character.
        let line = trimmed(data[...])
        if line.starts(with: "HTTP/".utf8) {
            headers.removeAll(keepingCapacity: true)
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = trimmed(line[..<colon])
            let value = trimmed(line[(colon + 1)...])
            if !name.isEmpty {
                headers.append((
                    name: String(decoding: UnsafeRawBufferPointer(rebasing: name), as: UTF8.self).lowercased(),
                    value: String(decoding: UnsafeRawBufferPointer(rebasing: value), as: UTF8.self)))
            }
        }
        return data.count
    }
}

/// `bytes` without leading and trailing spaces, tabs, CR and LF.
private func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
    let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
    let last = bytes.lastIndex(where: { !isSpace($0) })!
    return bytes[first...last]
}

/// `duration` in whole milliseconds for libcurl, rounded up, at least 1 (0 would mean "no limit").
private func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0 else { return 1 }
    let (wholeMillis, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    if overflow { return Int(Int32.max) }
    let fraction = attoseconds / 1_000_000_000_000_000 + (attoseconds % 1_000_000_000_000_000 > 0 ? 1 : 0)
    return Swift.max(1, Int(clamping: wholeMillis + fraction))
}
