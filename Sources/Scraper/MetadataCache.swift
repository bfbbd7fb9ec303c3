import Exposition
import Model
import WAL

/// One target's memory of the metric metadata (HELP, TYPE, UNIT) it sent to the WAL, so that a
/// scrape passes on only what is new or changed. It keeps a hash per entry sent, not the strings
/// (a few bytes per family and target).
///
/// The unchanged case costs one comparison of the parser's hash of the HELP/TYPE/UNIT lines;
/// the families' metadata is only built when that hash changed, or when a re-announcement is
/// due (every ``reannounceInterval``, so that the WAL, which forgets metadata nobody announces,
/// keeps the target's).
public struct MetadataCache: Sendable {
    /// What the running scrape added to its batch, applied when the batch is committed.
    struct Staged {
        var fingerprint: UInt64
        /// Hashes of the entries added to the batch (of the family name, of the whole entry).
        var hashes: [(family: Int, record: Int)]
        /// Everything was announced (a re-announcement): the cache becomes exactly `hashes`.
        var full: Bool
        var time: ContinuousClock.Instant
    }

    var reannounceInterval: Duration = .seconds(10 * 60)
    /// Hash of the entry last sent, by hash of its family name.
    private(set) var known: [Int: Int] = [:]
    private var fingerprint: UInt64?
    private var lastFullAnnouncement: ContinuousClock.Instant?
    private(set) var staged: Staged?
    /// The target's HELP and TYPE lines validated in earlier scrapes (a hash per line), so the
    /// parser does not validate an unchanged line again. Lent to each scrape's parser.
    /// nil before the first scrape and while a parser holds it.
    var knownLines: KnownMetadataLines?

    /// ``knownLines``, leaving nil in its place (so the parser holds the only copy).
    mutating func takeKnownLines() -> KnownMetadataLines {
        defer { knownLines = nil }
        return knownLines ?? KnownMetadataLines()
    }

    public init() {}

    /// Adds to `batch` the metadata of a scrape whose HELP/TYPE/UNIT lines hash to `fingerprint`
    /// (``TextParser/metadataFingerprint``): nothing when they did not change and no
    /// re-announcement is due; otherwise the families whose metadata (from `metadata`, called
    /// only then) is new or changed for this target, or all of them when a re-announcement is
    /// due. Returns the number of entries added.
    mutating func stage(
        fingerprint fp: UInt64, now: ContinuousClock.Instant, metadata: () -> [MetricMetadata], into batch: inout AppendBatch
    ) -> Int {
        staged = nil
        let due = lastFullAnnouncement.map { now - $0 >= reannounceInterval } ?? true
        guard due || fp != fingerprint else { return 0 }
        var hashes: [(family: Int, record: Int)] = []
        for record in metadata() {
            let family = record.family.hashValue, hash = record.hashValue
            if due || known[family] != hash {
                hashes.append((family, hash))
                batch.appendMetadata(record)
            }
        }
        staged = Staged(fingerprint: fp, hashes: hashes, full: due, time: now)
        return hashes.count
    }

    /// The batch holding the staged metadata was committed.
    public mutating func commitStaged() {
        guard let staged else { return }
        self.staged = nil
        fingerprint = staged.fingerprint
        if staged.full {
            known = Dictionary(staged.hashes, uniquingKeysWith: { $1 })
            lastFullAnnouncement = staged.time
        } else {
            for h in staged.hashes { known[h.family] = h.record }
        }
    }

    /// The batch was not committed (or the scrape failed): nothing counts as sent.
    mutating func dropStaged() {
        staged = nil
    }
}
