#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Model

/// The writer's series table: the label bytes of every series the log knows, kept once, and an
/// index from those bytes to the series' ref.
///
/// Layout (nothing is allocated per series):
/// - **chunks**: the label bytes (``Labels``' encoding, which is also a series record's) of the
///   series, one after another, in byte arrays of up to ``chunkLimit`` bytes (a label set longer
///   than that gets a chunk of its own). Chunks rather than one array, so that growing never
///   copies the whole table nor leaves up to half of it unused.
/// - **entries**: per series its ref and where its bytes are. Kept **ascending by ref** (the writer
///   gives a new series a ref above every other; ``sortByRef()`` restores the order after a
///   replay), so a segment head is written by walking `entries`, from the bytes as they are.
/// - **slots**: an open-addressing index (linear probing, power-of-two size, at most 3/4 full) of
///   64-bit slots, each holding 32 bits of the label bytes' hash (``ByteHash``) and the entry's
///   index + 1 (0 = empty). A lookup hashes the bytes once and compares bytes (memcmp) only where
///   the 32 hash bits match. The index is rebuilt from the slots alone (growth, compaction,
///   sorting), never by hashing the labels again.
///
/// Memory per series: its label bytes, 24 bytes of entry and 8 bytes per slot (11–21 bytes at the
/// index's load), plus the unused tail of the last chunk.
///
/// A series is removed by ``remove(ref:)`` (rolling back a failed commit: the newest series, at
/// the end, whose bytes are given back) or ``removeAll(in:)`` (compaction when a segment starts:
/// the released series' bytes are dropped and the rest moved together).
struct SeriesStore {
    struct Entry {
        var ref: SeriesRef
        /// Index of the chunk holding the bytes.
        var chunk: UInt32
        var offset: UInt32
        /// Byte length of the labels; ``dead`` for a series removed from the middle (skipped
        /// everywhere, dropped at the next compaction).
        var length: UInt32
        var labelCount: UInt32

        static let dead = UInt32.max
        var isLive: Bool { length != Self.dead }
    }

    /// Bytes per chunk, beyond which a new chunk is started.
    static let chunkLimit = 1 << 20

    private var chunks: [[UInt8]] = []
    private(set) var entries: [Entry] = []
    private var slots: [UInt64] = []
    /// Live series.
    private(set) var count = 0
    /// Whether `entries` is ascending by ref (false only between a replay's inserts and
    /// ``sortByRef()``).
    private(set) var isSortedByRef = true

    init() {}

    var isEmpty: Bool { count == 0 }

    /// Bytes the table holds (capacities: chunks, entries, index).
    var memoryBytes: Int {
        chunks.reduce(0) { $0 + $1.capacity } + entries.capacity * MemoryLayout<Entry>.stride + slots.capacity * 8
    }

    // MARK: Lookup

