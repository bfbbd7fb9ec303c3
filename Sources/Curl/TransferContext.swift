import CCurl

/// The per-transfer state libcurl's callbacks work on: the request body being sent, the
/// response headers and body being received, and for a stream the ``StreamState`` the body goes
/// to.
///
/// Confined to the thread that drives the transfer: the ``HTTPTransport`` I/O thread. Callbacks
/// are kept cheap: they copy bytes and split header lines, nothing more.
final class TransferContext {
    let request: PreparedRequest
    /// Where a stream's head and body go; `nil` when the body is collected.
    let stream: StreamState?

    /// The final response's headers so far (a status line starts over).
    var headers: [(name: String, value: String)] = []
    /// The collected body (not used for streams).
    var body: [UInt8] = []
    /// The status of the last status line seen (0 before one arrived).
    private var status = 0
    /// Set when the body exceeded ``PreparedRequest/maxBodyBytes``.
    private(set) var bodyTooLarge = false
    /// Set when a stream's consumer went away and the write callback aborted the transfer.
    private(set) var abandonedByConsumer = false
    /// Whether a stream's head was handed over.
    private var headDelivered = false
    /// How much of the request body was sent.
    private var uploadOffset = 0

    /// `CURLOPT_HTTPHEADER`, `CURLOPT_PROXYHEADER` and `CURLOPT_CONNECT_TO` lists, owned here so
    /// they live as long as the transfer; freed in `deinit`, after the handle was reset.
    var headerList: UnsafeMutablePointer<curl_slist>?
    var proxyHeaderList: UnsafeMutablePointer<curl_slist>?
    var connectToList: UnsafeMutablePointer<curl_slist>?

    init(request: PreparedRequest, stream: StreamState?) {
        self.request = request
        self.stream = stream
    }

    deinit {
        curl_slist_free_all(headerList)
        curl_slist_free_all(proxyHeaderList)
        curl_slist_free_all(connectToList)
    }

    /// CURLOPT_WRITEFUNCTION: returning less than `data.count` aborts the transfer;
    /// `CURL_WRITEFUNC_PAUSE` pauses it (libcurl delivers the same bytes again once unpaused).
    func receiveBody(_ data: UnsafeRawBufferPointer) -> Int {
        if let stream {
            if !headDelivered { deliverHead(to: stream) }
            switch stream.offer(data) {
            case .accepted:
                return data.count
            case .pause:
                return Int(ccurl_writefunc_pause())
            case .abandoned:
                abandonedByConsumer = true
                return 0
            }
        }
        if let limit = request.maxBodyBytes, body.count + data.count > limit {
            bodyTooLarge = true
            return 0
        }
        body.append(contentsOf: data)
        return data.count
    }

    /// CURLOPT_HEADERFUNCTION: called once per complete header line, CRLF included, for every
    /// response (redirects, 100 Continue). A status line starts a new response, so only the
    /// final response's headers remain. For a stream, the blank line ending the final
    /// response's head hands the head over.
    func receiveHeaderLine(_ data: UnsafeRawBufferPointer) -> Int {
        // Work on bytes: in Swift, "\r\n" is a single Character.
        let line = trimmed(data[...])
        if line.starts(with: "HTTP/".utf8) {
            headers.removeAll(keepingCapacity: true)
            status = Self.statusCode(line)
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = trimmed(line[..<colon])
            let value = trimmed(line[(colon + 1)...])
            if !name.isEmpty {
                headers.append((
                    name: String(decoding: UnsafeRawBufferPointer(rebasing: name), as: UTF8.self).lowercased(),
                    value: String(decoding: UnsafeRawBufferPointer(rebasing: value), as: UTF8.self)))
            }
        } else if line.isEmpty, let stream, !headDelivered, isFinalResponse {
            deliverHead(to: stream)
        }
        return data.count
    }

    /// Whether the head just completed is the one the caller gets, rather than an interim
    /// response (1xx) or a redirect libcurl is about to follow. (If this guesses wrong, the head
    /// is handed over with the first body bytes or at the end instead.)
    private var isFinalResponse: Bool {
        if status < 200 { return false }
        if request.followRedirects, (300..<400).contains(status), status != 304,
           headers.contains(where: { $0.name == "location" })
        {
            return false
        }
        return true
    }

    private func deliverHead(to stream: StreamState) {
        headDelivered = true
        stream.deliverHead(StreamState.Head(status: status, headers: headers))
    }

    /// `HTTP/1.1 200 OK` → 200; 0 when malformed.
    private static func statusCode(_ line: Slice<UnsafeRawBufferPointer>) -> Int {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return 0 }
        var code = 0
        for byte in line[(space + 1)...].prefix(3) {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return 0 }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return code
    }

    /// CURLOPT_READFUNCTION: copies the next part of the request body into `buffer`; 0 at the end.
    func sendBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = Swift.min(buffer.count, request.body.count - uploadOffset)
        guard count > 0 else { return 0 }
        request.body.withUnsafeBytes { body in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: body[uploadOffset..<(uploadOffset + count)]))
        }
        uploadOffset += count
        return count
    }

    /// CURLOPT_SEEKFUNCTION: libcurl rewinds the body to send it again (a 307/308 redirect, a
    /// retry on a reused connection that turned out dead).
    func seekBody(to offset: Int64, origin: Int32) -> Int32 {
        guard origin == SEEK_SET, offset >= 0, offset <= Int64(request.body.count) else {
            return Int32(ccurl_seekfunc_cantseek())
        }
        uploadOffset = Int(offset)
        return Int32(ccurl_seekfunc_ok())
    }
}

/// `bytes` without leading and trailing spaces, tabs, CR and LF.
private func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
    let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
    let last = bytes.lastIndex(where: { !isSpace($0) })!
    return bytes[first...last]
}
