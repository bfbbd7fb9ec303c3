/// The text format of a scrape response.
public enum ExpositionFormat: Sendable, Hashable {
    /// Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`).
    case prometheusText
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    case openMetrics

    /// The format for a response's `Content-Type`, chosen as Prometheus 2 does
    /// (`textparse.New`): `application/openmetrics-text` with any parameters (any version, any
    /// charset; media type compared case-insensitively) is OpenMetrics; anything else, including
    /// no header, an unknown type or a header that does not parse as a media type, is the text
    /// format, which Prometheus falls back to.
    public static func from(contentType: String?) -> ExpositionFormat {
        guard let contentType else { return .prometheusText }
        let utf8 = Array(contentType.utf8)
        var i = 0
        func skipSpaces() {
            while i < utf8.count && (utf8[i] == 0x20 || utf8[i] == 0x09) { i += 1 }
        }
        skipSpaces()
        let typeStart = i
        while i < utf8.count && utf8[i] != UInt8(ascii: ";") { i += 1 }
        var typeEnd = i
        while typeEnd > typeStart && (utf8[typeEnd - 1] == 0x20 || utf8[typeEnd - 1] == 0x09) { typeEnd -= 1 }
        let mediaType = String(decoding: utf8[typeStart..<typeEnd], as: UTF8.self).lowercased()
        guard mediaType == "application/openmetrics-text" else { return .prometheusText }
        // Go's mime.ParseMediaType rejects malformed parameters, and Prometheus then falls back
        // to the text parser: check `; name=value` pairs (value a token or a quoted string).
        var seen: Set<String> = []
        while i < utf8.count {
            i += 1  // the ';'
            skipSpaces()
            if i == utf8.count { break }  // a trailing ';' is tolerated
            let nameStart = i
            while i < utf8.count && isTokenByte(utf8[i]) { i += 1 }
            guard i > nameStart, i < utf8.count, utf8[i] == UInt8(ascii: "=") else { return .prometheusText }
            let name = String(decoding: utf8[nameStart..<i], as: UTF8.self).lowercased()
            guard seen.insert(name).inserted else { return .prometheusText }
            i += 1
            if i < utf8.count && utf8[i] == UInt8(ascii: "\"") {
                i += 1
                var closed = false
                while i < utf8.count {
                    if utf8[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if utf8[i] == UInt8(ascii: "\"") { closed = true; i += 1; break }
                    i += 1
                }
                guard closed else { return .prometheusText }
            } else {
                let valueStart = i
                while i < utf8.count && isTokenByte(utf8[i]) { i += 1 }
                guard i > valueStart else { return .prometheusText }
            }
            skipSpaces()
            guard i == utf8.count || utf8[i] == UInt8(ascii: ";") else { return .prometheusText }
        }
        return .openMetrics
    }
}

/// RFC 2045 token characters: printable ASCII except space and tspecials.
private func isTokenByte(_ c: UInt8) -> Bool {
    guard c > 0x20 && c < 0x7F else { return false }
    switch c {
    case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
         UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
         UInt8(ascii: "/"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
        return false
    default:
        return true
    }
}
