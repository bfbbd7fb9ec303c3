import Model
import Synchronization

/// An endpoint's ``SeriesCache``, shared by its WAL watcher (the only writer) and its shard
/// senders (which look up each request's series in one locked call).
///
/// The watcher holds the lock for one record at a time (a samples record's lookups, or a chunk
/// of a series record), never across an `await`; a sender holds it while it copies the label
/// bytes of one request's series (no reference counting, nothing per sample), and
/// encodes after releasing it.
final class SharedSeriesCache: SeriesSource, Sendable {
    let mergedLabels: Labels
    private let cache: Mutex<SeriesCache>

    init(_ cache: SeriesCache) {
        mergedLabels = cache.mergedLabels
        self.cache = Mutex(cache)
    }

    /// Runs `body` with the cache locked.
    func withLock<R: Sendable>(_ body: (inout SeriesCache) -> R) -> R {
        cache.withLock { body(&$0) }
    }

    func resolve(_ refs: [SeriesRef], into series: inout ResolvedSeries) -> [MetricMetadata] {
        cache.withLock { $0.resolve(refs, into: &series) }
    }
}
