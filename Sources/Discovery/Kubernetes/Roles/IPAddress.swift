/// Just enough IP address handling for the pod role, with Go's `net.ParseIP` semantics:
/// dotted-quad IPv4 (no leading zeros), or IPv6 with at most one `::` and an optional
/// embedded IPv4 tail; no zones.
enum IPAddress {
    /// 4 bytes for IPv4, 16 for IPv6; nil when `text` is not an address.
    static func parse(_ text: String) -> [UInt8]? {
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") { return parseIPv4(Substring(text)) }
            if byte == UInt8(ascii: ":") { return parseIPv6(text) }
        }
        return nil
    }

    /// Go's `ip.To4() != nil`: an IPv4 address, or an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    static func isIPv4(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 4 { return true }
        return bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
    }

    /// RFC 5952 text of a 16-byte address, as Go prints a non-IPv4 address: lowercase hex
    /// without leading zeros, the first longest run of two or more zero groups as `::`.
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 16)
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else { index += 1; continue }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > bestLength { bestStart = index; bestLength = end - index }
            index = end
        }
        if bestLength < 2 { bestStart = -1 }
        var out = ""
        index = 0
        while index < 8 {
            if index == bestStart {
                out += "::"
                index += bestLength
                continue
            }
            if !out.isEmpty, !out.hasSuffix(":") { out += ":" }
            out += String(groups[index], radix: 16)
            index += 1
        }
        return out
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let fields = text.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for field in fields {
            guard !field.isEmpty, field.count <= 3, field.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            if field.count > 1, field.first == "0" { return nil }
            guard let value = Int(field), value <= 255 else { return nil }
            bytes.append(UInt8(value))
        }
        return bytes
    }

    private static func parseIPv6(_ text: String) -> [UInt8]? {
        var head: [UInt8] = []
        var tail: [UInt8] = []
        var sawEllipsis = false
        var rest = Substring(text)
        if rest.hasPrefix("::") {
            sawEllipsis = true
            rest = rest.dropFirst(2)
        }
        while !rest.isEmpty {
            let count = head.count + tail.count
            // An IPv4 tail takes the last 4 bytes.
            let nextColon = rest.firstIndex(of: ":")
            let field = rest[..<(nextColon ?? rest.endIndex)]
            if field.contains(".") {
                guard nextColon == nil, count + 4 <= 16, let v4 = parseIPv4(field) else { return nil }
                if sawEllipsis { tail += v4 } else { head += v4 }
                rest = rest[rest.endIndex...]
                break
            }
            guard !field.isEmpty, field.count <= 4, let value = UInt16(field, radix: 16), count + 2 <= 16 else { return nil }
            let pair = [UInt8(value >> 8), UInt8(value & 0xff)]
            if sawEllipsis { tail += pair } else { head += pair }
            guard let colon = nextColon else {
                rest = rest[rest.endIndex...]
                break
            }
            rest = rest[rest.index(after: colon)...]
            if rest.hasPrefix(":") {
                guard !sawEllipsis else { return nil }
                sawEllipsis = true
                rest = rest.dropFirst()
                if rest.isEmpty { break }
            } else if rest.isEmpty {
                return nil  // a trailing single colon
            }
        }
        let total = head.count + tail.count
        if sawEllipsis {
            guard total < 16 else { return nil }
            return head + [UInt8](repeating: 0, count: 16 - total) + tail
        }
        return total == 16 ? head : nil
    }
}
