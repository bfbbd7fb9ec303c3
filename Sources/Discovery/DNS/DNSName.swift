/// Domain names in their two forms: presentation (`www.example.com.`, with `\.` and `\DDD`
/// escapes inside labels, as miekg/dns writes them) and wire (length-prefixed labels, RFC 1035
/// 3.1, with compression pointers when read from a message, 4.1.4).
enum DNSName {
    /// The longest name on the wire, root label included (RFC 1035 2.3.4).
    static let maxWireLength = 255
    /// The longest label.
    static let maxLabelLength = 63
    /// The most compression pointers one name may follow (miekg/dns's bound).
    static let maxPointers = (maxWireLength + 1) / 2 - 2

    /// A name that cannot be written or read.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// `name` made absolute: a final `.` added unless it has one (miekg/dns's `Fqdn`).
    static func absolute(_ name: String) -> String {
        isAbsolute(name) ? name : name + "."
    }

    /// Whether `name` ends in an unescaped `.` (miekg/dns's `IsFqdn`).
    static func isAbsolute(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.last == UInt8(ascii: ".") else { return false }
        var backslashes = 0
        for byte in bytes.dropLast().reversed() {
            guard byte == UInt8(ascii: "\\") else { break }
            backslashes += 1
        }
        return backslashes % 2 == 0
    }

    /// The labels of `name` (relative or absolute), escapes resolved; the root (`.`) has none.
    static func labels(_ name: String) throws(Invalid) -> [[UInt8]] {
        let bytes = Array(name.utf8)
        if bytes == [UInt8(ascii: ".")] { return [] }
        var labels: [[UInt8]] = []
        var label: [UInt8] = []
        var index = 0
        var ended = false
        while index < bytes.count {
            let byte = bytes[index]
            ended = false
            switch byte {
            case UInt8(ascii: "."):
                guard !label.isEmpty else { throw Invalid(description: "empty label in \"\(name)\"") }
                labels.append(label)
                label = []
                ended = true
                index += 1
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { throw Invalid(description: "\"\(name)\" ends in a backslash") }
                if index + 3 < bytes.count, let value = decimal(bytes[(index + 1)...(index + 3)]) {
                    label.append(value)
                    index += 4
                } else {
                    label.append(bytes[index + 1])
                    index += 2
                }
            default:
                label.append(byte)
                index += 1
            }
            guard label.count <= maxLabelLength else { throw Invalid(description: "a label of \"\(name)\" is longer than 63 bytes") }
        }
        if !ended {
            guard !label.isEmpty else { throw Invalid(description: "empty name") }
            labels.append(label)
        }
        return labels
    }

    /// `\DDD`'s value, if the three bytes are digits of a byte.
    private static func decimal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// The number of labels of `name` (miekg/dns's `CountLabel`).
    static func labelCount(_ name: String) -> Int {
        (try? labels(name).count) ?? 0
    }

    /// `name` (taken as absolute) on the wire, uncompressed.
    static func wire(_ name: String) throws(Invalid) -> [UInt8] {
        var out: [UInt8] = []
        for label in try labels(name) {
            out.append(UInt8(label.count))
            out += label
        }
        out.append(0)
        guard out.count <= maxWireLength else { throw Invalid(description: "\"\(name)\" is longer than 255 bytes") }
        return out
    }

    /// Reads the name at `offset` of `message`, following compression pointers. Returns it in
    /// presentation form (absolute; `.` for the root) and the offset after it where it started.
    static func read(_ message: [UInt8], at offset: Int) throws(Invalid) -> (name: String, next: Int) {
        var text: [UInt8] = []
        var position = offset
        var next: Int?
        var pointers = 0
        var budget = maxWireLength
        while true {
            guard position < message.count else { throw Invalid(description: "a name runs past the end of the message") }
            let length = Int(message[position])
            switch length & 0xC0 {
            case 0x00:
                position += 1
                if length == 0 {
                    return (text.isEmpty ? "." : String(decoding: text, as: UTF8.self), next ?? position)
                }
                guard position + length <= message.count else { throw Invalid(description: "a label runs past the end of the message") }
                budget -= length + 1
                guard budget > 0 else { throw Invalid(description: "a name is longer than 255 bytes") }
                for byte in message[position..<(position + length)] { appendEscaped(byte, to: &text) }
                text.append(UInt8(ascii: "."))
                position += length
            case 0xC0:
                guard position + 1 < message.count else { throw Invalid(description: "a pointer runs past the end of the message") }
                if next == nil { next = position + 2 }
                pointers += 1
                guard pointers <= maxPointers else { throw Invalid(description: "too many compression pointers") }
                position = (length & 0x3F) << 8 | Int(message[position + 1])
            default:
                throw Invalid(description: "reserved label type \(length >> 6)")
            }
        }
    }

    /// A label byte as miekg/dns presents it: `\` before `. ' @ ; ( ) " \` and space, `\DDD`
    /// for bytes outside printable ASCII.
    private static func appendEscaped(_ byte: UInt8, to text: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: " "), UInt8(ascii: "'"), UInt8(ascii: "@"), UInt8(ascii: ";"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\""), UInt8(ascii: "\\"):
            text += [UInt8(ascii: "\\"), byte]
        case 0x20...0x7E:
            text.append(byte)
        default:
            let digits = String(byte)
            text += [UInt8(ascii: "\\")] + Array(String(repeating: "0", count: 3 - digits.count).utf8) + Array(digits.utf8)
        }
    }
}
