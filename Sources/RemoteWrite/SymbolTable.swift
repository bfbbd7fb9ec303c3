/// The symbol table of one 2.0 request: every string once, "" first, already laid out as the
/// `Request.symbols` fields (tag, length, bytes). Strings are found by a hash of their bytes
/// in an open-addressing table reused between requests (reset by a generation stamp).
struct SymbolTable {
    /// `repeated string symbols = 4`, one field per symbol, in ref order.
    private(set) var encoded: [UInt8] = []
    /// Per symbol: where its bytes start in `encoded` (high 32 bits) and their length.
    private var spans: [UInt64] = []
    private var hashes: [UInt64] = []
    /// Per slot: the generation stamp (high 32 bits) and the symbol's index; a slot whose stamp
    /// is not the current one is empty.
    private var slots: [UInt64] = []
    private var stamp: UInt64 = 0
    /// Recently interned strings of at most 8 bytes by their bytes as a word (256 entries).
    private var short = [(stamp: UInt64, word: UInt64, count: Int, ref: UInt32)](repeating: (0, 0, 0, 0), count: 256)

    var count: Int { spans.count }

    mutating func reset() {
        encoded.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        if slots.isEmpty { slots = [UInt64](repeating: 0, count: 1024) }
        stamp += 1
        if stamp > UInt64(UInt32.max) {
            for index in slots.indices { slots[index] = 0 }
            for index in short.indices { short[index].stamp = 0 }
            stamp = 1
        }
        let empty = internInTable(UnsafeRawBufferPointer(start: nil, count: 0))
        assert(empty == 0)
    }

    /// The ref of `string`, added to the table if new.
    mutating func intern(_ string: String) -> UInt32 {
        if string.isEmpty { return 0 }
        var string = string  // withUTF8 is mutating; native strings are not copied
        return string.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    /// The ref of `bytes`, added to the table if new.
    ///
    /// Strings of at most 8 bytes (most label names and many values: `job`, `instance`, `le`,
    /// `0.5`, `GET`) are first looked up by their bytes as one word in a small direct-mapped
    /// cache: the word and the length determine the string exactly, so a hit needs no hash,
    /// probe or comparison.
    @inline(__always) mutating func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let count = bytes.count
        if count == 0 { return 0 }  // "" is always symbol 0
        guard count <= 8, let base = bytes.baseAddress else { return internInTable(bytes) }
        let word = count == 8 ? base.loadUnaligned(as: UInt64.self) : Self.tail(base, count)
        let entry = Int(truncatingIfNeeded: ((word ^ UInt64(count) << 59) &* 0x9E37_79B9_7F4A_7C15) >> 56)
        if short[entry].stamp == stamp, short[entry].word == word, short[entry].count == count {
            return short[entry].ref
        }
        let ref = internInTable(bytes)
        short[entry] = (stamp, word, count, ref)
        return ref
    }

    /// The ref of `bytes` from the hash table, added if new.
    private mutating func internInTable(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let hash = Self.hash(bytes)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let length = bytes.count
        while slots[slot] >> 32 == stamp {
            let index = Int(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF)
            let span = spans[index]
            if hashes[index] == hash, Int(truncatingIfNeeded: span & 0xFFFF_FFFF) == length,
                length == 0 || encoded.withUnsafeBytes({ Self.same($0.baseAddress! + Int(span >> 32), bytes.baseAddress!, length) })
            {
                return UInt32(index)
            }
            slot = (slot + 1) & mask
        }
        let index = spans.count
        encoded.append(Wire.requestSymbols)
        Wire.appendVarint(UInt64(length), to: &encoded)
        spans.append(UInt64(encoded.count) << 32 | UInt64(length))
        hashes.append(hash)
        encoded.append(contentsOf: bytes)
        slots[slot] = stamp << 32 | UInt64(index)
        if spans.count * 2 > slots.count { grow() }
        return UInt32(index)
    }

    /// Whether the `count` bytes at `a` and `b` are equal (inline: symbols are short).
    @inline(__always) private static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if count >= 8 {
            var offset = 0
            while offset + 8 < count {
                if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
                offset += 8
            }
            // The last eight bytes, overlapping the previous word when needed.
            return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        return tail(a, count) == tail(b, count)
    }

    /// The `count` (< 8) bytes at `base` as a little-endian word, in at most three loads.
    @inline(__always) static func tail(_ base: UnsafeRawPointer, _ count: Int) -> UInt64 {
        if count >= 4 {
            // Two overlapping 4-byte loads cover 4 to 7 bytes.
            let low = UInt64(base.loadUnaligned(as: UInt32.self))
            let high = UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            return low | high << 32
        }
        var word: UInt64 = 0
        if count >= 2 { word = UInt64(base.loadUnaligned(as: UInt16.self)) | UInt64(base.load(fromByteOffset: count - 1, as: UInt8.self)) << 16 }
        else if count == 1 { word = UInt64(base.load(as: UInt8.self)) }
        return word
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for index in 0..<spans.count {
            var slot = Int(truncatingIfNeeded: hashes[index]) & mask
            while slots[slot] >> 32 == stamp { slot = (slot + 1) & mask }
            slots[slot] = stamp << 32 | UInt64(index)
        }
    }

    /// A fast 64-bit hash of `bytes`, eight bytes at a time. Not for untrusted keys' worst case:
    /// collisions only cost probes (and a byte comparison), and a request's strings are bounded.
    @inline(__always) static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let count = bytes.count
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)
        guard count > 0, let base = bytes.baseAddress else { return hash }
        if count >= 8 {
            var offset = 0
            while offset + 8 < count {
                hash = (hash ^ base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                hash ^= hash >> 29
                offset += 8
            }
            hash = (hash ^ base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) &* 0x94D0_49BB_1331_11EB
        } else {
            hash = (hash ^ tail(base, count)) &* 0x94D0_49BB_1331_11EB
        }
        hash ^= hash >> 32
        hash &*= 0xBF58_476D_1CE4_E5B9
        return hash ^ (hash >> 29)
    }
}

