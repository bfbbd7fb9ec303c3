import Testing
@testable import WAL

/// Bit-at-a-time reference implementation.
private func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 (iSCSI) B.4 test vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    }

    @Test func matchesReferenceAtAllLengthsAndAlignments() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for start in 0..<9 {
            for length in stride(from: 0, to: 280, by: 7) {
                let slice = Array(data[start..<(start + length)])
                #expect(CRC32C.checksum(data[start..<(start + length)]) == referenceCRC32C(slice))
            }
        }
    }

    @Test func updateChains() {
        let a = Array("hello, ".utf8), b = Array("world".utf8)
        let chained = b.withUnsafeBytes { CRC32C.update(CRC32C.checksum(a), $0) }
        #expect(chained == CRC32C.checksum(a + b))
    }
}
