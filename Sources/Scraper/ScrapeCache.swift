#if canImport(Glibc)
import Glibc
#endif
import Exposition
import Model
import WAL

/// One target's memory of the series it exposes: the raw bytes of each series line
/// (`name{labels}`) mapped to its WAL ref. An unchanged line costs one hash and one byte
/// comparison per scrape: no label parsing, no String, no allocation.
///
/// It also knows which series each scrape saw, which gives duplicates within a scrape and the
/// series that vanished since the previous successful scrape (they get staleness markers).
public struct ScrapeCache: Sendable {
    struct Entry {
        var series: [UInt8]
        var ref: SeriesRef
        /// While >= 0, the entry is new in the running scrape and waits for its ref: the index of
        /// its series among the batch's new series.
        var pendingIndex: Int
        /// The attempt that last saw this series (duplicate detection).
        var attempt: UInt64
        /// The successful scrape (generation) that last saw this series.
        var generation: UInt64
        /// Exposed with an explicit timestamp in the scrape that last saw it.
        var explicitTimestamp: Bool
    }

    /// What a lookup found.
    enum Lookup: Equatable {
        case miss
        case hit(SeriesRef)
        /// Seen already in this scrape: a duplicate line.
        case duplicate
        /// New in this scrape, ref not yet known.
        case pending
    }

    /// The ref of series that `metric_relabel_configs` dropped: remembered so later scrapes skip
    /// them without relabeling again; never stored, never marked stale.
    static let droppedRef = SeriesRef.max

    private var buckets: [UInt64: [Entry]] = [:]
    /// Successful scrapes so far.
    public private(set) var generation: UInt64 = 0
    /// Scrape attempts so far.
    private(set) var attempt: UInt64 = 0
    private var pending: [UInt64] = []

    public init() {}

    /// The number of series remembered.
    public var count: Int { buckets.values.reduce(0) { $0 + $1.count } }

    /// Starts a scrape attempt.
    public mutating func beginAttempt() {
        attempt &+= 1
        pending.removeAll(keepingCapacity: true)
    }

    /// Looks `series` up, marking it seen by this attempt.
    mutating func lookup(_ series: UnsafeRawBufferPointer, hash: UInt64, explicitTimestamp: Bool) -> Lookup {
        guard let slot = buckets.index(forKey: hash),
            let index = buckets.values[slot].firstIndex(where: { Self.equal($0.series, series) })
        else { return .miss }
        // Mutated in place through the dictionary's storage: no copy of the bucket.
        if buckets.values[slot][index].attempt == attempt { return .duplicate }
        buckets.values[slot][index].attempt = attempt
        buckets.values[slot][index].explicitTimestamp = explicitTimestamp
        return buckets.values[slot][index].pendingIndex >= 0 ? .pending : .hit(buckets.values[slot][index].ref)
    }

    /// Adds a series new in this attempt, whose ref will be the batch's new series `index`.
    mutating func insertPending(_ series: UnsafeRawBufferPointer, hash: UInt64, index: Int, explicitTimestamp: Bool) {
        buckets[hash, default: []].append(
            Entry(series: Array(series), ref: 0, pendingIndex: index, attempt: attempt, generation: 0, explicitTimestamp: explicitTimestamp))
        pending.append(hash)
    }

    /// Remembers a series that metric relabeling dropped.
    mutating func insertDropped(_ series: UnsafeRawBufferPointer, hash: UInt64) {
        buckets[hash, default: []].append(
            Entry(series: Array(series), ref: Self.droppedRef, pendingIndex: -1, attempt: attempt, generation: 0, explicitTimestamp: false))
    }

