/// IP addresses written as Go's `net.IP.String` writes them, so that `__address__` of A and AAAA
/// targets is what Prometheus would make: dotted decimal for IPv4 and for IPv4-mapped IPv6
/// (`::ffff:a.b.c.d` is written `a.b.c.d`); otherwise RFC 5952 (lowercase hex, no leading zeros,
/// the longest run of two or more zero groups, the first of equals, written `::`).
enum IPAddressText {
    /// `bytes` (4 or 16 of them) as text.
    static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        precondition(bytes.count == 16, "an IP address has 4 or 16 bytes")
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return format(Array(bytes[12...]))
        }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            let start = index
            while index < 8, groups[index] == 0 { index += 1 }
            if index - start > best.length { best = (start, index - start) }
        }
        if best.length < 2 { return groups.map { String($0, radix: 16) }.joined(separator: ":") }
        let head = groups[..<best.start].map { String($0, radix: 16) }.joined(separator: ":")
        let tail = groups[(best.start + best.length)...].map { String($0, radix: 16) }.joined(separator: ":")
        return head + "::" + tail
    }

    /// `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`).
    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
