/// A fast 64-bit hash of bytes that is the same in every process and on every run (unlike
/// Swift's `Hasher`, which is seeded per process): for the agent's own hash tables, cache keys
/// and shard choice. Not for security. Reads 8 bytes at a time and mixes with multiplications
/// (in the spirit of wyhash); two different seeds give two independent hashes, which together
/// make a 128-bit key whose collisions are negligible.
public enum ByteHash {
    @inlinable
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> UInt64 {
        var h = seed ^ (UInt64(bytes.count) &* 0xA076_1D64_78BD_642F)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = mix(h ^ word, 0xE703_7ED1_A0B4_28DB)
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = mix(h ^ tail, 0x8EBC_6AF0_9C88_C6E3)
        }
        return mix(h, 0x5899_65CC_7537_4CC3)
    }

    /// Multiplies to 128 bits and folds the halves.
    @inlinable
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        return high ^ low
    }
}