    @inline(__always)
    private static func tag(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash) }

    /// The bytes of entry `index`.
    @inline(__always)
    func withBytes<R>(ofEntry index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let e = entries[index]
        return try chunks[Int(e.chunk)].withUnsafeBytes { c in
            try body(UnsafeRawBufferPointer(rebasing: c[Int(e.offset)..<(Int(e.offset) + Int(e.length))]))
        }
    }

    /// Where `bytes` (hashing to `hash`) are: `.found(entry index)`, or `.absent(slot)` with the
    /// empty slot that ends the probe.
    private enum Probe {
        case found(Int)
        case absent(Int)
    }

    private func probe(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> Probe {
        let tag = Self.tag(hash)
        return slots.withUnsafeBufferPointer { s in
            let mask = s.count - 1
            var i = Int(tag) & mask
            while true {
                let slot = s[i]
                if slot == 0 { return .absent(i) }
                if UInt32(truncatingIfNeeded: slot >> 32) == tag {
                    let index = Int(UInt32(truncatingIfNeeded: slot)) - 1
                    let equal = withBytes(ofEntry: index) { stored in
                        stored.count == bytes.count && (bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
                    }
                    if equal { return .found(index) }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// The ref of `labels`, or nil when the table does not hold them.
    func ref(of labels: Labels) -> SeriesRef? {
        guard count > 0 else { return nil }
        return labels.bytes.withUnsafeBytes { bytes in
            if case .found(let index) = probe(bytes, hash: ByteHash.hash64(bytes)) { return entries[index].ref }
            return nil
        }
    }

    // MARK: Inserting

    /// The ref of `labels` when the table holds them; otherwise stores them under `ref`.
    ///
    /// - Precondition: `ref` is above every ref in the table (so `entries` stay sorted), unless
    ///   the caller calls ``sortByRef()`` before relying on the order.
    mutating func findOrInsert(_ labels: Labels, ref: SeriesRef) -> (ref: SeriesRef, inserted: Bool) {
        labels.bytes.withUnsafeBytes { bytes in
            findOrInsert(bytes: bytes, labelCount: labels.count, ref: ref)
        }
    }

    /// ``findOrInsert(_:ref:)`` for label bytes in ``Labels``' encoding holding `labelCount` labels.
    mutating func findOrInsert(bytes: UnsafeRawBufferPointer, labelCount: Int, ref: SeriesRef) -> (ref: SeriesRef, inserted: Bool) {
        if (count + 1) * 4 > slots.count * 3 { growIndex() }
        let hash = ByteHash.hash64(bytes)
        switch probe(bytes, hash: hash) {
        case .found(let index):
            return (entries[index].ref, false)
        case .absent(let slot):
            if let last = entries.last, last.ref >= ref { isSortedByRef = false }
            let (chunk, offset) = store(bytes)
            entries.append(Entry(ref: ref, chunk: chunk, offset: offset, length: UInt32(bytes.count), labelCount: UInt32(labelCount)))
            slots[slot] = UInt64(Self.tag(hash)) << 32 | UInt64(entries.count)
            count += 1
            return (ref, true)
        }
    }

    /// Copies `bytes` to the end of the last chunk (or a new one); returns where.
    private mutating func store(_ bytes: UnsafeRawBufferPointer) -> (chunk: UInt32, offset: UInt32) {
        if chunks.isEmpty || chunks[chunks.count - 1].count + bytes.count > max(Self.chunkLimit, bytes.count) {
            var chunk: [UInt8] = []
            // The first chunk grows as needed (a small table stays small); later ones are full-size.
            if !chunks.isEmpty { chunk.reserveCapacity(max(Self.chunkLimit, bytes.count)) }
            chunks.append(chunk)
        }
        let c = chunks.count - 1
        let offset = chunks[c].count
        chunks[c].append(contentsOf: bytes)
        return (UInt32(c), UInt32(offset))
    }

    // MARK: Removing

    /// Removes the series `ref` (a commit rolled back). The newest series (the last entry, the
    /// usual case) is removed with its bytes; another one is marked dead until the next
    /// compaction. Does nothing when `ref` is not in the table.
    mutating func remove(ref: SeriesRef) {
        guard let index = entryIndex(of: ref) else { return }
        let e = entries[index]
        let hash = withBytes(ofEntry: index) { ByteHash.hash64($0) }
        removeSlot(hash: hash, entryIndex: index)
        count -= 1
        if index == entries.count - 1 {
            entries.removeLast()
            let c = Int(e.chunk)
            if c == chunks.count - 1, Int(e.offset) + Int(e.length) == chunks[c].count {
                chunks[c].removeLast(Int(e.length))
                if chunks[c].isEmpty, c > 0 { chunks.removeLast() }
            }
        } else {
            entries[index].length = Entry.dead
        }
    }

    /// The index of the live entry with `ref`.
    private func entryIndex(of ref: SeriesRef) -> Int? {
        if isSortedByRef {
            var low = 0, high = entries.count
            while low < high {
                let mid = (low + high) / 2
                if entries[mid].ref < ref { low = mid + 1 } else { high = mid }
            }
            var i = low
            while i < entries.count, entries[i].ref == ref {
                if entries[i].isLive { return i }
                i += 1
            }
            return nil
        }
        return entries.lastIndex { $0.ref == ref && $0.isLive }
    }

    /// Deletes the slot pointing at `entryIndex` (backward-shift deletion: the probe sequences of
    /// the slots after it stay unbroken).
    private mutating func removeSlot(hash: UInt64, entryIndex: Int) {
        let mask = slots.count - 1
        let wanted = UInt64(Self.tag(hash)) << 32 | UInt64(entryIndex + 1)
        var i = Int(Self.tag(hash)) & mask
        while slots[i] != wanted {
            precondition(slots[i] != 0, "series store index lost an entry")
            i = (i + 1) & mask
        }
        var hole = i
        var j = i
        while true {
            j = (j + 1) & mask
            let slot = slots[j]
            if slot == 0 { break }
            let home = Int(UInt32(truncatingIfNeeded: slot >> 32)) & mask
            // Move `slot` into the hole unless its home lies cyclically in (hole, j].
            let between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !between {
                slots[hole] = slot
                hole = j
            }
        }
        slots[hole] = 0
    }

    /// Drops every series whose ref is in `refs`, and the dead entries, moving the rest together
    /// (their order kept). The old chunks are freed as they are emptied, so this needs about one
    /// chunk of memory beyond the table.
    mutating func removeAll(in refs: RefSet) {
        guard !refs.isEmpty || count < entries.count else { return }
        var newChunks: [[UInt8]] = []
        var newEntries: [Entry] = []
        // Old entry index → new index + 1 (0: dropped), to rewrite the index's slots.
        var moved = [UInt32](repeating: 0, count: entries.count)
        var current: [UInt8] = []
        // An old chunk can be freed once the walk has passed it when the entries lie in chunk
        // order (always, except right after a replay that met series out of ref order).
        let inChunkOrder = zip(entries, entries.dropFirst()).allSatisfy { $0.chunk <= $1.chunk }
        var readChunk = 0
        for (i, e) in entries.enumerated() {
            while inChunkOrder, readChunk < Int(e.chunk) {
                chunks[readChunk] = []  // every entry of it has been moved
                readChunk += 1
            }
            guard e.isLive, !refs.contains(e.ref) else { continue }
            if current.count + Int(e.length) > max(Self.chunkLimit, Int(e.length)), !current.isEmpty {
                newChunks.append(current)
                current = []
                current.reserveCapacity(Self.chunkLimit)
            }
            let offset = current.count
            chunks[Int(e.chunk)].withUnsafeBytes { c in
                current.append(contentsOf: UnsafeRawBufferPointer(rebasing: c[Int(e.offset)..<(Int(e.offset) + Int(e.length))]))
            }
            newEntries.append(Entry(
                ref: e.ref, chunk: UInt32(newChunks.count), offset: UInt32(offset), length: e.length, labelCount: e.labelCount))
            moved[i] = UInt32(newEntries.count)
        }
        if !current.isEmpty || newChunks.isEmpty { newChunks.append(current) }
        chunks = newChunks
        entries = newEntries
        count = newEntries.count
        rebuildIndex(capacityFor: count) { old in moved[old] }
    }

    // MARK: Order and index

    /// Sorts `entries` by ref (after a replay that inserted series out of order).
    mutating func sortByRef() {
        guard !isSortedByRef else { return }
        let order = entries.indices.sorted { entries[$0].ref < entries[$1].ref }
        var newIndex = [UInt32](repeating: 0, count: entries.count)
        for (new, old) in order.enumerated() { newIndex[old] = UInt32(new + 1) }
        entries = order.map { entries[$0] }
        isSortedByRef = true
        rebuildIndex(capacityFor: count) { old in newIndex[old] }
    }

    private mutating func growIndex() {
        rebuildIndex(capacityFor: count + 1) { old in UInt32(old + 1) }
    }

    /// Rebuilds the slots for `minimumCount` series (at most half full), mapping each old entry
    /// index through `map` (new index + 1, or 0 to drop it). Only the stored hash bits are used.
    private mutating func rebuildIndex(capacityFor minimumCount: Int, map: (Int) -> UInt32) {
        var capacity = 16
        while capacity < minimumCount * 2 { capacity *= 2 }
        var new = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for slot in slots where slot != 0 {
            let mapped = map(Int(UInt32(truncatingIfNeeded: slot)) - 1)
            guard mapped != 0 else { continue }
            let tag = slot >> 32
            var i = Int(tag) & mask
            while new[i] != 0 { i = (i + 1) & mask }
            new[i] = tag << 32 | UInt64(mapped)
        }
        slots = new
    }

    // MARK: Reading

    /// Calls `body` with each live series in ref order (when sorted): its ref, label count and
    /// label bytes (valid during the call).
    func forEach(_ body: (_ ref: SeriesRef, _ labelCount: Int, _ bytes: UnsafeRawBufferPointer) throws -> Void) rethrows {
        for i in entries.indices where entries[i].isLive {
            let e = entries[i]
            try withBytes(ofEntry: i) { try body(e.ref, Int(e.labelCount), $0) }
        }
    }

    /// The refs of the live series.
    var refs: [SeriesRef] {
        entries.compactMap { $0.isLive ? $0.ref : nil }
    }
}
