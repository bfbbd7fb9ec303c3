import Model

/// What a request needs of one of its series, as a ``SeriesSource`` keeps it.
package struct SeriesRow: Sendable {
    /// The series' labels as kept: for an endpoint without `write_relabel_configs` the WAL's own
    /// (the source's ``SeriesSource/mergedLabels`` are added when encoding); with write
    /// relabeling, the relabeled set as sent.
    package var labels: Labels
    /// The index of the series' family metadata among the families ``SeriesSource/resolve(_:into:)``
    /// returned; -1 when there is none.
    package var family: Int32

    package init(labels: Labels, family: Int32 = -1) {
        self.labels = labels
        self.family = family
    }
}

/// Where the encoder finds the series of a request's samples: looked up once per series per
/// request (not per sample), in one call, so that a source shared with the WAL watcher is
/// locked once per request.
package protocol SeriesSource {
    /// Labels every series is sent with unless it has a label of that name (the endpoint's
    /// external labels; empty when write relabeling has already applied them).
    var mergedLabels: Labels { get }

    /// Appends the row of each ref in `refs` to `rows`, in order; nil for a ref the source does
    /// not know. Returns the family metadata the rows' ``SeriesRow/family`` indexes refer to.
    func resolve(_ refs: [SeriesRef], into rows: inout [SeriesRow?]) -> [MetricMetadata]
}
