#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Model

/// The labels of a series merged, in name order, with labels that every series of an endpoint
/// gets (its external labels), read straight from both encodings (``Labels``' layout) without
/// copying: where both have a label of the same name, the series' own wins.
///
/// Both inputs must be valid encodings, sorted by name with unique names (``Labels``'
/// invariants); the output is then sorted with unique names too. The buffers returned point
/// into the inputs and are valid as long as they are.
struct MergedLabels {
    private var own: LabelsReader
    private var extra: LabelsReader
    private var nextOwn: (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)?
    private var nextExtra: (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)?

    @inline(__always) init(_ own: UnsafeRawBufferPointer, _ extra: UnsafeRawBufferPointer) {
        self.own = LabelsReader(own)
        self.extra = LabelsReader(extra)
        nextOwn = self.own.next()
        nextExtra = extra.isEmpty ? nil : self.extra.next()
    }

    @inline(__always) mutating func next() -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        guard let mine = nextOwn else {
            defer { if nextExtra != nil { nextExtra = extra.next() } }
            return nextExtra
        }
        if let theirs = nextExtra {
            let order = Self.compare(theirs.name, mine.name)
            if order < 0 {
                nextExtra = extra.next()
                return theirs
            }
            if order == 0 { nextExtra = extra.next() }
        }
        nextOwn = own.next()
        return mine
    }

    /// Byte order of two names (as Go compares strings): negative, zero or positive.
    @inline(__always) static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        if common > 0 {
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }
}
