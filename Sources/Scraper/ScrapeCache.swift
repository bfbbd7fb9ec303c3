import Exposition
import Model

/// One target's memory of the series it exposes: a 128-bit hash of each series text (`name{labels}`
/// as written) mapped to its WAL ref, and nothing else per series: no bytes, no labels.
///
/// An unchanged line costs one hash pass over its series text and one probe of a flat
/// open-addressing table: no label parsing, no validation (the text was validated when first
/// seen, see ``TextParser/finishSample(seriesIsKnownValid:)``), no String, no allocation. It
/// also knows which series each scrape saw, which gives duplicates within a scrape and the
/// series that vanished since the previous successful scrape (they get staleness markers).
///
/// ## Memory
/// One 32-byte slot per series (key 16, ref 8, generation 4, flags 4) in one array whose load
/// stays between 3/8 and 3/4: 43–85 bytes per series, about 60 on average, with no allocation
/// per entry (the dictionary of arrays of raw lines it replaces took ≈330 on the benchmark's body).
///
/// ## Collisions
/// Keys are not compared with the series text, so two different texts with the same key would
/// share an entry: the second would be stored under the first's ref (or dropped with it). The
/// key is two 64-bit multiply-fold hashes of the bytes (in the style of wyhash) with independent
/// seeds and constants, one bit of which marks an occupied slot: 127 bits. Taking them as
/// random, the chance that any two of a target's `n` distinct series texts collide is at most
/// n² / 2¹²⁸: below 10⁻²⁶ for a million series, and below 10⁻¹⁸ for a target exposing a million
/// new series every second for 30 years (10¹⁵ texts against a cache of 10⁶). The seeds are drawn at random for
/// each cache, so a target cannot craft colliding texts (nor texts that all probe the same
/// slots) in advance; and a collision could only mix two series of the same target, whose
/// exposition is the only input. The format is part of the seed: a text valid in one format
/// is not taken as validated in the other.
///
/// ## Life of an entry
/// A series new in a scrape is inserted *pending* (its ref is the index of its labels in the
/// batch) and gets its ref when the batch is committed (``resolvePending(refs:)``), or is
/// removed if it is not (``rollBackPending()``). Series dropped by `metric_relabel_configs` are
/// remembered as dropped, so later scrapes skip them without relabeling again. A successful
/// scrape moves the entries it saw to a new generation; entries not seen for a while are
/// evicted (``evict(olderThan:)``).
public struct ScrapeCache: Sendable {
    /// A series text's 127-bit hash (see the type's documentation).
    public struct Key: Hashable, Sendable {
        /// Never 0: its top bit is set (0 marks an empty slot).
        var high: UInt64
        var low: UInt64
    }

    /// What a lookup found.
    public enum Lookup: Equatable, Sendable {
        case miss
        case hit(SeriesRef)
        /// `metric_relabel_configs` dropped the series: skip the sample.
        case dropped
        /// Seen already in this scrape (a duplicate line), or new in it and waiting for its ref.
        case duplicate
    }

    /// One series. `high == 0` marks an empty slot.
    struct Slot {
        var high: UInt64 = 0
        var low: UInt64 = 0
        /// The WAL ref; while ``Flags/pending``, the index of the series among the batch's new series.
        var ref: UInt64 = 0
        /// The successful scrape that last saw the series (modulo 2³²).
        var generation: UInt32 = 0
        var flags: Flags = []
    }

    struct Flags: OptionSet {
        var rawValue: UInt32
        /// Seen by the running attempt.
        static let seen = Flags(rawValue: 1)
        /// New in the running attempt, waiting for its ref.
        static let pending = Flags(rawValue: 2)
        /// Dropped by `metric_relabel_configs`: never stored, never marked stale.
        static let dropped = Flags(rawValue: 4)
        /// Exposed with an explicit timestamp in the scrape that last saw it.
        static let explicitTimestamp = Flags(rawValue: 8)
    }

    private var slots: [Slot] = []
    /// Occupied slots.
    public private(set) var count = 0
    /// Pending entries (whose ``Slot/ref`` is a new-series index).
    private var pendingCount = 0
    /// Successful and failed scrapes so far (a failed one ends its generation too).
    public private(set) var generation: UInt64 = 0
    /// An attempt began and did not finish: some entries may still be marked seen.
    private var attemptOpen = false
    /// Per-cache random seeds of the two hash lanes.
    private let seeds: (UInt64, UInt64)

    public init() {
        var random = SystemRandomNumberGenerator()
        seeds = (random.next(), random.next())
    }

    // MARK: Keys

