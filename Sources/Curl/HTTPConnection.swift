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
/// libcurl is used with `CURLOPT_NOSIGNAL`; a proxy is used only when the request names one
/// (``HTTPRequest/proxyURL``): environment variables such as `http_proxy` are ignored.
public final class HTTPConnection: Sendable {
    /// Internal (not private) for ``stream(_:idleTimeout:cancellation:onStatus:onData:)``.
    let easy: Mutex<EasyHandle?>

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
final class EasyHandle {
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

    /// - Parameter stream: When set, body bytes go to the sink as they arrive instead of being
    ///   collected, there is no total timeout, and the sink may abort the transfer (which then
    ///   returns normally, with an empty body).
    func perform(_ request: HTTPRequest, stream: StreamSink? = nil) throws(CurlError) -> HTTPResponse {
        curl_easy_reset(pointer)
        errorBuffer[0] = 0

        let target = try Target(request)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        try append(try headerLines(for: request, host: target.hostHeader), to: &headerList)
        var connectToList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(connectToList) }
        if let connectTo = target.connectTo {
            try append([connectTo], to: &connectToList)
        }

        let transfer = Transfer(maxBodyBytes: stream == nil ? request.maxResponseBytes : nil, stream: stream)
        let context = Unmanaged.passUnretained(transfer).toOpaque()