    /// Ends a successful attempt: the series it saw move to a new generation; returns the refs of
    /// those seen in the previous generation but not now (staleness candidates), skipping
    /// explicitly timestamped ones unless `trackTimestamps`.
    public mutating func finishSuccessfulAttempt(trackTimestamps: Bool) -> [SeriesRef] {
        generation &+= 1
        var vanished: [SeriesRef] = []
        for slot in buckets.indices {
            for index in buckets.values[slot].indices {
                let entry = buckets.values[slot][index]
                if entry.attempt == attempt {
                    buckets.values[slot][index].generation = generation
                } else if entry.generation == generation &- 1, entry.pendingIndex < 0, entry.ref != Self.droppedRef,
                    trackTimestamps || !entry.explicitTimestamp
                {
                    vanished.append(entry.ref)
                }
            }
        }
        return vanished
    }

    /// Ends a failed attempt: forgets the series it added and returns the refs of every series of
    /// the last successful scrape (they all go stale), which then no longer count as "previous".
    mutating func finishFailedAttempt(trackTimestamps: Bool) -> [SeriesRef] {
        rollBackPending()
        let previous = allOfLastGeneration(trackTimestamps: trackTimestamps)
        generation &+= 1
        return previous
    }

    /// The refs of every series seen by the last successful scrape.
    func allOfLastGeneration(trackTimestamps: Bool) -> [SeriesRef] {
        guard generation > 0 else { return [] }
        var refs: [SeriesRef] = []
        for bucket in buckets.values {
            for entry in bucket
            where entry.generation == generation && entry.pendingIndex < 0 && entry.ref != Self.droppedRef
                && (trackTimestamps || !entry.explicitTimestamp)
            {
                refs.append(entry.ref)
            }
        }
        return refs
    }

