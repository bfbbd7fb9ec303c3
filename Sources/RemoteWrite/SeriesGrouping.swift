import Model

/// Assigns the samples and exemplars of one request to groups, one per distinct series ref, in
/// order of first appearance, and lists each group's samples and exemplars in their order.
///
/// Refs are found through an open-addressing table that is reused between requests and reset by
/// bumping a generation stamp instead of clearing it.
struct SeriesGrouping {
    private var slotKeys: [SeriesRef] = []
    private var slotGroups: [Int32] = []
    private var slotStamps: [UInt32] = []
    private var stamp: UInt32 = 0
    private var shift = 64

    /// Per group: its series' ref.
    private(set) var refs: [SeriesRef] = []
    /// Per group: where its sample indexes start in `sampleOrder` (one more entry than groups).
    private var sampleStarts: [Int] = []
    private var exemplarStarts: [Int] = []
    private var sampleOrder: [Int] = []
    private var exemplarOrder: [Int] = []
    /// Per sample or exemplar: its group.
    private var sampleGroups: [Int32] = []
    private var exemplarGroups: [Int32] = []

    var count: Int { refs.count }

    func samples(of group: Int) -> ArraySlice<Int> { sampleOrder[sampleStarts[group]..<sampleStarts[group + 1]] }
    /// How many samples `group` has (no slice, unlike `samples(of:).count`).
    func sampleCount(of group: Int) -> Int { sampleStarts[group + 1] - sampleStarts[group] }
    func exemplars(of group: Int) -> ArraySlice<Int> { exemplarOrder[exemplarStarts[group]..<exemplarStarts[group + 1]] }

    mutating func group(samples: [QueuedSample], exemplars: [QueuedExemplar]) {
        prepareTable(for: samples.count + exemplars.count)
        refs.removeAll(keepingCapacity: true)
        sampleGroups.removeAll(keepingCapacity: true)
        exemplarGroups.removeAll(keepingCapacity: true)
        for sample in samples { sampleGroups.append(group(of: sample.ref)) }
        for exemplar in exemplars { exemplarGroups.append(group(of: exemplar.ref)) }
        Self.countingSort(sampleGroups, groups: refs.count, starts: &sampleStarts, order: &sampleOrder)
        Self.countingSort(exemplarGroups, groups: refs.count, starts: &exemplarStarts, order: &exemplarOrder)
    }

    /// A table of at least twice `items` slots, all empty.
    private mutating func prepareTable(for items: Int) {
        var capacity = 64
        while capacity < items * 2 { capacity *= 2 }
        if slotKeys.count < capacity {
            slotKeys = [SeriesRef](repeating: 0, count: capacity)
            slotGroups = [Int32](repeating: 0, count: capacity)
            slotStamps = [UInt32](repeating: 0, count: capacity)
            shift = 64 - capacity.trailingZeroBitCount
            stamp = 0
        }
        stamp &+= 1
        if stamp == 0 {
            for index in slotStamps.indices { slotStamps[index] = 0 }
            stamp = 1
        }
    }

    /// The group of `ref`, a new one when the ref is new in this request.
    @inline(__always) private mutating func group(of ref: SeriesRef) -> Int32 {
        let mask = slotKeys.count - 1
        var slot = Int(truncatingIfNeeded: (ref &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
        while slotStamps[slot] == stamp {
            if slotKeys[slot] == ref { return slotGroups[slot] }
            slot = (slot + 1) & mask
        }
        let group = Int32(refs.count)
        slotStamps[slot] = stamp
        slotKeys[slot] = ref
        slotGroups[slot] = group
        refs.append(ref)
        return group
    }

    /// Stable: each group's items keep their relative order.
    private static func countingSort(_ itemGroups: [Int32], groups: Int, starts: inout [Int], order: inout [Int]) {
        starts.removeAll(keepingCapacity: true)
        starts.append(contentsOf: repeatElement(0, count: groups + 1))
        for group in itemGroups { starts[Int(group) + 1] += 1 }
        for group in 0..<groups { starts[group + 1] += starts[group] }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: repeatElement(0, count: itemGroups.count))
        // `starts[g]` doubles as group g's fill cursor, then is restored from the next group's.
        for (index, group) in itemGroups.enumerated() {
            order[starts[Int(group)]] = index
            starts[Int(group)] += 1
        }
        for group in stride(from: groups, to: 0, by: -1) { starts[group] = starts[group - 1] }
        starts[0] = 0
    }
}