        try check(ccurl_setopt_long(pointer, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_setopt_string(pointer, CURLOPT_URL, target.url))
        if connectToList != nil {
            try check(ccurl_setopt_slist(pointer, CURLOPT_CONNECT_TO, connectToList))
        }
        try check(ccurl_setopt_string(pointer, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(ccurl_setopt_string(pointer, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        // An explicit (possibly empty) value makes libcurl ignore the proxy environment
        // variables; an empty NOPROXY also overrides `no_proxy`.
        try check(ccurl_setopt_string(pointer, CURLOPT_PROXY, request.proxyURL ?? ""))
        try check(ccurl_setopt_string(pointer, CURLOPT_NOPROXY, ""))
        try setTLSOptions(request.tls)
        if let auth = request.basicAuth {
            guard !auth.username.utf8.contains(0), !auth.password.utf8.contains(0) else {
                throw CurlError(kind: .other, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                                message: "basic auth credentials must not contain NUL")
            }
            try check(ccurl_setopt_long(pointer, CURLOPT_HTTPAUTH, ccurl_auth_basic()))
            try check(ccurl_setopt_string(pointer, CURLOPT_USERNAME, auth.username))
            try check(ccurl_setopt_string(pointer, CURLOPT_PASSWORD, auth.password))
        }
        try check(ccurl_setopt_long(pointer, CURLOPT_TCP_KEEPALIVE, 1))
        try check(ccurl_setopt_long(pointer, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0))
        try check(ccurl_setopt_long(pointer, CURLOPT_MAXREDIRS, 10))
        if let stream {
            try stream.configure(pointer)
        } else {
            try check(ccurl_setopt_long(pointer, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout)))
        }
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

        guard code == CURLE_OK || stream?.abortedByCaller == true else {
            if let stream {
                var status = 0
                if ccurl_getinfo_long(pointer, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status > 0 {
                    stream.deliverStatus(status)
                }
            }
            throw error(for: code, bodyLimit: transfer.bodyTooLarge ? request.maxResponseBytes : nil)
        }
        var status = 0
        try check(ccurl_getinfo_long(pointer, CURLINFO_RESPONSE_CODE, &status))
        stream?.deliverStatus(status)
        return HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
    }

    /// Sets the `CURLOPT_SSL*` / `CURLOPT_CA*` options. After `curl_easy_reset` they all have
    /// their defaults, so only non-default values are set.
    private func setTLSOptions(_ tls: TLSOptions) throws(CurlError) {
        let caFile = tls.caFile.flatMap { $0.isEmpty ? nil : $0 }
        let certFile = tls.certFile.flatMap { $0.isEmpty ? nil : $0 }
        let keyFile = tls.keyFile.flatMap { $0.isEmpty ? nil : $0 }
        if let caFile {
            try check(ccurl_setopt_string(pointer, CURLOPT_CAINFO, caFile))
            // Replace the system store entirely: libcurl would otherwise also trust the
            // CA directory it was built with (/etc/ssl/certs on Debian).
            try check(ccurl_setopt_string(pointer, CURLOPT_CAPATH, nil))
            // Re-read the file for every new connection (cheap for a small bundle), so a
            // rotated CA takes effect without recreating the handle. libcurl otherwise caches
            // the parsed store for 24 hours.
            try check(ccurl_setopt_long(pointer, CURLOPT_CA_CACHE_TIMEOUT, 0))
        }
        if let keyFile, certFile == nil {
            throw CurlError(kind: .tls, code: Int32(CURLE_SSL_CERTPROBLEM.rawValue),
                            message: "client key file \(keyFile) given without a client certificate file")
        }
        if let certFile {
            try check(ccurl_setopt_string(pointer, CURLOPT_SSLCERT, certFile))
            try check(ccurl_setopt_string(pointer, CURLOPT_SSLCERTTYPE, "PEM"))
        }
        if let keyFile {
            try check(ccurl_setopt_string(pointer, CURLOPT_SSLKEY, keyFile))
            try check(ccurl_setopt_string(pointer, CURLOPT_SSLKEYTYPE, "PEM"))
        }
        if tls.insecureSkipVerify {
            try check(ccurl_setopt_long(pointer, CURLOPT_SSL_VERIFYPEER, 0))
            try check(ccurl_setopt_long(pointer, CURLOPT_SSL_VERIFYHOST, 0))
        }
        if let minVersion = tls.minVersion {
            let value = switch minVersion {
            case .tls10: CURL_SSLVERSION_TLSv1_0
            case .tls11: CURL_SSLVERSION_TLSv1_1
            case .tls12: CURL_SSLVERSION_TLSv1_2
            case .tls13: CURL_SSLVERSION_TLSv1_3
            }
            try check(ccurl_setopt_long(pointer, CURLOPT_SSLVERSION, Int(value)))
        }
    }

    /// Appends `lines` to a `curl_slist`.
    private func append(_ lines: [String], to list: inout UnsafeMutablePointer<curl_slist>?) throws(CurlError) {
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                throw CurlError(kind: .other, code: Int32(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory")
            }
            list = appended
        }
    }

    /// Header lines for `CURLOPT_HTTPHEADER`, validated.
    ///
    /// - Parameter host: A `Host` header to add unless the request has one.
    private func headerLines(for request: HTTPRequest, host: String?) throws(CurlError) -> [String] {
        var lines: [String] = []
        lines.reserveCapacity(request.headers.count + 3)
        var hasExpect = false, hasContentType = false, hasHost = false
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
            hasHost = hasHost || lowered == "host"
            // "Name:" would make libcurl remove the header; "Name;" sends it empty.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if let host, !hasHost {
            lines.append("Host: \(host)")
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
        case _ where Self.tlsErrorCodes.contains(code.rawValue):
            kind = .tls
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
             CURLE_SEND_ERROR, CURLE_RECV_ERROR,
             CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            kind = .connection
        default:
            kind = .other
        }
        let message = bodyLimit.map { "response body exceeds the limit of \($0) bytes" } ?? detail
        return CurlError(kind: kind, code: Int32(bitPattern: code.rawValue), message: message)
    }
}

extension EasyHandle {
    /// CURLcodes of TLS failures: SSL_CONNECT_ERROR (35), 51 (the old PEER_FAILED_VERIFICATION),
    /// SSL_ENGINE_NOTFOUND (53), SSL_CERTPROBLEM (58), SSL_CIPHER (59),
    /// PEER_FAILED_VERIFICATION (60), USE_SSL_FAILED (64), SSL_ENGINE_INITFAILED (66),
    /// SSL_CACERT_BADFILE (77), SSL_SHUTDOWN_FAILED (80), SSL_ISSUER_ERROR (83),
    /// SSL_PINNEDPUBKEYNOTMATCH (90), SSL_INVALIDCERTSTATUS (91).
    fileprivate static let tlsErrorCodes: Set<CURLcode.RawValue> = [35, 51, 53, 58, 59, 60, 64, 66, 77, 80, 83, 90, 91]
}

/// Where a request really goes: the URL given to libcurl, and for ``TLSOptions/serverName``
/// the `CURLOPT_CONNECT_TO` entry and `Host` header that keep the connection and the `Host`
/// header on the original host.
private struct Target {
    var url: String
    var connectTo: String?
    var hostHeader: String?

    /// libcurl (with OpenSSL) has no option to set SNI and the verified name apart from the
    /// URL host. So for `https://host:port/...` with server name `name`, the URL becomes
    /// `https://name:port/...` (SNI and verification use `name`), `CURLOPT_CONNECT_TO`
    /// `name:port:host:port` makes libcurl connect to the original address, and an explicit
    /// `Host: host[:port]` keeps the header the URL would have produced (port included when the
    /// URL has one, as Go does).
    init(_ request: HTTPRequest) throws(CurlError) {
        url = request.url
        guard let serverName = request.tls.serverName, !serverName.isEmpty else { return }
        let allowed = serverName.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default:
                false
            }
        }
        guard allowed else {
            throw CurlError(kind: .other, code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue),
                            message: "invalid TLS server name \(String(reflecting: serverName))")
        }
        guard let handle = curl_url() else {
            throw CurlError(kind: .other, code: Int32(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory")
        }
        defer { curl_url_cleanup(handle) }

        func fail(_ code: CURLUcode) -> CurlError {
            CurlError(kind: .other, code: Int32(CURLE_URL_MALFORMAT.rawValue),
                      message: "invalid URL \(String(reflecting: request.url)): \(String(cString: curl_url_strerror(code)))")
        }
        func get(_ part: CURLUPart, flags: UInt32 = 0) throws(CurlError) -> String? {
            var value: UnsafeMutablePointer<CChar>? = nil
            let code = curl_url_get(handle, part, &value, flags)
            defer { curl_free(value) }
            switch code {
            case CURLUE_OK: return value.map { String(cString: $0) }
            case CURLUE_NO_PORT, CURLUE_NO_SCHEME: return nil
            default: throw fail(code)
            }
        }

        let setCode = curl_url_set(handle, CURLUPART_URL, request.url, 0)
        guard setCode == CURLUE_OK else { throw fail(setCode) }
        // The server name only matters for TLS; plain http URLs are left alone.
        guard try get(CURLUPART_SCHEME)?.lowercased() == "https",
              let host = try get(CURLUPART_HOST),
              let port = try get(CURLUPART_PORT, flags: ccurl_url_default_port())
        else { return }
        guard host.lowercased() != serverName.lowercased() else { return }
        let explicitPort = try get(CURLUPART_PORT)

        let hostCode = curl_url_set(handle, CURLUPART_HOST, serverName, 0)
        guard hostCode == CURLUE_OK else { throw fail(hostCode) }
        guard let rewritten = try get(CURLUPART_URL) else { throw fail(CURLUE_MALFORMED_INPUT) }
        url = rewritten
        connectTo = "\(serverName):\(port):\(host):\(port)"
        hostHeader = explicitPort.map { "\(host):\($0)" } ?? host
    }
}

/// Per-request state the libcurl callbacks fill in.
private final class Transfer {
    let maxBodyBytes: Int?
    let stream: StreamSink?
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var bodyTooLarge = false

    init(maxBodyBytes: Int?, stream: StreamSink? = nil) {
        self.maxBodyBytes = maxBodyBytes
        self.stream = stream
    }

    /// CURLOPT_WRITEFUNCTION: returning less than `data.count` aborts the transfer.
    func receiveBody(_ data: UnsafeRawBufferPointer) -> Int {
        if let stream { return stream.receive(data) }
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