    /// Gives the pending entries their refs, once the WAL assigned them.
    public mutating func resolvePending(refs: [SeriesRef]) {
        for hash in pending {
            guard let slot = buckets.index(forKey: hash) else { continue }
            for index in buckets.values[slot].indices {
                let pendingIndex = buckets.values[slot][index].pendingIndex
                if pendingIndex >= 0, pendingIndex < refs.count {
                    buckets.values[slot][index].ref = refs[pendingIndex]
                    buckets.values[slot][index].pendingIndex = -1
                }
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Forgets the entries the running attempt added (its batch was not stored).
    mutating func rollBackPending() {
        for hash in pending {
            buckets[hash]?.removeAll { $0.pendingIndex >= 0 }
            if buckets[hash]?.isEmpty == true { buckets[hash] = nil }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Forgets series not seen in the last `keepGenerations` scrapes, so a target's churning
    /// series do not accumulate. Returns the WAL refs of the series forgotten (they had their
    /// staleness marker when they vanished), for ``AppendBatch/release(ref:)``.
    @discardableResult
    mutating func evict(olderThan keepGenerations: UInt64) -> [SeriesRef] {
        guard generation > keepGenerations else { return [] }
        let cutoff = generation - keepGenerations
        var evicted: [SeriesRef] = []
        buckets = buckets.compactMapValues { bucket in
            let kept = bucket.filter { entry in
                if entry.generation >= cutoff || entry.pendingIndex >= 0 { return true }
                if entry.ref != Self.droppedRef { evicted.append(entry.ref) }
                return false
            }
            return kept.isEmpty ? nil : kept
        }
        return evicted
    }

    /// The refs of every series in the cache (not those metric relabeling dropped, nor pending
    /// ones): what to release when the target goes away.
    func allRefs() -> [SeriesRef] {
        var refs: [SeriesRef] = []
        for bucket in buckets.values {
            for entry in bucket where entry.pendingIndex < 0 && entry.ref != Self.droppedRef {
                refs.append(entry.ref)
            }
        }
        return refs
    }

    /// Byte equality with one `memcmp`.
    @inline(__always)
    static func equal(_ stored: [UInt8], _ series: UnsafeRawBufferPointer) -> Bool {
        guard stored.count == series.count else { return false }
        guard series.count > 0, let base = series.baseAddress else { return true }
        return stored.withUnsafeBytes { memcmp($0.baseAddress!, base, series.count) == 0 }
    }

    /// FNV-1a over the bytes: fast for the short keys series lines are.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}

/// One target's memory of the metric metadata (HELP, TYPE, UNIT) it sent to the WAL, so that a
/// scrape passes on only what is new or changed. It keeps a hash per entry sent, not the strings
/// (a few bytes per family and target).
///
/// The unchanged case costs one pass over the body's comment lines (a hash of every line that
/// starts with `#`) and one comparison; the families' metadata is only built when that hash
/// changed, or when a re-announcement is due (every ``reannounceInterval``, so that the WAL,
/// which forgets metadata nobody announces, keeps the target's).
public struct MetadataCache: Sendable {
    /// What the running scrape added to its batch, applied when the batch is committed.
    struct Staged {
        var fingerprint: UInt64
        /// Hashes of the entries added to the batch (of the family name, of the whole entry).
        var hashes: [(family: Int, record: Int)]
        /// Everything was announced (a re-announcement): the cache becomes exactly `hashes`.
        var full: Bool
        var time: ContinuousClock.Instant
    }

    var reannounceInterval: Duration = .seconds(10 * 60)

    public init() {}
    /// Hash of the entry last sent, by hash of its family name.
    private(set) var known: [Int: Int] = [:]
    private var fingerprint: UInt64?
    private var lastFullAnnouncement: ContinuousClock.Instant?
    private(set) var staged: Staged?

    /// Adds to `batch` the metadata of the scrape whose body is `body`: nothing when the body's
    /// comment lines did not change and no re-announcement is due; otherwise the families whose
    /// metadata (from `metadata`, called only then) is new or changed for this target, or all of
    /// them when a re-announcement is due. Returns the number of entries added.
    mutating func stage(
        body: UnsafeRawBufferPointer, now: ContinuousClock.Instant, metadata: () -> [MetricMetadata],
        into batch: inout AppendBatch
    ) -> Int {
        staged = nil
        let fp = Self.fingerprint(body)
        let due = lastFullAnnouncement.map { now - $0 >= reannounceInterval } ?? true
        guard due || fp != fingerprint else { return 0 }
        var hashes: [(family: Int, record: Int)] = []
        for record in metadata() {
            let family = record.family.hashValue, hash = record.hashValue
            if due || known[family] != hash {
                hashes.append((family, hash))
                batch.appendMetadata(record)
            }
        }
        staged = Staged(fingerprint: fp, hashes: hashes, full: due, time: now)
        return hashes.count
    }

    /// The batch holding the staged metadata was committed.
    public mutating func commitStaged() {
        guard let staged else { return }
        self.staged = nil
        fingerprint = staged.fingerprint
        if staged.full {
            known = Dictionary(staged.hashes, uniquingKeysWith: { $1 })
            lastFullAnnouncement = staged.time
        } else {
            for h in staged.hashes { known[h.family] = h.record }
        }
    }

    /// The batch was not committed (or the scrape failed): nothing counts as sent.
    mutating func dropStaged() {
        staged = nil
    }

    /// FNV-1a over every line of `body` that starts with `#` (HELP, TYPE, UNIT and other
    /// comments), found with `memchr`.
    static func fingerprint(_ body: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        guard let base = body.baseAddress, body.count > 0 else { return hash }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let count = body.count
        var i = 0
        while i < count {
            let end: Int
            if let newline = memchr(base + i, 0x0A, count - i) {
                end = base.distance(to: UnsafeRawPointer(newline))
            } else {
                end = count
            }
            if bytes[i] == UInt8(ascii: "#") {
                for j in i..<end {
                    hash ^= UInt64(bytes[j])
                    hash &*= 0x0000_0100_0000_01b3
                }
                hash ^= 0x0A
                hash &*= 0x0000_0100_0000_01b3
            }
            i = end + 1
        }
        return hash
    }
}
