/// One label: a name and its value, as Strings. For configuration, tests and messages; the hot
/// path works on ``Labels``' bytes.
public struct Label: Sendable, Hashable, Comparable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Byte order of names, then of values (Prometheus's order).
    public static func < (lhs: Label, rhs: Label) -> Bool {
        if lhs.name != rhs.name { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
        return lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}

/// A series' identity: labels with unique names and non-empty values, sorted by name in byte
/// order (as Prometheus and the remote-write spec require), kept as one contiguous byte buffer.
///
/// The buffer holds, for each label in order, `uvarint(len(name)) name uvarint(len(value))
/// value`: Prometheus's `stringlabels` layout, and exactly the labels part of a WAL series
/// record, so a series is written to and read from the WAL without conversion. One allocation
/// per label set; copies share it (copy-on-write). Equality is a byte comparison, hashing one
/// pass over the bytes.
///
/// Invariants (checked when built from pairs or from untrusted bytes): names are sorted
/// strictly ascending (no duplicates), every value is non-empty. An empty value means "no such
/// label" everywhere in Prometheus, so setting one removes the label.
public struct Labels: Sendable, Hashable, CustomStringConvertible {
    /// The encoded labels (see the type's documentation).
    public private(set) var bytes: [UInt8]
    /// The number of labels.
    public private(set) var count: Int

    /// The empty label set.
    public static let empty = Labels(trustedBytes: [], count: 0)

    /// Wraps bytes known to be a valid encoding of `count` labels (the builder's output, or a
    /// copy of another `Labels`' bytes). Not checked.
    public init(trustedBytes bytes: [UInt8], count: Int) {
        self.bytes = bytes
        self.count = count
    }

    /// Validates `bytes` (well-formed lengths, names strictly ascending, values non-empty);
    /// nil when they are not a valid encoding.
    public init?(validating bytes: [UInt8]) {
        var count = 0
        let valid = bytes.withUnsafeBytes { buffer -> Bool in
            var reader = LabelsReader(buffer)
            var previous: UnsafeRawBufferPointer?
            while !reader.isAtEnd {
                guard let (name, value) = reader.next(), !name.isEmpty, !value.isEmpty else { return false }
                if let previous, !Labels.precedes(previous, name) { return false }
                previous = name
                count += 1
            }
            return true
        }
        guard valid else { return nil }
        self.init(trustedBytes: bytes, count: count)
    }

    /// Makes a label set from pairs in any order. A later pair with the same name wins; pairs
    /// with an empty value are dropped.
    public init(_ pairs: [Label]) {
        var builder = LabelsBuilder()
        for pair in pairs { builder.append(pair.name, pair.value) }
        self = builder.build()
    }

    public init(_ dictionary: KeyValuePairs<String, String>) {
        self.init(dictionary.map { Label($0.key, $0.value) })
    }

    // MARK: Reading

    /// Calls `body` with each label's name and value bytes, in order. The buffers are valid
    /// only during the call.
    @inlinable
    public func forEach(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { buffer in
            var reader = LabelsReader(buffer)
            while let (name, value) = reader.next() { try body(name, value) }
        }
    }

    /// The labels as Strings (allocates: not for the hot path).
    public var pairs: [Label] {
        var out: [Label] = []
        out.reserveCapacity(count)
        forEach { name, value in out.append(Label(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))) }
        return out
    }

    /// The value of the label `name`, or nil.
    public subscript(name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            withValue(of: UnsafeRawBufferPointer(wanted)) { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
    }

    /// Calls `body` with the value bytes of the label named `name` (nil when there is none).
    public func withValue<R>(of name: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { buffer in
            var reader = LabelsReader(buffer)
            while let (label, value) = reader.next() {
                if label.elementsEqual(name) { return try body(value) }
            }
            return try body(nil)
        }
    }

    /// Whether a label named `name` exists.
    public func contains(name: String) -> Bool { self[name] != nil }

    /// The metric name (`__name__`), or an empty string.
    public var metricName: String { self["__name__"] ?? "" }

    /// Bytes of the encoding the label set takes beyond the struct itself (for memory estimates).
    public var byteCount: Int { bytes.count }

    // MARK: Changing

    /// A copy with `name` set to `value` (removed when `value` is empty).
    public func setting(_ name: String, to value: String) -> Labels {
        var builder = LabelsBuilder()
        builder.append(self)
        builder.append(name, value)
        return builder.build()
    }

    /// The labels whose name `isIncluded` accepts, on bytes (a subset of a sorted set is sorted).
    public func filter(_ isIncluded: (_ name: UnsafeRawBufferPointer) -> Bool) -> Labels {
        var size = 0, kept = 0
        forEach { name, value in
            guard isIncluded(name) else { return }
            size += LabelsBuilder.encodedSize(name.count) + LabelsBuilder.encodedSize(value.count)
            kept += 1
        }
        if kept == count { return self }
        let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var writer = LabelsWriter(UnsafeMutableRawBufferPointer(buffer))
            forEach { name, value in if isIncluded(name) { writer.write(name: name, value: value) } }
            initialized = writer.offset
        }
        return Labels(trustedBytes: out, count: kept)
    }

    /// A copy with every label of `other` added where this set has no label of that name (a
    /// sorted merge; this set's labels win).
    public func addingMissing(from other: Labels) -> Labels {
        if other.count == 0 { return self }
        if count == 0 { return other }
        return bytes.withUnsafeBytes { mine in
            other.bytes.withUnsafeBytes { theirs in
                // Two walks of the same merge: the first sizes the result, the second writes it.
                var size = 0, merged = 0
                Self.merge(mine, theirs) { name, value in
                    size += LabelsBuilder.encodedSize(name.count) + LabelsBuilder.encodedSize(value.count)
                    merged += 1
                }
                let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                    var writer = LabelsWriter(UnsafeMutableRawBufferPointer(buffer))
                    Self.merge(mine, theirs) { name, value in writer.write(name: name, value: value) }
                    initialized = writer.offset
                }
                return Labels(trustedBytes: out, count: merged)
            }
        }
    }

    /// Calls `body` with the labels of two encoded sets merged in name order; of two labels with
    /// the same name, only `a`'s.
    @inline(__always)
    private static func merge(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer,
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void
    ) {
        var ra = LabelsReader(a), rb = LabelsReader(b)
        var x = ra.next(), y = rb.next()
        while x != nil || y != nil {
            if let (an, av) = x, let (bn, bv) = y {
                if Labels.precedes(bn, an) {
                    body(bn, bv)
                    y = rb.next()
                } else {
                    body(an, av)
                    if an.elementsEqual(bn) { y = rb.next() }
                    x = ra.next()
                }
            } else if let (an, av) = x {
                body(an, av)
                x = ra.next()
            } else if let (bn, bv) = y {
                body(bn, bv)
                y = rb.next()
            }
        }
    }

    // MARK: Hashing and order

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: Labels, rhs: Labels) -> Bool {
        lhs.count == rhs.count && lhs.bytes == rhs.bytes
    }

    /// A 64-bit hash of the bytes that is the same in every process (``ByteHash``): for tables
    /// of our own and for sharding, never for security.
    public var stableHash: UInt64 {
        bytes.withUnsafeBytes { ByteHash.hash64($0) }
    }

    /// Byte order of two names (Prometheus compares label names as Go strings).
    @inlinable
    public static func precedes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.lexicographicallyPrecedes(b)
    }

    // MARK: Printing

    /// `name{a="1", b="2"}` as Prometheus prints a series.
    public var description: String {
        var rest: [String] = []
        var name = ""
        forEach { n, v in
            let label = String(decoding: n, as: UTF8.self)
            let value = String(decoding: v, as: UTF8.self)
            if label == "__name__" {
                name = value
            } else {
                rest.append("\(label)=\"\(Self.escape(value))\"")
            }
        }
        return "\(name){\(rest.joined(separator: ", "))}"
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}

/// Walks an encoded label set (``Labels``' layout). Stops, returning nil, at the end or at
/// malformed bytes (a length that runs past the end).
public struct LabelsReader {
    @usableFromInline let buffer: UnsafeRawBufferPointer
    @usableFromInline var offset = 0

    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    @inlinable
    public var isAtEnd: Bool { offset >= buffer.count }

    @inlinable
    public mutating func next() -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        guard let name = string(), let value = string() else { return nil }
        return (name, value)
    }

    @inlinable
    mutating func string() -> UnsafeRawBufferPointer? {
        var length = 0
        var shift = 0
        while true {
            guard offset < buffer.count, shift < 63 else { return nil }
            let byte = buffer[offset]
            offset += 1
            length |= Int(byte & 0x7f) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        guard length <= buffer.count - offset else { return nil }
        defer { offset += length }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + length)])
    }
}
