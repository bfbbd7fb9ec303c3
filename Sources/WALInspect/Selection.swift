import Model
import WAL

/// Which series and which times an inspection looks at: `--match`, `--from`, `--to`.
public struct Selection: Sendable {
    /// A series is selected when any selector matches it (none: every series).
    public var selectors: [SeriesSelector]
    /// Samples and exemplars with a timestamp (ms) below this are left out.
    public var from: Int64?
    /// Samples and exemplars with a timestamp (ms) above this are left out.
    public var to: Int64?

    /// A selection; the defaults select everything.
    public init(selectors: [SeriesSelector] = [], from: Int64? = nil, to: Int64? = nil) {
        self.selectors = selectors
        self.from = from
        self.to = to
    }

    /// Everything.
    public static let all = Selection()

    /// Whether any of the three filters is set.
    public var isFiltering: Bool { !selectors.isEmpty || from != nil || to != nil }

    /// Whether a series with these labels is selected.
    public func selects(_ labels: Labels) -> Bool {
        selectors.isEmpty || selectors.contains { $0.matches(labels) }
    }

    /// Whether a sample or exemplar at `timestamp` (ms) is in the time range.
    public func selects(timestamp: Int64) -> Bool {
        (from.map { timestamp >= $0 } ?? true) && (to.map { timestamp <= $0 } ?? true)
    }

    /// Whether a metadata entry for `family` is selected: with selectors, some selector's
    /// `__name__` matchers all accept the family name.
    public func selects(family: String) -> Bool {
        selectors.isEmpty || selectors.contains { $0.matchesFamily(family) }
    }
}

/// The labels of every ref met so far, and whether the selection selects it.
struct SeriesTable {
    private var entries: [SeriesRef: (labels: Labels, selected: Bool, rendered: String?)] = [:]
    let selection: Selection

    init(selection: Selection) {
        self.selection = selection
    }

    /// Records a series record's entry (a later entry for a ref replaces the earlier one) and
    /// returns whether it is selected.
    mutating func add(_ series: SeriesRecord) -> Bool {
        if let known = entries[series.ref], known.labels == series.labels { return known.selected }
        let selected = selection.selects(series.labels)
        entries[series.ref] = (series.labels, selected, nil)
        return selected
    }

    func labels(_ ref: SeriesRef) -> Labels? { entries[ref]?.labels }

    /// The labels of `ref` as `render` writes them, rendered once per series (nil for an unknown ref).
    mutating func rendered(_ ref: SeriesRef, _ render: (Labels) -> String) -> String? {
        guard let entry = entries[ref] else { return nil }
        if let rendered = entry.rendered { return rendered }
        let rendered = render(entry.labels)
        entries[ref]!.rendered = rendered
        return rendered
    }

    /// Whether samples of `ref` are selected. A ref no series record named is selected only when
    /// there are no selectors.
    func selects(_ ref: SeriesRef) -> Bool {
        entries[ref]?.selected ?? selection.selectors.isEmpty
    }
}
