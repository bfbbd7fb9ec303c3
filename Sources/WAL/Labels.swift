/// One label: a name and its value.
public struct Label: Sendable, Hashable, Comparable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public static func < (lhs: Label, rhs: Label) -> Bool {
        if lhs.name != rhs.name { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
        return lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}

/// A series' identity: a set of labels with unique names, kept sorted by name (byte order),
/// as Prometheus and the remote-write spec require. The metric name is the `__name__` label.
public struct Labels: Sendable, Hashable, CustomStringConvertible {
    /// The labels, sorted by name, names unique.
    public private(set) var pairs: [Label]

    /// Makes a label set from pairs in any order. A later pair with the same name wins;
    /// pairs with an empty value are dropped (an empty value means "no such label").
    public init(_ pairs: [Label]) {
        var sorted = pairs.filter { !$0.value.isEmpty }
        sorted.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        var unique: [Label] = []
        unique.reserveCapacity(sorted.count)
        for label in sorted {
            if let last = unique.last, last.name == label.name {
                unique[unique.count - 1] = label
            } else {
                unique.append(label)
            }
        }
        self.pairs = unique
    }

    public init(_ dictionary: KeyValuePairs<String, String>) {
        self.init(dictionary.map { Label($0.key, $0.value) })
    }

    public static let empty = Labels([])

    public var count: Int { pairs.count }

    /// The value of the label `name`, or nil.
    public subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// The metric name (`__name__`), or an empty string.
    public var metricName: String { self["__name__"] ?? "" }

    /// Returns a copy with `name` set to `value` (removed when `value` is empty).
    public func setting(_ name: String, to value: String) -> Labels {
        var copy = pairs.filter { $0.name != name }
        if !value.isEmpty { copy.append(Label(name, value)) }
        return Labels(copy)
    }

    /// Returns a copy with every label of `other` added where this set has no label of that name.
    public func addingMissing(from other: Labels) -> Labels {
        var copy = pairs
        for label in other.pairs where self[label.name] == nil {
            copy.append(label)
        }
        return Labels(copy)
    }

    /// `name{a="1", b="2"}` as Prometheus prints a series.
    public var description: String {
        let rest = pairs.filter { $0.name != "__name__" }
            .map { "\($0.name)=\"\(Self.escape($0.value))\"" }
            .joined(separator: ", ")
        return "\(metricName){\(rest)}"
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