    /// The key of the series text `series` in `format`.
    @inline(__always)
    public func key(_ series: UnsafeRawBufferPointer, format: ExpositionFormat) -> Key {
        let formatSeed: UInt64 = format == .openMetrics ? 0x2D35_8DCC_AA6C_78A5 : 0
        let (a, b) = TextHash.hash128(series, seeds.0 ^ formatSeed, seeds.1 ^ formatSeed)
        return Key(high: a | 1 << 63, low: b)
    }

    // MARK: A scrape

    /// Starts a scrape attempt.
    public mutating func beginAttempt() {
        if attemptOpen { clearSeen() }  // the last attempt was abandoned (cancelled)
        attemptOpen = true
    }

    /// The slot holding `key`, nil when the cache does not know it. A slot stays valid until the
    /// next insertion or removal.
    @inline(__always)
    public func find(_ key: Key) -> Int? {
        guard count > 0 else { return nil }
        return slots.withUnsafeBufferPointer { slots -> Int? in
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: key.low) & mask
            while true {
                let high = slots[i].high
                if high == key.high && slots[i].low == key.low { return i }
                if high == 0 { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// Marks the series in `slot` (from ``find(_:)``) seen by this attempt and says what to do
    /// with its sample. A series new in this attempt (pending) is `.duplicate`: its first line
    /// was stored with its labels.
    @inline(__always)
    public mutating func markSeen(_ slot: Int, explicitTimestamp: Bool) -> Lookup {
        slots.withUnsafeMutableBufferPointer { slots -> Lookup in
            var flags = slots[slot].flags
            if flags.contains(.seen) { return .duplicate }
            flags.insert(.seen)
            if explicitTimestamp { flags.insert(.explicitTimestamp) } else { flags.remove(.explicitTimestamp) }
            slots[slot].flags = flags
            return flags.contains(.dropped) ? .dropped : .hit(slots[slot].ref)
        }
    }

    /// ``find(_:)`` then ``markSeen(_:explicitTimestamp:)``.
    public mutating func lookup(_ key: Key, explicitTimestamp: Bool) -> Lookup {
        guard let slot = find(key) else { return .miss }
        return markSeen(slot, explicitTimestamp: explicitTimestamp)
    }

    /// Adds a series new in this attempt, whose ref will be the batch's new series `index`.
    /// - Precondition: `key` is not in the cache (``lookup(_:explicitTimestamp:)`` missed).
    public mutating func insertPending(_ key: Key, index: Int, explicitTimestamp: Bool) {
        insert(Slot(high: key.high, low: key.low, ref: UInt64(index), flags: explicitTimestamp ? [.seen, .pending, .explicitTimestamp] : [.seen, .pending]))
        pendingCount += 1
    }

    /// Remembers a series that metric relabeling dropped.
    /// - Precondition: `key` is not in the cache.
    public mutating func insertDropped(_ key: Key) {
        insert(Slot(high: key.high, low: key.low, flags: [.seen, .dropped]))
    }

    /// Ends a successful attempt: the series it saw move to a new generation; returns the refs of
    /// those seen in the previous generation but not now (staleness candidates), skipping
    /// explicitly timestamped ones unless `trackTimestamps`.
    public mutating func finishSuccessfulAttempt(trackTimestamps: Bool) -> [SeriesRef] {
        generation &+= 1
        attemptOpen = false
        let current = UInt32(truncatingIfNeeded: generation)
        let previous = current &- 1
        var vanished: [SeriesRef] = []
        slots.withUnsafeMutableBufferPointer { slots in
            for i in slots.indices where slots[i].high != 0 {
                let flags = slots[i].flags
                if flags.contains(.seen) {
                    slots[i].generation = current
                    slots[i].flags = flags.subtracting(.seen)
                } else if slots[i].generation == previous, flags.isDisjoint(with: [.pending, .dropped]),
                    trackTimestamps || !flags.contains(.explicitTimestamp)
                {
                    vanished.append(slots[i].ref)
                }
            }
        }
        return vanished
    }

    /// Ends a failed attempt: forgets the series it added and returns the refs of every series of
    /// the last successful scrape (they all go stale), which then no longer count as "previous".
    public mutating func finishFailedAttempt(trackTimestamps: Bool) -> [SeriesRef] {
        rollBackPending()
        let previous = allOfLastGeneration(trackTimestamps: trackTimestamps)
        generation &+= 1
        clearSeen()
        attemptOpen = false
        return previous
    }

    /// The refs of every series seen by the last successful scrape.
    public func allOfLastGeneration(trackTimestamps: Bool) -> [SeriesRef] {
        guard generation > 0 else { return [] }
        let current = UInt32(truncatingIfNeeded: generation)
        var refs: [SeriesRef] = []
        for slot in slots
        where slot.high != 0 && slot.generation == current && slot.flags.isDisjoint(with: [.pending, .dropped])
            && (trackTimestamps || !slot.flags.contains(.explicitTimestamp))
        {
            refs.append(slot.ref)
        }
        return refs
    }

    /// Gives the pending entries their refs, once the WAL assigned them (`refs[i]` is the ref of
    /// the batch's new series `i`); entries whose index has no ref are forgotten.
    public mutating func resolvePending(refs: [SeriesRef]) {
        guard pendingCount > 0 else { return }
        slots.withUnsafeMutableBufferPointer { slots in
            for i in slots.indices where slots[i].high != 0 && slots[i].flags.contains(.pending) {
                let index = slots[i].ref
                if index < refs.count {
                    slots[i].ref = refs[Int(index)]
                    slots[i].flags.remove(.pending)
                    pendingCount -= 1
                }
            }
        }
        // A pending entry must never outlive its batch: one without a ref is forgotten.
        rollBackPending()
    }

    /// Forgets the entries the running attempt added (its batch was not stored).
    public mutating func rollBackPending() {
        guard pendingCount > 0 else { return }
        rebuild { !$0.flags.contains(.pending) }
        pendingCount = 0
    }

    /// Forgets series not seen in the last `keepGenerations` scrapes, so a target's churning
    /// series do not accumulate. Returns the WAL refs of the series forgotten (they had their
    /// staleness marker when they vanished), for ``AppendBatch/release(ref:)``.
    @discardableResult
    public mutating func evict(olderThan keepGenerations: UInt64) -> [SeriesRef] {
        guard generation > keepGenerations else { return [] }
        let current = UInt32(truncatingIfNeeded: generation)
        let keep = UInt32(truncatingIfNeeded: min(keepGenerations, UInt64(UInt32.max)))
        func evictable(_ slot: Slot) -> Bool {
            !slot.flags.contains(.pending) && current &- slot.generation > keep
        }
        var evicted: [SeriesRef] = []
        var any = false
        for slot in slots where slot.high != 0 && evictable(slot) {
            any = true
            if !slot.flags.contains(.dropped) { evicted.append(slot.ref) }
        }
        if any { rebuild { !evictable($0) } }
        return evicted
    }

    /// The refs of every series in the cache (not those metric relabeling dropped, nor pending
    /// ones): what to release when the target goes away.
    public func allRefs() -> [SeriesRef] {
        var refs: [SeriesRef] = []
        for slot in slots where slot.high != 0 && slot.flags.isDisjoint(with: [.pending, .dropped]) {
            refs.append(slot.ref)
        }
        return refs
    }

    /// Heap bytes the cache holds (its one array).
    public var memoryBytes: Int { slots.capacity * MemoryLayout<Slot>.stride }

    // MARK: The table

    /// Linear probing in a power-of-two array, at most 3/4 full.
    private mutating func insert(_ slot: Slot) {
        if (count + 1) * 4 > slots.count * 3 {
            rebuild(capacity: max(16, slots.count * 2)) { _ in true }
        }
        Self.place(slot, in: &slots)
        count += 1
    }

    private static func place(_ slot: Slot, in slots: inout [Slot]) {
        slots.withUnsafeMutableBufferPointer { slots in
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: slot.low) & mask
            while slots[i].high != 0 {
                i = (i + 1) & mask
            }
            slots[i] = slot
        }
    }

    /// A new array with the entries that satisfy `keep`, at least twice as many slots as entries.
    private mutating func rebuild(capacity: Int? = nil, keeping keep: (Slot) -> Bool) {
        var kept = 0
        for slot in slots where slot.high != 0 && keep(slot) { kept += 1 }
        var size = 16
        while size < 2 * kept { size *= 2 }
        if let capacity { size = max(size, capacity) }
        var fresh = [Slot](repeating: Slot(), count: size)
        for slot in slots where slot.high != 0 && keep(slot) { Self.place(slot, in: &fresh) }
        slots = fresh
        count = kept
    }

    private mutating func rebuild(_ keep: (Slot) -> Bool) {
        rebuild(capacity: nil, keeping: keep)
    }

    /// Clears every entry's ``Flags/seen``.
    private mutating func clearSeen() {
        slots.withUnsafeMutableBufferPointer { slots in
            for i in slots.indices { slots[i].flags.remove(.seen) }
        }
    }
}
