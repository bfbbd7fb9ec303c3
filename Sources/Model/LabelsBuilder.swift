/// Builds ``Labels`` from labels appended in any order, reusing its buffers from one label set
/// to the next (a parser keeps one per scrape and ``reset()``s it for every new series).
///
/// Names and values are copied into one scratch buffer as they are appended; a value may be
/// appended piecewise (``beginLabel(name:)`` then ``appendToValue(_:)``), so that a parser
/// unescapes straight into the builder. ``build()`` sorts by name (stable: of two labels with
/// the same name the later one wins), drops labels whose value is empty, and encodes.
public struct LabelsBuilder: Sendable {
    private struct Entry {
        var nameStart: Int
        var nameLength: Int
        var valueStart: Int
        var valueLength: Int
    }

    private var scratch: [UInt8] = []
    private var entries: [Entry] = []
    private var order: [Int] = []

    /// Allocates nothing until used (thousands of targets each hold one that may never build a
    /// label set); a reused builder keeps the capacity its largest set needed.
    public init() {}

    /// Forgets the labels appended so far, keeping the buffers.
    public mutating func reset() {
        scratch.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Appends a label.
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        beginLabel(name: name)
        appendToValue(value)
    }

    /// Appends a label.
    public mutating func append(_ name: String, _ value: String) {
        var name = name, value = value
        name.withUTF8 { n in value.withUTF8 { v in append(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v)) } }
    }

    /// Appends every label of `labels`.
    public mutating func append(_ labels: Labels) {
        labels.forEach { name, value in append(name: name, value: value) }
    }

    /// Starts a label whose value follows through ``appendToValue(_:)``.
    public mutating func beginLabel(name: UnsafeRawBufferPointer) {
        let nameStart = scratch.count
        Self.appendBytes(name, to: &scratch)
        entries.append(Entry(nameStart: nameStart, nameLength: name.count, valueStart: scratch.count, valueLength: 0))
    }

    /// Appends bytes to the value of the label begun last.
    public mutating func appendToValue(_ bytes: UnsafeRawBufferPointer) {
        precondition(!entries.isEmpty, "appendToValue before beginLabel")
        Self.appendBytes(bytes, to: &scratch)
        entries[entries.count - 1].valueLength += bytes.count
    }

    /// Appends one byte to the value of the label begun last.
    public mutating func appendToValue(byte: UInt8) {
        precondition(!entries.isEmpty, "appendToValue before beginLabel")
        scratch.append(byte)
        entries[entries.count - 1].valueLength += 1
    }

    /// The label set: sorted by name, the later of two equal names kept, empty values dropped.
    public mutating func build() -> Labels {
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: entries.indices)
        return scratch.withUnsafeBytes { s -> Labels in
            func name(_ i: Int) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: s[entries[i].nameStart..<(entries[i].nameStart + entries[i].nameLength)])
            }
            // Insertion sort: stable, and label sets usually arrive sorted or nearly so.
            if order.count > 1 {
                for i in 1..<order.count {
                    let current = order[i]
                    var j = i - 1
                    while j >= 0, Labels.precedes(name(current), name(order[j])) {
                        order[j + 1] = order[j]
                        j -= 1
                    }
                    order[j + 1] = current
                }
            }
            // Keep, in `order[..<count]`, the last entry of each run of equal names when its value
            // is not empty, and add up their encoded size.
            var size = 0
            var count = 0
            var k = 0
            while k < order.count {
                var last = k
                while last + 1 < order.count, name(order[last + 1]).elementsEqual(name(order[k])) { last += 1 }
                let e = entries[order[last]]
                if e.valueLength > 0 {
                    size += Self.encodedSize(e.nameLength) + Self.encodedSize(e.valueLength)
                    order[count] = order[last]
                    count += 1
                }
                k = last + 1
            }
            let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                var writer = LabelsWriter(UnsafeMutableRawBufferPointer(buffer))
                for i in order[..<count] {
                    let e = entries[i]
                    writer.write(
                        name: UnsafeRawBufferPointer(rebasing: s[e.nameStart..<(e.nameStart + e.nameLength)]),
                        value: UnsafeRawBufferPointer(rebasing: s[e.valueStart..<(e.valueStart + e.valueLength)]))
                }
                initialized = writer.offset
            }
            return Labels(trustedBytes: out, count: count)
        }
    }

    /// Bytes of a length-prefixed string of `length` bytes.
    @inlinable
    static func encodedSize(_ length: Int) -> Int {
        var n = 1
        var v = length >> 7
        while v > 0 {
            n += 1
            v >>= 7
        }
        return n + length
    }

    /// Appends one label, length-prefixed name then value, to `out`.
    @inlinable
    public static func encode(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let start = out.count
        let size = encodedSize(name.count) + encodedSize(value.count)
        out.append(contentsOf: repeatElement(0, count: size))
        out.withUnsafeMutableBytes { buffer in
            var writer = LabelsWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
            writer.write(name: name, value: value)
        }
    }

    /// Appends raw bytes to a byte array with one copy (`append(contentsOf:)` on an
    /// `UnsafeRawBufferPointer` copies byte by byte; on typed `UInt8` memory it copies at once).
    /// - Precondition: `bytes` is memory holding `UInt8`s (every buffer here is: array storage,
    ///   static strings, a scrape body).
    @inline(__always)
    static func appendBytes(_ bytes: UnsafeRawBufferPointer, to array: inout [UInt8]) {
        array.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }
}

/// Writes encoded labels (``Labels``' layout) into memory sized beforehand with
/// ``LabelsBuilder/encodedSize(_:)``: varints and copies, no bounds checks beyond debug builds.
@usableFromInline
struct LabelsWriter {
    @usableFromInline let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    @usableFromInline var offset = 0

    @inlinable
    init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    /// Writes one label, length-prefixed name then value.
    /// - Precondition: the buffer has room for it.
    @inlinable
    mutating func write(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        write(name)
        write(value)
    }

    @inlinable
    mutating func write(_ string: UnsafeRawBufferPointer) {
        var v = UInt(string.count)
        while v >= 0x80 {
            buffer[offset] = UInt8(truncatingIfNeeded: v) | 0x80
            offset += 1
            v >>= 7
        }
        buffer[offset] = UInt8(v)
        offset += 1
        let n = string.count
        assert(offset + n <= buffer.count, "LabelsWriter overflow")
        if n > 0, let base = buffer.baseAddress, let source = string.baseAddress {
            (base + offset).copyMemory(from: source, byteCount: n)
        }
        offset += n
    }
}
