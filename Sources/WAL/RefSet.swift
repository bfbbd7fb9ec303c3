import Model

/// A set of series refs for the commit path: open addressing with linear probing and Fibonacci
/// hashing, so a lookup costs a multiplication and usually one probe (`Set<UInt64>` hashes with
/// SipHash, several times slower, which matters when every sample of a commit is checked).
///
/// Refs 0 and `UInt64.max` are never assigned by the log; they cannot be stored (inserting them
/// does nothing) because the slots use them as "empty" and "removed".
struct RefSet: Sequence {
    private static let empty: UInt64 = 0
    private static let removed: UInt64 = .max

    private var slots: [UInt64] = []
    /// Refs stored.
    private(set) var count = 0
    /// Slots not empty (refs and removal marks).
    private var used = 0

    init() {}

    init(_ refs: some Sequence<SeriesRef>) {
        for ref in refs { insert(ref) }
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private static func home(_ ref: UInt64, mask: Int) -> Int {
        Int(truncatingIfNeeded: (ref &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    @inline(__always)
    func contains(_ ref: SeriesRef) -> Bool {
        guard count > 0, ref != Self.empty, ref != Self.removed else { return false }
        return slots.withUnsafeBufferPointer { s in
            let mask = s.count - 1
            var i = Self.home(ref, mask: mask)
            while true {
                let v = s[i]
                if v == ref { return true }
                if v == Self.empty { return false }
                i = (i + 1) & mask
            }
        }
    }

    /// Inserts `ref`; false when it was there already (or cannot be stored).
    @discardableResult
    mutating func insert(_ ref: SeriesRef) -> Bool {
        guard ref != Self.empty, ref != Self.removed else { return false }
        if (used + 1) * 4 > slots.count * 3 { rehash(minimumCount: count + 1) }
        let mask = slots.count - 1
        var i = Self.home(ref, mask: mask)
        var firstRemoved = -1
        while true {
            let v = slots[i]
            if v == ref { return false }
            if v == Self.empty { break }
            if v == Self.removed && firstRemoved < 0 { firstRemoved = i }
            i = (i + 1) & mask
        }
        if firstRemoved >= 0 {
            slots[firstRemoved] = ref
        } else {
            slots[i] = ref
            used += 1
        }
        count += 1
        return true
    }

    /// Removes `ref`; true when it was there.
    @discardableResult
    mutating func remove(_ ref: SeriesRef) -> Bool {
        guard count > 0, ref != Self.empty, ref != Self.removed else { return false }
        let mask = slots.count - 1
        var i = Self.home(ref, mask: mask)
        while true {
            let v = slots[i]
            if v == ref {
                slots[i] = Self.removed
                count -= 1
                return true
            }
            if v == Self.empty { return false }
            i = (i + 1) & mask
        }
    }

    mutating func formUnion(_ refs: some Sequence<SeriesRef>) {
        for ref in refs { insert(ref) }
    }

    mutating func removeAll() {
        slots = []
        count = 0
        used = 0
    }

    /// Rebuilds the table, dropping removal marks, with `minimumCount` refs at most half filling
    /// it (it grows again at 3/4).
    private mutating func rehash(minimumCount: Int) {
        var capacity = 16
        while capacity < minimumCount * 2 { capacity *= 2 }
        let old = slots
        slots = [UInt64](repeating: Self.empty, count: capacity)
        count = 0
        used = 0
        for v in old where v != Self.empty && v != Self.removed { insert(v) }
    }

    func makeIterator() -> some IteratorProtocol<SeriesRef> {
        slots.lazy.filter { $0 != Self.empty && $0 != Self.removed }.makeIterator()
    }
}
