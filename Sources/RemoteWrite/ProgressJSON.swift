import WAL

/// Writes an ``EndpointProgress`` as the JSON of `STORAGE/remote/NAME.json`, by hand into a
/// reused buffer: the same document `JSONEncoder` makes of it (``EndpointProgress``'s `Codable`
/// keys; `shards` left out when empty, `inFlight` when nothing is in flight, `url` when nil),
/// read back by ``EndpointProgressFile/load()`` and `agent wal dump --lag`. It is written before
/// every request, so it must cost next to nothing.
enum ProgressJSON {
    /// Replaces `out`'s contents with the document for `progress`.
    static func encode(_ progress: EndpointProgress, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(UInt8(ascii: "{"))
        cursorFields(progress.acknowledged, into: &out)
        if !progress.shards.isEmpty {
            append(#","shards":["#, to: &out)
            for (index, shard) in progress.shards.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                cursor(shard, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        if progress.inFlight.contains(where: { $0 != nil }) {
            append(#","inFlight":["#, to: &out)
            for (index, end) in progress.inFlight.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                if let end { cursor(end, into: &out) } else { append("null", to: &out) }
            }
            out.append(UInt8(ascii: "]"))
        }
        if let url = progress.url {
            append(#","url":"#, to: &out)
            string(url, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// `{"position":{"segment":S,"offset":O},"samplesDone":N}`
    private static func cursor(_ cursor: Cursor, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        cursorFields(cursor, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func cursorFields(_ cursor: Cursor, into out: inout [UInt8]) {
        append(#""position":{"segment":"#, to: &out)
        integer(cursor.position.segment, into: &out)
        append(#","offset":"#, to: &out)
        integer(cursor.position.offset, into: &out)
        append(#"},"samplesDone":"#, to: &out)
        integer(cursor.samplesDone, into: &out)
    }

    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private static func integer(_ value: Int, into out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 20 digits, filled from the end
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    private static func string(_ text: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(#"\""#, to: &out)
            case UInt8(ascii: "\\"): append(#"\\"#, to: &out)
            case 0x0A: append(#"\n"#, to: &out)
            case 0x0D: append(#"\r"#, to: &out)
            case 0x09: append(#"\t"#, to: &out)
            case 0..<0x20:
                append(#"\u00"#, to: &out)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
