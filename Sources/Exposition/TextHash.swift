/// The 128-bit hash of a line's text that the scrape path keys its caches on (series texts in
/// the scrape cache, metadata lines in ``KnownMetadataLines``): fast, not for security; callers
/// draw the seeds at random per table, so a target cannot craft collisions in advance.
public enum TextHash {
    /// Two independent 64-bit hashes of `bytes` in one pass: 8 bytes per step, each lane
    /// `lane = fold(lane ^ word × constant)` with its own seed and constants (fold: the two
    /// halves of the 128-bit product xored), an overlapping load for the last partial word.
    @inlinable @inline(__always)
    public static func hash128(_ bytes: UnsafeRawBufferPointer, _ seedA: UInt64, _ seedB: UInt64) -> (UInt64, UInt64) {
        let n = bytes.count
        var a = seedA ^ (UInt64(n) &* 0xA076_1D64_78BD_642F)
        var b = seedB ^ (UInt64(n) &* 0xE703_7ED1_A0B4_28DB)
        guard let base = bytes.baseAddress, n > 0 else { return (fold(a, 0x8EBC_6AF0_9C88_C6E3), fold(b, 0x5899_65CC_7537_4CC3)) }
        var i = 0
        while i + 8 <= n {
            let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            a = fold(a ^ w, 0x8EBC_6AF0_9C88_C6E3)
            b = fold(b ^ w, 0x5899_65CC_7537_4CC3)
            i += 8
        }
        if i < n {
            var tail: UInt64
            if n >= 8 {
                // The last 8 bytes, shifted so that the ones not hashed yet are the low ones.
                let last = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
                tail = last >> UInt64(8 * (8 - (n - i)))
            } else {
                tail = 0
                for k in 0..<n { tail |= UInt64(base.load(fromByteOffset: k, as: UInt8.self)) << UInt64(8 * k) }
            }
            tail ^= 0xFF << 56  // a tail never equals a whole word of the same bytes
            a = fold(a ^ tail, 0x1D8E_4E27_C47D_124F)
            b = fold(b ^ tail, 0xD6E8_FEB8_6659_FD93)
        }
        return (fold(a, 0xA076_1D64_78BD_642F), fold(b, 0xE703_7ED1_A0B4_28DB))
    }

    @inlinable
    static func fold(_ x: UInt64, _ k: UInt64) -> UInt64 {
        let (high, low) = x.multipliedFullWidth(by: k)
        return high ^ low
    }
}
