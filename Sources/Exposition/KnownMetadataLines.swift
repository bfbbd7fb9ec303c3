import Model

/// The `# HELP` and `# TYPE` lines of the text format that a target exposed before and the
/// parser validated, kept so that the same line in a later body is not validated again: a
/// 128-bit hash of the line's bytes (from `#` to its newline; ``TextHash``) mapped to what the
/// line says (its family name, type or HELP text, as offsets into the line), in one flat
/// open-addressing table (40 bytes a slot, at most half full).
///
/// Invariant: a line's entry is what validating exactly those bytes gave (whether a line is
/// valid, and what it declares, depends on its bytes alone), so using it instead of validating
/// changes nothing but the cost. A line is only looked up when it ends with a newline; only
/// lines that validated are entered. Collisions: as for the scrape cache's keys (two
/// independent 64-bit hashes with per-table random seeds), negligible.
///
/// A ``TextParser`` takes the table (``TextParser/init(_:format:knownMetadataLines:)``), adds the
/// lines it validates, and gives it back (``TextParser/takeKnownMetadataLines()``). It is
/// emptied when it holds more than twice the lines of the last body (plus a few), so a target
/// whose HELP texts keep changing does not grow it without bound.
public struct KnownMetadataLines: Sendable {
    /// A line's hash; `a` is never 0 (its top bit is set: 0 marks an empty slot).
    struct Key: Equatable {
        var a: UInt64
        var b: UInt64
    }

    /// What a valid line declares; offsets from its `#`.
    struct Shape {
        var nameStart: Int32
        var nameEnd: Int32
        var textStart: Int32
        var textEnd: Int32
        /// nil for a HELP line.
        var type: MetricType?
    }

    /// One line; `key.a == 0` marks an empty slot.
    struct Slot {
        var key = Key(a: 0, b: 0)
        var shape = Shape(nameStart: 0, nameEnd: 0, textStart: 0, textEnd: 0, type: nil)
    }

    /// Linear probing in a power-of-two array, at most half full.
    private var slots: [Slot] = []
    /// Lines known.
    public private(set) var count = 0
    private let seeds: (UInt64, UInt64)

    public init() {
        var random = SystemRandomNumberGenerator()
        seeds = (random.next(), random.next())
    }

    @inline(__always)
    func key(_ line: UnsafeRawBufferPointer) -> Key {
        let (a, b) = TextHash.hash128(line, seeds.0, seeds.1)
        return Key(a: a | 1 << 63, b: b)
    }

    @inline(__always)
    func shape(_ key: Key) -> Shape? {
        guard count > 0 else { return nil }
        return slots.withUnsafeBufferPointer { slots -> Shape? in
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: key.b) & mask
            while true {
                let a = slots[i].key.a
                if a == key.a && slots[i].key.b == key.b { return slots[i].shape }
                if a == 0 { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// Enters a line.
    /// - Precondition: `key` is not in the table.
    mutating func insert(_ key: Key, _ shape: Shape) {
        if (count + 1) * 2 > slots.count {
            let old = slots
            slots = [Slot](repeating: Slot(), count: max(64, slots.count * 2))
            for slot in old where slot.key.a != 0 { Self.place(slot, in: &slots) }
        }
        Self.place(Slot(key: key, shape: shape), in: &slots)
        count += 1
    }

    private static func place(_ slot: Slot, in slots: inout [Slot]) {
        slots.withUnsafeMutableBufferPointer { slots in
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: slot.key.b) & mask
            while slots[i].key.a != 0 { i = (i + 1) & mask }
            slots[i] = slot
        }
    }

    /// Empties the table when it holds more than twice the `linesInLastBody` (plus 64).
    mutating func bound(linesInLastBody: Int) {
        if count > 2 * linesInLastBody + 64 {
            slots = []
            count = 0
        }
    }
}
