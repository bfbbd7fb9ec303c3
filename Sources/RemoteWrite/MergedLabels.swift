#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Model

/// Walks a label encoding (``Labels``' layout: per label `uvarint(len) name uvarint(len) value`)
/// through a raw pointer, for the encoder's per-label loops. Stops (nil) at the end, or at a
/// length that runs past the end, so malformed bytes are never read beyond the buffer.
struct RawLabelsReader {
    private var cursor: UnsafeRawPointer
    private let end: UnsafeRawPointer

    @inline(__always) init(_ buffer: UnsafeRawBufferPointer) {
        // An empty buffer may have no base address: walk an empty range instead.
        let base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        cursor = base
        end = base + buffer.count
    }

    @inline(__always) mutating func next() -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        guard cursor < end, let name = string(), let value = string() else { return nil }
        return (name, value)
    }

    @inline(__always) private mutating func string() -> UnsafeRawBufferPointer? {
        guard cursor < end else { return nil }
        var length = Int(cursor.load(as: UInt8.self))
        cursor += 1
        if length >= 0x80 {
            // Two or more bytes: rare (names and values of 128 bytes and more).
            length &= 0x7F
            var shift = 7
            while true {
                guard cursor < end, shift < 63 else { return nil }
                let byte = cursor.load(as: UInt8.self)
                cursor += 1
                length |= Int(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
        }
        guard length <= end - cursor else {
            cursor = end
            return nil
        }
        defer { cursor += length }
        return UnsafeRawBufferPointer(start: cursor, count: length)
    }
}

/// The labels of a series merged, in name order, with labels that every series of an endpoint
/// gets (its external labels), read straight from both encodings (``Labels``' layout) without
/// copying: where both have a label of the same name, the series' own wins.
///
/// Both inputs must be sorted by name with unique names (``Labels``' invariants); the output is
/// then sorted with unique names too. The buffers passed to the body point into the inputs.
enum MergedLabels {
    /// Calls `body` with each label of `own` merged with `extra`, in name order. Once `extra`
    /// is used up (after its last name, for most series after the first few of their own) the
    /// loop only reads `own`.
    @inline(__always) static func forEach(
        _ own: UnsafeRawBufferPointer, _ extra: UnsafeRawBufferPointer,
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void
    ) {
        var mine = RawLabelsReader(own)
        var theirs = RawLabelsReader(extra)
        var pending = theirs.next()
        while let (name, value) = mine.next() {
            while let (otherName, otherValue) = pending {
                let order = compare(otherName, name)
                if order > 0 { break }
                // Before the series' label: theirs comes first; the same name: the series' wins.
                if order < 0 { body(otherName, otherValue) }
                pending = theirs.next()
            }
            body(name, value)
        }
        while let (otherName, otherValue) = pending {
            body(otherName, otherValue)
            pending = theirs.next()
        }
    }

    /// Byte order of two names (as Go compares strings): negative, zero or positive.
    @inline(__always) static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        if common > 0 {
            // Names mostly differ in their first byte: no call for those.
            let x = a.baseAddress!.load(as: UInt8.self), y = b.baseAddress!.load(as: UInt8.self)
            if x != y { return Int(x) - Int(y) }
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }
}
