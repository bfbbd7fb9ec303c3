import Yams

/// Small readers and builders over Yams nodes, for walking the input and writing the output.
extension Node {
    /// The mapping's entries with string keys, in order; nil when the node is not a mapping.
    var entries: [(key: String, keyNode: Node, value: Node)]? {
        guard let mapping else { return nil }
        return mapping.compactMap { pair in pair.key.scalar.map { (key: $0.string, keyNode: pair.key, value: pair.value) } }
    }

    /// A plain `null` / `~` / empty scalar.
    var isNull: Bool {
        if case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any,
            ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        {
            return true
        }
        return false
    }

    /// The scalar's boolean value as YAML 1.1 reads it (`true`, `false`, `yes`, …).
    var boolValue: Bool? { scalar.flatMap { Bool.construct(from: $0) } }

    /// The same tree without anchors or marks, so that it can be emitted anywhere, any number
    /// of times (an anchored node emitted twice would define its anchor twice).
    var detached: Node {
        switch self {
        case .scalar(let scalar): return .scalar(.init(scalar.string, scalar.tag, scalar.style))
        case .mapping(let mapping): return .mapping(.init(mapping.map { ($0.key.detached, $0.value.detached) }, mapping.tag, mapping.style))
        case .sequence(let sequence): return .sequence(.init(sequence.map(\.detached), sequence.tag, sequence.style))
        case .alias: return self
        }
    }

    /// A string scalar written so that it reads back as a string (quoted when a plain scalar
    /// would read as a number, a boolean or null).
    static func text(_ string: String) -> Node {
        let readsAsString = !string.isEmpty && Resolver.default.resolveTag(of: Node(string)) == .str
        return .scalar(.init(string, Tag(.implicit), readsAsString ? .any : .singleQuoted))
    }

    /// A mapping of string keys, in the given order.
    static func map(_ pairs: [(String, Node)]) -> Node {
        .mapping(.init(pairs.map { (Node.text($0.0), $0.1) }))
    }

    /// A copy of this mapping with `value` under `key`: replacing the entry in place when the key
    /// is there, appended otherwise.
    func setting(_ key: String, to value: Node) -> Node {
        guard case .mapping(let mapping) = self else { return self }
        var pairs = mapping.map { ($0.key, $0.value) }
        if let index = pairs.firstIndex(where: { $0.0.scalar?.string == key }) {
            pairs[index].1 = value
        } else {
            pairs.append((Node.text(key), value))
        }
        return .mapping(.init(pairs, mapping.tag, mapping.style))
    }

    /// A copy of this mapping whose list under `key` has `before` prepended and `after` appended
    /// (an absent or null list counts as empty).
    func extendingList(_ key: String, before: [Node] = [], after: [Node] = []) -> Node {
        let existing = self[key].flatMap { $0.isNull ? [] : $0.sequence.map(Array.init) } ?? []
        return setting(key, to: Node(before + existing + after))
    }
}
