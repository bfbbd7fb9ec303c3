import CCurl

/// Owns a `CURL *` and its error buffer, and sets a request's options on it.
///
/// Not thread-safe: a handle belongs to the ``HTTPTransport``'s I/O thread, which creates,
/// configures, drives, resets and frees it.
final class EasyHandle {
    let pointer: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    /// `nil` when libcurl cannot be initialised.
    init?() {
        guard Curl.globalInitResult == CURLE_OK, let pointer = curl_easy_init() else { return nil }
        self.pointer = pointer
        errorBuffer = .allocate(capacity: ccurl_error_size())
        errorBuffer.initialize(repeating: 0, count: ccurl_error_size())
    }

    deinit {
        curl_easy_cleanup(pointer)
        errorBuffer.deallocate()
    }

    /// `curl_easy_reset`: every option back to its default, so that nothing (callbacks, their
    /// context, header lists) is referenced any more. Keeps the DNS and TLS session caches; the
    /// connections belong to the multi handle's pool (or, outside one, to this handle).
    func reset() {
        curl_easy_reset(pointer)
        errorBuffer[0] = 0
    }

    /// Sets every option of `request` on a handle that is fresh or was ``reset()``.
    ///
    /// `context` receives the callbacks and owns the header lists; it must stay alive until
    /// the transfer ended and the handle was reset.
    func apply(_ request: PreparedRequest, context: TransferContext) throws(CurlError) {
        errorBuffer[0] = 0
        try append(request.headerLines, to: &context.headerList)
        try append(request.proxyHeaderLines, to: &context.proxyHeaderList)
        if let connectTo = request.connectTo {
            try append([connectTo], to: &context.connectToList)
        }
        let userdata = Unmanaged.passUnretained(context).toOpaque()

        try check(ccurl_setopt_long(pointer, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_setopt_string(pointer, CURLOPT_URL, request.url))
        if context.connectToList != nil {
            try check(ccurl_setopt_slist(pointer, CURLOPT_CONNECT_TO, context.connectToList))
        }
        try check(ccurl_setopt_string(pointer, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(ccurl_setopt_string(pointer, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        // An explicit (possibly empty) value makes libcurl ignore the proxy environment
        // variables; an empty NOPROXY also overrides `no_proxy`.
        try check(ccurl_setopt_string(pointer, CURLOPT_PROXY, request.proxyURL ?? ""))
        try check(ccurl_setopt_string(pointer, CURLOPT_NOPROXY, ""))
        // A proxy's `CONNECT` response is not the response.
        try check(ccurl_setopt_long(pointer, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        // Request headers go to the server only, proxy headers to the proxy only.
        try check(ccurl_setopt_long(pointer, CURLOPT_HEADEROPT, ccurl_header_separate()))
        if context.proxyHeaderList != nil {
            try check(ccurl_setopt_slist(pointer, CURLOPT_PROXYHEADER, context.proxyHeaderList))
        }
        let httpVersion = request.allowsHTTP2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1
        try check(ccurl_setopt_long(pointer, CURLOPT_HTTP_VERSION, Int(httpVersion)))
        try setTLSOptions(request.tls)
        if let auth = request.basicAuth {
            try check(ccurl_setopt_long(pointer, CURLOPT_HTTPAUTH, ccurl_auth_basic()))
            try check(ccurl_setopt_string(pointer, CURLOPT_USERNAME, auth.username))
            try check(ccurl_setopt_string(pointer, CURLOPT_PASSWORD, auth.password))
        }
        try check(ccurl_setopt_long(pointer, CURLOPT_TCP_KEEPALIVE, 1))
        // Keep idle connections for up to 5 minutes (libcurl's default is 118 s), as Prometheus
        // does, so targets scraped every 2 minutes still reuse theirs.
        try check(ccurl_setopt_long(pointer, CURLOPT_MAXAGE_CONN, 300))
        try check(ccurl_setopt_long(pointer, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0))
        try check(ccurl_setopt_long(pointer, CURLOPT_MAXREDIRS, 10))
        switch request.mode {
        case .collect(_, let timeout):
            try check(ccurl_setopt_long(pointer, CURLOPT_TIMEOUT_MS, milliseconds(timeout)))
        case .stream(let idleTimeout):
            if let idleTimeout {
                let (seconds, attoseconds) = idleTimeout.components
                let whole = Swift.max(1, Int(clamping: seconds) + (attoseconds > 0 ? 1 : 0))
                try check(ccurl_setopt_long(pointer, CURLOPT_LOW_SPEED_LIMIT, 1))
                try check(ccurl_setopt_long(pointer, CURLOPT_LOW_SPEED_TIME, whole))
            }
        }
        if let connectTimeout = request.connectTimeout {
            try check(ccurl_setopt_long(pointer, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(connectTimeout)))
        }
        if let encoding = request.acceptEncoding {
            try check(ccurl_setopt_string(pointer, CURLOPT_ACCEPT_ENCODING, encoding))
        }
        try check(ccurl_setopt_slist(pointer, CURLOPT_HTTPHEADER, context.headerList))
        try check(ccurl_setopt_data_callback(pointer, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                .receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        try check(ccurl_setopt_pointer(pointer, CURLOPT_WRITEDATA, userdata))
        try check(ccurl_setopt_data_callback(pointer, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                .receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        try check(ccurl_setopt_pointer(pointer, CURLOPT_HEADERDATA, userdata))

        switch request.method {
        case .get:
            try check(ccurl_setopt_long(pointer, CURLOPT_HTTPGET, 1))
        case .post:
            // The body is read from the context by the read callback (no copy held by libcurl,
            // and no pointer that must outlive a Swift scope); the seek callback rewinds it
            // when a 307/308 redirect sends it again.
            try check(ccurl_setopt_long(pointer, CURLOPT_POST, 1))
            try check(ccurl_setopt_off_t(pointer, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            try check(ccurl_setopt_read_callback(pointer) { buffer, size, count, userdata in
                Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                    .sendBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
            })
            try check(ccurl_setopt_pointer(pointer, CURLOPT_READDATA, userdata))
            try check(ccurl_setopt_seek_callback(pointer) { userdata, offset, origin in
                Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                    .seekBody(to: Int64(offset), origin: origin)
            })
            try check(ccurl_setopt_pointer(pointer, CURLOPT_SEEKDATA, userdata))
        }
    }

    /// The response or error of a finished transfer, from its `CURLcode`.
    func outcome(_ code: CURLcode, context: TransferContext) -> Result<HTTPResponse, CurlError> {
        guard code == CURLE_OK else {
            return .failure(error(for: code, bodyLimit: context.bodyTooLarge ? context.request.maxBodyBytes : nil))
        }
        return .success(HTTPResponse(status: responseCode, headers: context.headers, body: context.body))
    }

    /// `CURLINFO_RESPONSE_CODE`: the last response's status, 0 if none arrived.
    var responseCode: Int {
        var status = 0
        _ = ccurl_getinfo_long(pointer, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    /// Sets the `CURLOPT_SSL*` / `CURLOPT_CA*` options. On a fresh or reset handle they all
    /// have their defaults, so only non-default values are set.
    private func setTLSOptions(_ tls: TLSOptions) throws(CurlError) {
        let caFile = tls.caFile.flatMap { $0.isEmpty ? nil : $0 }
        let certFile = tls.certFile.flatMap { $0.isEmpty ? nil : $0 }
        let keyFile = tls.keyFile.flatMap { $0.isEmpty ? nil : $0 }
        if let caPEM = tls.caPEM, !caPEM.isEmpty {
            try setBlob(CURLOPT_CAINFO_BLOB, caPEM)
            // Only these certificates: neither the built-in CA file nor the CA directory.
            try check(ccurl_setopt_string(pointer, CURLOPT_CAINFO, nil))
            try check(ccurl_setopt_string(pointer, CURLOPT_CAPATH, nil))
        }
        if let certPEM = tls.certPEM, !certPEM.isEmpty {
            try setBlob(CURLOPT_SSLCERT_BLOB, certPEM)
            try check(ccurl_setopt_string(pointer, CURLOPT_SSLCERTTYPE, "PEM"))
        }
        if let keyPEM = tls.keyPEM, !keyPEM.isEmpty {
            try setBlob(CURLOPT_SSLKEY_BLOB, keyPEM)
            try check(ccurl_setopt_string(pointer, CURLOPT_SSLKEYTYPE, "PEM"))
        }
        if let caFile {
            try check(ccurl_setopt_string(pointer, CURLOPT_CAINFO, caFile))
            // Replace the system store entirely: libcurl would otherwise also trust the
            // CA directory it was built with (/etc/ssl/certs on Debian).
            try check(ccurl_setopt_string(pointer, CURLOPT_CAPATH, nil))
            // Re-read the file for every new connection (cheap for a small bundle), so a
            // rotated CA takes effect at once. libcurl otherwise caches the parsed store for
            // 24 hours.
            try check(ccurl_setopt_long(pointer, CURLOPT_CA_CACHE_TIMEOUT, 0))
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
        if tls.minVersion != nil || tls.maxVersion != nil {
            let minimum = switch tls.minVersion {
            case nil: CURL_SSLVERSION_DEFAULT
            case .tls10: CURL_SSLVERSION_TLSv1_0
            case .tls11: CURL_SSLVERSION_TLSv1_1
            case .tls12: CURL_SSLVERSION_TLSv1_2
            case .tls13: CURL_SSLVERSION_TLSv1_3
            }
            let maximum = switch tls.maxVersion {
            case nil: CURL_SSLVERSION_MAX_DEFAULT
            case .tls10: CURL_SSLVERSION_MAX_TLSv1_0
            case .tls11: CURL_SSLVERSION_MAX_TLSv1_1
            case .tls12: CURL_SSLVERSION_MAX_TLSv1_2
            case .tls13: CURL_SSLVERSION_MAX_TLSv1_3
            }
            try check(ccurl_setopt_long(pointer, CURLOPT_SSLVERSION, Int(minimum) | Int(maximum)))
        }
    }

    /// Sets a `curl_blob` option to the UTF-8 bytes of `text` (libcurl copies them).
    private func setBlob(_ option: CURLoption, _ text: String) throws(CurlError) {
        var bytes = Array(text.utf8)
        let code = bytes.withUnsafeMutableBytes { buffer in
            ccurl_setopt_blob(pointer, option, buffer.baseAddress, buffer.count)
        }
        try check(code)
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

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else { throw error(for: code, bodyLimit: nil) }
    }

    /// The ``CurlError`` for a failed transfer or option.
    ///
    /// - Parameter bodyLimit: Set when the write callback aborted because the body exceeded it.
    func error(for code: CURLcode, bodyLimit: Int?) -> CurlError {
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

    /// CURLcodes of TLS failures: SSL_CONNECT_ERROR (35), 51 (the old PEER_FAILED_VERIFICATION),
    /// SSL_ENGINE_NOTFOUND (53), SSL_CERTPROBLEM (58), SSL_CIPHER (59),
    /// PEER_FAILED_VERIFICATION (60), USE_SSL_FAILED (64), SSL_ENGINE_INITFAILED (66),
    /// SSL_CACERT_BADFILE (77), SSL_SHUTDOWN_FAILED (80), SSL_ISSUER_ERROR (83),
    /// SSL_PINNEDPUBKEYNOTMATCH (90), SSL_INVALIDCERTSTATUS (91).
    private static let tlsErrorCodes: Set<CURLcode.RawValue> = [35, 51, 53, 58, 59, 60, 64, 66, 77, 80, 83, 90, 91]
}

extension CurlError {
    /// libcurl could not be initialised (`curl_global_init`, `curl_easy_init` or
    /// `curl_multi_init` failed).
    static let initializationFailed = CurlError(
        kind: .other, code: Int32(CURLE_FAILED_INIT.rawValue), message: "libcurl could not be initialised")

    /// The transfer was aborted, or never started, because its ``HTTPTransport`` shut down.
    static let transportShutDown = CurlError(
        kind: .other, code: Int32(CURLE_ABORTED_BY_CALLBACK.rawValue), message: "the HTTP transport was shut down")
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
