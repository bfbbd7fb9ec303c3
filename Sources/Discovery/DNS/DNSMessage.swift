/// A DNS message as discovery needs it (RFC 1035 4.1): a query to send, and the parts of an
/// answer it reads — identity, flags, response code and the answer section's records. The
/// authority and additional sections are not read (Prometheus uses the answer section only).
struct DNSMessage: Equatable {
    /// Record types (RFC 1035 3.2.2, RFC 3596, RFC 2782, RFC 6891).
    enum RecordType: UInt16 {
        case a = 1
        case ns = 2
        case cname = 5
        case mx = 15
        case aaaa = 28
        case srv = 33
        case opt = 41
    }

    /// Response codes this code looks at (RFC 1035 4.1.1).
    enum ResponseCode {
        static let success: UInt8 = 0
        static let serverFailure: UInt8 = 2
        static let nameError: UInt8 = 3
        static let refused: UInt8 = 5
    }

    /// One resource record of the answer section.
    struct Record: Equatable {
        /// The owner name, absolute, in presentation form.
        var name: String
        var data: RecordData
    }

    /// A record's data, for the types discovery uses.
    enum RecordData: Equatable {
        /// Four bytes.
        case a([UInt8])
        /// Sixteen bytes.
        case aaaa([UInt8])
        case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
        case mx(preference: UInt16, exchange: String)
        case ns(String)
        case cname(String)
        /// A type not read here (its data is skipped).
        case other(type: UInt16)
    }

    var id: UInt16
    /// TC: the answer did not fit and was cut; ask again over TCP.
    var truncated: Bool
    /// RCODE (the header's four bits).
    var responseCode: UInt8
    /// The question's name and type, if the message has one.
    var question: (name: String, type: UInt16)?
    var answers: [Record]

    static func == (lhs: DNSMessage, rhs: DNSMessage) -> Bool {
        lhs.id == rhs.id && lhs.truncated == rhs.truncated && lhs.responseCode == rhs.responseCode
            && lhs.question?.name == rhs.question?.name && lhs.question?.type == rhs.question?.type && lhs.answers == rhs.answers
    }

    /// A message that cannot be read.
    struct Malformed: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    // MARK: Writing

    /// A recursive query (RD set) for `name` (taken as absolute) and `type`; with `udpSize`, an
    /// EDNS0 OPT record advertising that UDP payload size (as miekg/dns's `SetEdns0`).
    static func query(id: UInt16, name: String, type: RecordType, udpSize: UInt16?) throws(DNSName.Invalid) -> [UInt8] {
        var out: [UInt8] = []
        out.appendUInt16(id)
        out.appendUInt16(0x0100)  // QR=0, OPCODE=0, RD=1
        out.appendUInt16(1)  // QDCOUNT
        out.appendUInt16(0)  // ANCOUNT
        out.appendUInt16(0)  // NSCOUNT
        out.appendUInt16(udpSize == nil ? 0 : 1)  // ARCOUNT
        out += try DNSName.wire(name)
        out.appendUInt16(type.rawValue)
        out.appendUInt16(1)  // IN
        if let udpSize {
            out.append(0)  // root
            out.appendUInt16(RecordType.opt.rawValue)
            out.appendUInt16(udpSize)  // CLASS: the payload size
            out += [0, 0, 0, 0]  // TTL: extended RCODE, version 0, no DO
            out.appendUInt16(0)  // RDLENGTH
        }
        return out
    }

    // MARK: Reading

    /// Reads a message; throws when it is cut short or inconsistent.
    init(decoding bytes: [UInt8]) throws(Malformed) {
        var reader = Reader(bytes: bytes)
        id = try reader.uint16()
        let flags = try reader.uint16()
        truncated = flags & 0x0200 != 0
        responseCode = UInt8(flags & 0x000F)
        let questions = try reader.uint16()
        let answerCount = try reader.uint16()
        _ = try reader.uint16()  // NSCOUNT
        _ = try reader.uint16()  // ARCOUNT
        question = nil
        for index in 0..<questions {
            let name = try reader.name()
            let type = try reader.uint16()
            _ = try reader.uint16()  // class
            if index == 0 { question = (name, type) }
        }
        answers = []
        for _ in 0..<answerCount {
            answers.append(try reader.record())
        }
    }

    /// Reads fields in order, checking every length against the message.
    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func uint16() throws(Malformed) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw Malformed(description: "message cut short at byte \(offset)") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func uint32() throws(Malformed) -> UInt32 {
            UInt32(try uint16()) << 16 | UInt32(try uint16())
        }

        mutating func name() throws(Malformed) -> String {
            do {
                let (name, next) = try DNSName.read(bytes, at: offset)
                offset = next
                return name
            } catch {
                throw Malformed(description: error.description)
            }
        }

        mutating func record() throws(Malformed) -> Record {
            let owner = try name()
            let type = try uint16()
            _ = try uint16()  // class
            _ = try uint32()  // TTL
            let length = Int(try uint16())
            let end = offset + length
            guard end <= bytes.count else { throw Malformed(description: "record data runs past the end of the message") }
            let data: RecordData
            switch RecordType(rawValue: type) {
            case .a:
                guard length == 4 else { throw Malformed(description: "an A record of \(length) bytes") }
                data = .a(Array(bytes[offset..<end]))
            case .aaaa:
                guard length == 16 else { throw Malformed(description: "an AAAA record of \(length) bytes") }
                data = .aaaa(Array(bytes[offset..<end]))
            case .srv:
                data = .srv(priority: try uint16(), weight: try uint16(), port: try uint16(), target: try name())
            case .mx:
                data = .mx(preference: try uint16(), exchange: try name())
            case .ns:
                data = .ns(try name())
            case .cname:
                data = .cname(try name())
            case .opt, nil:
                data = .other(type: type)
            }
            guard offset <= end else { throw Malformed(description: "record data longer than its length") }
            offset = end
            return Record(name: owner, data: data)
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }
}
