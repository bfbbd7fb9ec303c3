import Model

/// A map from series ref to `Value`, made for the per-sample lookups of the WAL watcher and the
/// per-series lookups of the senders: the values are kept densely in an array (``values``,
/// addressed by index), found through an open-addressing index of 32-bit slots (linear probing,
/// Fibonacci hashing, which spreads the WAL's consecutive refs evenly).
///
/// Costs per entry: the key (8 bytes), the value, and 4 bytes per index slot at a load of at
/// most one half. No tombstones: a removal shifts the following slots back and moves the last
/// value into the hole, so indexes of other entries may change on ``remove(_:)``.
struct RefTable<Value: Sendable>: Sendable {
    private(set) var keys: [SeriesRef] = []
    /// The values, `values[i]` belonging to `keys[i]`.
    var values: [Value] = []
    /// Per slot: the index of an entry plus one; 0 for an empty slot.
    private var slots: [UInt32] = [UInt32](repeating: 0, count: 16)
    private var shift: UInt64 = 64 - 4

    var count: Int { keys.count }

    /// The index of `ref`'s entry, or nil.
    @inline(__always) func index(of ref: SeriesRef) -> Int? {
        let mask = slots.count - 1
        var slot = home(ref)
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if keys[Int(entry - 1)] == ref { return Int(entry - 1) }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `ref`, which must not be in the table; returns its index.
    @discardableResult
    mutating func insert(_ ref: SeriesRef, _ value: Value) -> Int {
        if (keys.count + 1) * 2 > slots.count { rebuild(capacity: slots.count * 2) }
        let index = keys.count
        keys.append(ref)
        values.append(value)
        place(ref, index: index)
        return index
    }

    /// Removes `ref`'s entry, if any. The last entry moves into its index.
    mutating func remove(_ ref: SeriesRef) {
        let mask = slots.count - 1
        var hole = home(ref)
        while true {
            let entry = slots[hole]
            if entry == 0 { return }
            if keys[Int(entry - 1)] == ref { break }
            hole = (hole + 1) & mask
        }
        let index = Int(slots[hole] - 1)
        // Backward-shift deletion: move later entries of the probe run into the hole when their
        // home slot does not lie (cyclically) between the hole and where they are.
        var slot = hole
        while true {
            slot = (slot + 1) & mask
            let entry = slots[slot]
            if entry == 0 { break }
            let wanted = home(keys[Int(entry - 1)])
            let stays = hole <= slot ? (hole < wanted && wanted <= slot) : (hole < wanted || wanted <= slot)
            if !stays {
                slots[hole] = entry
                hole = slot
            }
        }
        slots[hole] = 0
        // Move the last entry into the removed one's index.
        let last = keys.count - 1
        if index != last {
            let moved = keys[last]
            var at = home(moved)
            while slots[at] != UInt32(last + 1) { at = (at + 1) & mask }
            slots[at] = UInt32(index + 1)
            keys[index] = moved
            values.swapAt(index, last)
        }
        keys.removeLast()
        values.removeLast()
        if slots.count > 1024 && keys.count * 8 < slots.count { rebuild(capacity: slots.count / 2) }
    }

    /// Releases spare capacity of the dense arrays (after many removals).
    mutating func compact() {
        guard keys.capacity > keys.count * 2 + 64 else { return }
        var newKeys: [SeriesRef] = []
        newKeys.reserveCapacity(keys.count)
        newKeys.append(contentsOf: keys)
        var newValues: [Value] = []
        newValues.reserveCapacity(values.count)
        newValues.append(contentsOf: values)
        keys = newKeys
        values = newValues
    }

    @inline(__always) private func home(_ ref: SeriesRef) -> Int {
        Int(truncatingIfNeeded: (ref &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    private mutating func place(_ ref: SeriesRef, index: Int) {
        let mask = slots.count - 1
        var slot = home(ref)
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = UInt32(index + 1)
    }

    private mutating func rebuild(capacity: Int) {
        slots = [UInt32](repeating: 0, count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        for index in keys.indices { place(keys[index], index: index) }
    }
}
