import Yams

/// `http_headers`: extra request headers with plain, secret and file values.
extension NodeReader {
    /// Headers Prometheus refuses in `http_headers` (its `ReservedHeaders`, compared
    /// case-insensitively): they change the connection, are set by the client, or have their
    /// own keys.
    static let reservedHTTPHeaders: Set<String> = [
        "authorization", "host", "content-encoding", "content-length", "content-type", "user-agent", "connection",
        "keep-alive", "proxy-authenticate", "proxy-authorization", "www-authenticate", "accept-encoding",
        "x-prometheus-remote-write-version", "x-prometheus-remote-read-version", "x-prometheus-scrape-timeout-seconds",
        "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
    ]

    mutating func httpHeaders(_ node: Node, _ path: String) -> [HTTPHeaderConfig] {
        if isNull(node) { return [] }
        var headers: [HTTPHeaderConfig] = []
        for (name, keyNode, valueNode, headerPath) in headerEntries(node, path, expected: "{values, secrets, files}") {
            if Self.reservedHTTPHeaders.contains(name.lowercased()) {
                fail(keyNode, headerPath, "setting header \"\(HTTPHeaderName.canonical(name))\" is not allowed")
                continue
            }
            var header = HTTPHeaderConfig(name: name)
            if !isNull(valueNode) {
                let entry = mapping(valueNode, headerPath, known: ["values", "secrets", "files"])
                header.values = entry["values"].map { headerValues($0, "\(headerPath).values", secret: false) } ?? []
                header.secrets = entry["secrets"].map { headerValues($0, "\(headerPath).secrets", secret: true) } ?? []
                header.files = entry["files"].map { headerValues($0, "\(headerPath).files", secret: false) } ?? []
            }
            headers.append(header)
        }
        return headers
    }

    /// The entries of a mapping keyed by header name (`http_headers`, `proxy_connect_header`); a
    /// key that is not a valid header name is an error and left out.
    mutating func headerEntries(_ node: Node, _ path: String, expected: String)
        -> [(name: String, key: Node, value: Node, path: String)]
    {
        guard let map = node.mapping else {
            fail(node, path, "expected a mapping of header names to \(expected)")
            return []
        }
        var entries: [(name: String, key: Node, value: Node, path: String)] = []
        for (keyNode, valueNode) in map {
            guard let name = keyNode.scalar?.string else {
                fail(keyNode, path, "keys must be strings")
                continue
            }
            let headerPath = "\(path).\(name)"
            guard HTTPHeaderName.isValid(name) else {
                fail(keyNode, headerPath, "invalid header name \"\(name)\"")
                continue
            }
            entries.append((name, keyNode, valueNode, headerPath))
        }
        return entries
    }

    /// A list of header values; a value with CR, LF or NUL cannot be sent and is an error (a
    /// secret's error does not quote it).
    mutating func headerValues(_ node: Node, _ path: String, secret: Bool) -> [String] {
        var values: [String] = []
        for (index, item) in sequence(node, path).enumerated() {
            guard let value = string(item, "\(path)[\(index)]") else { continue }
            if value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) {
                fail(item, "\(path)[\(index)]", secret ? "a header value must not contain CR, LF or NUL" : "header value \(String(reflecting: value)) contains CR, LF or NUL")
                continue
            }
            values.append(value)
        }
        return values
    }
}

/// HTTP header names (RFC 9110 tokens).
enum HTTPHeaderName {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    /// Go's `http.CanonicalHeaderKey`: each dash-separated word capitalised.
    static func canonical(_ name: String) -> String {
        name.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
            .joined(separator: "-")
    }
}
