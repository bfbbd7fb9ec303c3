import Foundation

/// Page and segment layout constants and segment file naming.
enum WALSegment {
    /// Pages are 32 KiB; a fragment never crosses a page boundary.
    static let pageSize = 32 * 1024
    /// type (1) + payload length (2, BE) + CRC32C of the payload (4, BE).
    static let headerSize = 7

    /// The header's first byte: the fragment type in the low 3 bits, compression flags above.
    static let typeMask: UInt8 = 0x07
    /// Set in every fragment of a record whose payload is snappy-compressed (Prometheus's
    /// `snappyMask`).
    static let snappyFlag: UInt8 = 0x08
    /// Prometheus's zstd flag (`zstdMask`): not written here, and read as an error.
    static let zstdFlag: UInt8 = 0x10

    /// Fragment types (the low 3 bits of the header's first byte, as in Prometheus; the bits above
    /// are the compression flags).
    enum FragmentType: UInt8 {
        case pageTerm = 0
        case full = 1
        case first = 2
        case middle = 3
        case last = 4
    }

    /// `00000012` for 12: at least 8 decimal digits, zero-padded.
    static func name(_ segment: Int) -> String {
        let digits = String(segment)
        return digits.count >= 8 ? digits : String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func path(_ directory: String, _ segment: Int) -> String {
        directory + "/" + name(segment)
    }

    /// Segment number of a file name, or nil when the name is not a segment's.
    static func number(_ name: String) -> Int? {
        guard name.utf8.count >= 8, name.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(name)
    }

    /// Numbers of the segment files in `directory`, ascending.
    static func list(_ directory: String) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: directory).compactMap(number).sorted()
    }

    /// Bytes that appending a payload of `length` at segment offset `offset` takes on disk,
    /// counting headers and any page-tail padding skipped before a fragment.
    static func encodedSize(payloadLength length: Int, at offset: Int) -> Int {
        var o = offset
        var rest = length
        var first = true
        while first || rest > 0 {
            let inPage = pageSize - o % pageSize
            if inPage < headerSize { o += inPage; continue }
            let n = min(rest, inPage - headerSize)
            o += headerSize + n
            rest -= n
            first = false
        }
        return o - offset
    }
}
