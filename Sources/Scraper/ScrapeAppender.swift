import AgentConfig
import Exposition
import Model
import Relabel
import WAL

/// One target's scrape path from body bytes to an ``AppendBatch``: the parser, the target's
/// labels (`honor_labels`), `metric_relabel_configs`, the label and sample limits, the scrape
/// cache and the metadata cache. No I/O: ``ScrapeLoop`` fetches the body and commits the batch;
/// benchmarks and tests drive it directly.
public struct ScrapeAppender: Sendable {
    /// What one scrape body gave.
    public struct Counts: Sendable, Equatable {
        /// Sample lines in the body.
        public var scraped = 0
        /// Samples added to the batch (after metric relabeling and duplicates).
        public var appended = 0
        /// Samples added with their labels (series not in the cache).
        public var seriesAdded = 0
        /// Lines of a series already seen in the same body, dropped.
        public var duplicates = 0
        /// Exemplars dropped as invalid (their samples are kept).
        public var exemplarsDropped = 0
        /// Metadata entries added to the batch.
        public var metadata = 0

        public init() {}
    }

    public let target: Target
    /// Reused for the labels of each new series (no allocation per series but the result's).
    private var builder = LabelsBuilder()

    public init(target: Target) {
        self.target = target
    }

    /// Parses `body` and adds each sample to `batch`: by ref when the series text is cached,
    /// otherwise with its full label set (the WAL assigns the ref at commit). Enforces the
    /// scrape config's limits by throwing, which fails the whole scrape. Adds the metadata that
    /// is new or changed for the target (or due for re-announcing).
    ///
    /// A cached series text is not validated again (it was when first seen, and validity is a
    /// property of its bytes and the format, both part of the cache key); the rest of every
    /// line (value, timestamp, exemplar) always is.
    public mutating func append(
        body: [UInt8], format: ExpositionFormat, timestamp: Int64, now: ContinuousClock.Instant, cache: inout ScrapeCache,
        metadata: inout MetadataCache, to batch: inout AppendBatch
    ) throws -> Counts {
        var parser = TextParser(body, format: format, knownMetadataLines: metadata.takeKnownLines())
        defer { metadata.knownLines = parser.takeKnownMetadataLines() }
        var counts = Counts()
        let honorTimestamps = target.config.honorTimestamps
        let limits = target.config.limits
        let metricRelabelConfigs = target.config.metricRelabelConfigs
        try body.withUnsafeBytes { bytes in
            while let range = try parser.nextSeries() {
                counts.scraped += 1
                let key = cache.key(UnsafeRawBufferPointer(rebasing: bytes[range]), format: format)
                let slot = cache.find(key)
                let sample = try parser.finishSample(seriesIsKnownValid: slot != nil)
                let explicit = honorTimestamps && sample.timestamp != nil
                let sampleTime = explicit ? sample.timestamp! : timestamp
                let seriesRef: SeriesRef?
                let newSeriesIndex: Int?
                if let slot {
                    switch cache.markSeen(slot, explicitTimestamp: explicit) {
                    case .hit(let ref):
                        batch.append(ref: ref, timestamp: sampleTime, value: sample.value)
                        (seriesRef, newSeriesIndex) = (ref, nil)
                    case .dropped:
                        continue
                    case .duplicate, .miss:
                        counts.duplicates += 1
                        continue
                    }
                } else {
                    builder.reset()
                    try parser.labels(of: sample, into: &builder)
                    let merged = target.seriesLabels(exposed: builder.build())
                    guard let labels = Relabeler.process(merged, with: metricRelabelConfigs) else {
                        cache.insertDropped(key)
                        continue
                    }
                    try Self.check(labels, against: limits)
                    try Self.checkNames(labels, under: target.config.nameSchemes.validation)
                    let index = batch.append(labels: labels, timestamp: sampleTime, value: sample.value)
                    cache.insertPending(key, index: index, explicitTimestamp: explicit)
                    counts.seriesAdded += 1
                    (seriesRef, newSeriesIndex) = (nil, index)
                }
                counts.appended += 1
                if sample.exemplar != nil {
                    // Kept in the WAL for remote write; one Prometheus would reject (labels over
                    // 128 characters) is dropped and counted, the sample stays.
                    guard let exemplar = try? parser.exemplar(of: sample) else {
                        counts.exemplarsDropped += 1
                        continue
                    }
                    let time = exemplar.timestamp ?? sampleTime
                    if let seriesRef {
                        batch.appendExemplar(ref: seriesRef, timestamp: time, value: exemplar.value, labels: exemplar.labels)
                    } else if let newSeriesIndex {
                        batch.appendExemplar(newSeries: newSeriesIndex, timestamp: time, value: exemplar.value, labels: exemplar.labels)
                    }
                }
            }
        }
        if limits.sampleLimit > 0, counts.appended > limits.sampleLimit {
            throw ScrapeFailure("sample limit exceeded: \(counts.appended) samples, limit \(limits.sampleLimit)")
        }
        // HELP/TYPE/UNIT: only what is new or changed for this target (or due for re-announcing).
        counts.metadata = metadata.stage(fingerprint: parser.metadataFingerprint, now: now, metadata: { parser.metadata }, into: &batch)
        return counts
    }

    /// Prometheus's label limits, checked on the series' final labels (lengths in bytes, as Go's
    /// `len`); Strings are made only for the error message.
    static func check(_ labels: Labels, against limits: ScrapeLimits) throws {
        if limits.labelLimit > 0, labels.count > limits.labelLimit {
            throw ScrapeFailure("label_limit exceeded (metric: \(labels.metricName), number of labels: \(labels.count), limit: \(limits.labelLimit))")
        }
        let nameLimit = limits.labelNameLengthLimit, valueLimit = limits.labelValueLengthLimit
        guard nameLimit > 0 || valueLimit > 0 else { return }
        var failure: ScrapeFailure?
        labels.forEach { name, value in
            guard failure == nil else { return }
            if nameLimit > 0, name.count > nameLimit {
                failure = ScrapeFailure(
                    "label_name_length_limit exceeded (metric: \(labels.metricName), label name: \(String(decoding: name, as: UTF8.self)), length: \(name.count), limit: \(nameLimit))")
            } else if valueLimit > 0, value.count > valueLimit {
                failure = ScrapeFailure(
                    "label_value_length_limit exceeded (metric: \(labels.metricName), label name: \(String(decoding: name, as: UTF8.self)), value: \"\(String(decoding: value, as: UTF8.self))\", length: \(value.count), limit: \(valueLimit))")
            }
        }
        if let failure { throw failure }
    }
}

/// A scrape failed for a reason of its own (limits, HTTP status): the message `lastError` shows.
struct ScrapeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
