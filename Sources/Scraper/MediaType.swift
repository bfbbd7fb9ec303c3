/// Go's `mime.ParseMediaType`, which Prometheus applies to a scrape's `Content-Type`, reduced to
/// what the scraper needs: the media type, lower-cased, or nil when Go would return an error.
///
/// The type is a token, optionally `/` and a subtype token (RFC 2045 tokens: printable ASCII
/// but tspecials); each parameter is `; name=value` (blanks allowed around `;` and `=`), the
/// value a token or a quoted string (backslash escapes, no CR or LF); a parameter name twice is
/// an error; a trailing `;` is tolerated.
enum MediaType {
    static func parse(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let semicolon = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        let typeBytes = trimmed(bytes[..<semicolon])
        guard isMediaType(typeBytes) else { return nil }
        var i = semicolon
        var names: Set<[UInt8]> = []
        while i < bytes.count {
            i = skipBlanks(bytes, i)
            if i == bytes.count { break }
            // `; name = value`
            guard bytes[i] == UInt8(ascii: ";") else { return nil }
            var j = skipBlanks(bytes, i + 1)
            let nameStart = j
            while j < bytes.count && isTokenByte(bytes[j]) { j += 1 }
            if j == nameStart {
                // Only blanks after the `;`: a trailing semicolon.
                return j == bytes.count ? lowercased(typeBytes) : nil
            }
            let name = bytes[nameStart..<j].map(lowercasedByte)
            j = skipBlanks(bytes, j)
            guard j < bytes.count, bytes[j] == UInt8(ascii: "=") else { return nil }
            j = skipBlanks(bytes, j + 1)
            guard let end = valueEnd(bytes, j) else { return nil }
            guard names.insert(name).inserted else { return nil }
            i = end
        }
        return lowercased(typeBytes)
    }

    /// `type` or `type/subtype`, both tokens.
    private static func isMediaType(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else {
            return !bytes.isEmpty && bytes.allSatisfy(isTokenByte)
        }
        let type = bytes[..<slash], subtype = bytes[(slash + 1)...]
        return !type.isEmpty && type.allSatisfy(isTokenByte) && !subtype.isEmpty && subtype.allSatisfy(isTokenByte)
    }

    /// Where the value starting at `i` ends: after a non-empty token or a closed, non-empty
    /// quoted string; nil if there is none.
    private static func valueEnd(_ bytes: [UInt8], _ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        guard bytes[start] == UInt8(ascii: "\"") else {
            var i = start
            while i < bytes.count && isTokenByte(bytes[i]) { i += 1 }
            return i > start ? i : nil
        }
        var i = start + 1
        var length = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"):
                guard i + 1 < bytes.count else { return nil }
                i += 2
                length += 1
            case UInt8(ascii: "\""):
                return length > 0 ? i + 1 : nil
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                return nil
            default:
                i += 1
                length += 1
            }
        }
        return nil
    }

    private static func skipBlanks(_ bytes: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < bytes.count && isBlank(bytes[i]) { i += 1 }
        return i
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, isBlank(first) { slice = slice.dropFirst() }
        while let last = slice.last, isBlank(last) { slice = slice.dropLast() }
        return slice
    }

    private static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0D).contains(c) }

    private static func lowercasedByte(_ c: UInt8) -> UInt8 { (0x41...0x5A).contains(c) ? c + 0x20 : c }

    private static func lowercased(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes.map(lowercasedByte), as: UTF8.self) }

    /// RFC 2045 token characters: printable ASCII except space and tspecials.
    private static func isTokenByte(_ c: UInt8) -> Bool {
        guard c > 0x20 && c < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?=".utf8.contains(c)
    }
}
