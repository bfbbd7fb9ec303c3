import WAL

/// Maps the raw bytes of a series as a target exposes it (`name{labels}`) to its WAL ref, so an
/// unchanged series line costs one hash and one comparison per scrape: no label parsing, no
/// String, no allocation.
struct ScrapeCache {
    private struct Entry {
        var series: [UInt8]
        var ref: SeriesRef
        /// The scrape generation that last saw this entry; used to forget vanished series.
        var lastSeen: UInt64
    }

    private var entries: [UInt64: [Entry]] = [:]
    private(set) var generation: UInt64 = 0

    var count: Int { entries.values.reduce(0) { $0 + $1.count } }

    mutating func beginScrape() { generation &+= 1 }

    /// The ref cached for `series`, marking it seen in this scrape.
    mutating func ref(for series: UnsafeRawBufferPointer, hash: UInt64) -> SeriesRef? {
        guard let slot = entries.index(forKey: hash),
            let index = entries.values[slot].firstIndex(where: { $0.series.elementsEqual(series) })
        else { return nil }
        // Mutated in place through the dictionary's storage: no copy of the bucket.
        entries.values[slot][index].lastSeen = generation
        return entries.values[slot][index].ref
    }

    mutating func insert(_ series: UnsafeRawBufferPointer, hash: UInt64, ref: SeriesRef) {
        entries[hash, default: []].append(Entry(series: Array(series), ref: ref, lastSeen: generation))
    }

    /// Forgets series not seen in the last `keepGenerations` scrapes, so a target's churning
    /// series do not accumulate.
    mutating func evict(olderThan keepGenerations: UInt64) {
        guard generation > keepGenerations else { return }
        let cutoff = generation - keepGenerations
        entries = entries.compactMapValues { bucket in
            let kept = bucket.filter { $0.lastSeen >= cutoff }
            return kept.isEmpty ? nil : kept
        }
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
