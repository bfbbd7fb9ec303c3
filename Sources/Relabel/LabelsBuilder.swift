import Model

/// A label set being relabeled, shaped like Prometheus' `labels.Builder`: the original labels
/// stay untouched in `base`; changes are recorded in `added` (in insertion order) and `deleted`.
/// Keeping Prometheus' shape keeps its iteration order for `labelmap`, and the unchanged labels
/// are never copied when nothing changes.
struct LabelsBuilder {
    let base: Labels
    private(set) var added: [Label] = []
    private(set) var deleted: [String] = []

    init(_ base: Labels) {
        self.base = base
    }

    /// The current value of `name`, "" when absent.
    func get(_ name: String) -> String {
        for label in added where label.name == name { return label.value }
        if deleted.contains(name) { return "" }
        for label in base.pairs where label.name == name { return label.value }
        return ""
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    mutating func set(_ name: String, _ value: String) {
        if value.isEmpty {
            delete(name)
            return
        }
        if let index = added.firstIndex(where: { $0.name == name }) {
            added[index].value = value
        } else {
            added.append(Label(name, value))
        }
    }

    mutating func delete(_ name: String) {
        added.removeAll { $0.name == name }
        deleted.append(name)
    }

    /// The current labels in Prometheus' `Builder.Range` order: unchanged base labels (sorted),
    /// then added or changed ones in the order they were first set. A snapshot: later `set` and
    /// `delete` calls do not affect it.
    func snapshot() -> [Label] {
        var out: [Label] = []
        out.reserveCapacity(base.count + added.count)
        for label in base.pairs where !isOverridden(label.name) { out.append(label) }
        out.append(contentsOf: added)
        return out
    }

    /// The result; the original `Labels` value itself when nothing was changed.
    func labels() -> Labels {
        if added.isEmpty && deleted.isEmpty { return base }
        // Merge the (sorted) base with the sorted additions, so that `Labels.init` finds its
        // input already sorted.
        var additions = added
        if additions.count > 1 { additions.sort(by: Self.nameLess) }
        var pairs: [Label] = []
        pairs.reserveCapacity(base.count + additions.count)
        var next = 0
        for label in base.pairs where !isOverridden(label.name) {
            while next < additions.count, Self.nameLess(additions[next], label) {
                pairs.append(additions[next])
                next += 1
            }
            pairs.append(label)
        }
        pairs.append(contentsOf: additions[next...])
        return Labels(pairs)
    }

    /// Byte order of names, as `Labels` sorts.
    private static func nameLess(_ lhs: Label, _ rhs: Label) -> Bool {
        lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
    }

    private func isOverridden(_ name: String) -> Bool {
        deleted.contains(name) || added.contains { $0.name == name }
    }
}
