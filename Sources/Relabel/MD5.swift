/// MD5 (RFC 1321), only for the `hashmod` action, which Prometheus defines in terms of MD5.
/// Not for security. Plain safe Swift: no package dependency, no unsafe pointers.
enum MD5 {
    /// A 16-byte MD5 digest.
    struct Digest: Equatable, CustomStringConvertible {
        /// The digest's bytes in RFC 1321 order (A, B, C, D words, each little-endian).
        let bytes: [UInt8]

        /// Bytes 8..<16 read as a big-endian integer: what Prometheus' `hashmod` reduces.
        var lastEightBytesBigEndian: UInt64 {
            bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// Lowercase hex, as `md5sum` prints it.
        var description: String {
            let digits = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            out.reserveCapacity(32)
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// The MD5 digest of `string`'s UTF-8 bytes.
    static func digest(_ string: String) -> Digest {
        digest(string.utf8)
    }

    /// The MD5 digest of `message`.
    static func digest<Bytes: Sequence<UInt8>>(_ message: Bytes) -> Digest {
        // Pad in a copy: 0x80, zeros up to 56 mod 64, then the bit length, little-endian.
        var bytes = Array(message)
        let bitLength = UInt64(bytes.count) &* 8
        bytes.reserveCapacity((bytes.count + 8) / 64 * 64 + 64)
        bytes.append(0x80)
        while bytes.count % 64 != 56 { bytes.append(0) }
        for shift in stride(from: 0, to: 64, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }

        var state = State()
        var offset = 0
        while offset < bytes.count {
            state.compress(bytes, at: offset)
            offset += 64
        }

        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for word in [state.a, state.b, state.c, state.d] {
            for shift in stride(from: 0, to: 32, by: 8) {
                digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
            }
        }
        return Digest(bytes: digest)
    }

    private struct State {
        var a: UInt32 = 0x6745_2301
        var b: UInt32 = 0xefcd_ab89
        var c: UInt32 = 0x98ba_dcfe
        var d: UInt32 = 0x1032_5476

        /// Per-round left-rotation amounts.
        private static let shifts: [UInt32] = [
            7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
            5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
        ]

        /// floor(abs(sin(i + 1)) * 2^32).
        private static let constants: [UInt32] = [
            0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
            0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
            0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
            0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
            0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
            0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
            0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
            0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
        ]

        /// Processes the 64-byte block of `bytes` at `offset`.
        mutating func compress(_ bytes: [UInt8], at offset: Int) {
            func word(_ index: Int) -> UInt32 {
                let base = offset + index * 4
                return UInt32(bytes[base]) | UInt32(bytes[base + 1]) << 8
                    | UInt32(bytes[base + 2]) << 16 | UInt32(bytes[base + 3]) << 24
            }
            let constants = Self.constants
            let shifts = Self.shifts
            var a = a, b = b, c = c, d = d
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16:
                    f = (b & c) | (~b & d)
                    g = i
                case 16..<32:
                    f = (d & b) | (~d & c)
                    g = (5 &* i &+ 1) & 15
                case 32..<48:
                    f = b ^ c ^ d
                    g = (3 &* i &+ 5) & 15
                default:
                    f = c ^ (b | ~d)
                    g = (7 &* i) & 15
                }
                f = f &+ a &+ constants[i] &+ word(g)
                a = d
                d = c
                c = b
                let s = shifts[i]
                b = b &+ ((f << s) | (f >> (32 - s)))
            }
            self.a &+= a
            self.b &+= b
            self.c &+= c
            self.d &+= d
        }
    }
}
