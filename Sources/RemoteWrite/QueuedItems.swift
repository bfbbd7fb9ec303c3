import Model
import WAL

/// A sample read from the WAL on its way to the receiver: plain values, no reference to its
/// series (the sender looks the series up by `ref`, once per series per request). Queues,
/// batches and the encoder all take it as it is.
package struct QueuedSample: Sendable {
    package var ref: SeriesRef
    /// Milliseconds since the Unix epoch.
    package var timestamp: Int64
    /// The value, sent bit for bit (-0.0 and NaN payloads such as the staleness marker included).
    package var value: Double
    /// Where in the WAL it was read (for the endpoint's progress).
    package var place: Cursor

    package init(ref: SeriesRef, timestamp: Int64, value: Double, place: Cursor = Cursor(position: WALPosition(segment: 0, offset: 0))) {
        self.ref = ref
        self.timestamp = timestamp
        self.value = value
        self.place = place
    }
}

/// An exemplar read from the WAL on its way to the receiver (`send_exemplars: true`).
package struct QueuedExemplar: Sendable {
    package var ref: SeriesRef
    /// Milliseconds since the Unix epoch.
    package var timestamp: Int64
    /// The observed value, sent bit for bit.
    package var value: Double
    /// The exemplar's own labels, e.g. `trace_id`.
    package var labels: Labels
    package var place: Cursor

    package init(
        ref: SeriesRef, timestamp: Int64, value: Double, labels: Labels, place: Cursor = Cursor(position: WALPosition(segment: 0, offset: 0))
    ) {
        self.ref = ref
        self.timestamp = timestamp
        self.value = value
        self.labels = labels
        self.place = place
    }
}
