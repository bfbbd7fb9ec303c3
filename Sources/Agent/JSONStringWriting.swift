import NIOCore

extension ByteBuffer {
    /// Appends `bytes` as a JSON string (RFC 8259), quotes included, escaping as Go's
    /// `encoding/json` does without HTML escaping:
    ///
    /// - `"` and `\` are preceded by a backslash; `\n`, `\r`, `\t`, `\b`, `\f` are written as
    ///   such, every other byte below 0x20 as `\u00XX`;
    /// - well-formed UTF-8 is copied as it is, except U+2028 and U+2029 (`\u2028`, `\u2029`,
    ///   which JavaScript does not allow in a string literal);
    /// - every byte that does not start a well-formed UTF-8 sequence becomes `\ufffd`.
    ///
    /// So the output is valid JSON in valid UTF-8 whatever `bytes` hold, and parses back to
    /// `bytes` when they are well-formed UTF-8. Runs of bytes that need no escape are copied with
    /// one `writeBytes`.
    @discardableResult
    mutating func writeJSONString(_ bytes: UnsafeRawBufferPointer) -> Int {
        let start = writerIndex
        writeInteger(UInt8(ascii: "\""))
        var plainStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let byte = bytes[i]
            if byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            if byte >= 0x80 {
                let length = Self.wellFormedUTF8SequenceLength(bytes, at: i)
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                let isLineOrParagraphSeparator = length == 3 && byte == 0xE2 && bytes[i + 1] == 0x80 && bytes[i + 2] & 0xFE == 0xA8
                if length > 0 && !isLineOrParagraphSeparator {
                    i += length
                    continue
                }
                writeBytes(UnsafeRawBufferPointer(rebasing: bytes[plainStart..<i]))
                writeStaticString(length == 0 ? "\\ufffd" : (bytes[i + 2] == 0xA8 ? "\\u2028" : "\\u2029"))
                i += max(length, 1)
                plainStart = i
                continue
            }
            writeBytes(UnsafeRawBufferPointer(rebasing: bytes[plainStart..<i]))
            switch byte {
            case UInt8(ascii: "\""): writeStaticString("\\\"")
            case UInt8(ascii: "\\"): writeStaticString("\\\\")
            case UInt8(ascii: "\n"): writeStaticString("\\n")
            case UInt8(ascii: "\r"): writeStaticString("\\r")
            case UInt8(ascii: "\t"): writeStaticString("\\t")
            case 0x08: writeStaticString("\\b")
            case 0x0C: writeStaticString("\\f")
            default:
                writeStaticString("\\u00")
                writeInteger(Self.hexDigits[Int(byte >> 4)])
                writeInteger(Self.hexDigits[Int(byte & 0xF)])
            }
            i += 1
            plainStart = i
        }
        writeBytes(UnsafeRawBufferPointer(rebasing: bytes[plainStart..<n]))
        writeInteger(UInt8(ascii: "\""))
        return writerIndex - start
    }

    /// ``writeJSONString(_:)-(UnsafeRawBufferPointer)`` of a string's UTF-8.
    @discardableResult
    mutating func writeJSONString(_ string: String) -> Int {
        if let written = string.utf8.withContiguousStorageIfAvailable({ writeJSONString(UnsafeRawBufferPointer($0)) }) {
            return written
        }
        return Array(string.utf8).withUnsafeBytes { writeJSONString($0) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The length (2–4) of the well-formed UTF-8 sequence starting at `i` (whose byte is at
    /// least 0x80), or 0 when it is not one (Unicode's table 3-7: no overlong forms, no
    /// surrogates, nothing above U+10FFFF, no truncated sequence).
    private static func wellFormedUTF8SequenceLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int {
        let lead = bytes[i]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: return 0
        }
        guard i + length <= bytes.count, secondRange.contains(bytes[i + 1]) else { return 0 }
        for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return 0 }
        return length
    }
}
