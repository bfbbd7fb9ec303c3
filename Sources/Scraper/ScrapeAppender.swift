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
    /// What one scrape body gave, counted as Prometheus's `scrapeLoopAppender.append` counts:
    /// a scrape that fails part-way reports the counts reached before the failure.
    public struct Counts: Sendable, Equatable {
        /// Sample lines parsed (`scrape_samples_scraped`): a line that does not parse is not
        /// counted; one with a duplicate label name is (Prometheus parses it, its storage refuses it).
        public var scraped = 0
        /// Samples left after metric relabeling (`scrape_samples_post_metric_relabeling`): those
        /// added to the batch, the duplicate lines, and those over the sample limit.
        public var appended = 0
        /// Samples added with their labels, series not in the cache (`scrape_series_added`);
        /// not counted past the sample limit.
        public var seriesAdded = 0
        /// Lines of a series already seen in the same body, dropped.
        public var duplicates = 0
        /// Exemplars dropped as invalid (their samples are kept).
        public var exemplarsDropped = 0
        /// Metadata entries added to the batch.
        public var metadata = 0

        public init() {}

        /// Samples that went into the batch: what the sample limit counts.
        var stored: Int { appended - duplicates }
    }

    /// A body that failed part-way (parse error, label or sample limit): why, and the counts
    /// reached until then.
    public struct Failure: Error, CustomStringConvertible {
        /// An ``ExpositionError`` or a ``ScrapeFailure``.
        public var reason: any Error
        public var counts: Counts
        public var description: String { "\(reason)" }
    }

    public let target: Target
    /// Reused for the labels of each new series (no allocation per series but the result's).
    private var builder = LabelsBuilder()

    public init(target: Target) {
        self.target = target
    }

    /// Parses `body` and adds each sample to `batch`: by ref when the series text is cached,
    /// otherwise with its full label set (the WAL assigns the ref at commit). Enforces the
    /// scrape config's limits by throwing, which fails the whole scrape; the ``Failure`` carries
    /// the counts reached (the sample limit is checked after the whole body was counted, as in
    /// Prometheus). Adds the metadata that is new or changed for the target (or due for
    /// re-announcing).
    ///
    /// A cached series text is not validated again (it was when first seen, and validity is a
    /// property of its bytes and the format, both part of the cache key); the rest of every
    /// line (value, timestamp, exemplar) always is.
    public mutating func append(
        body: [UInt8], format: ExpositionFormat, timestamp: Int64, now: ContinuousClock.Instant, cache: inout ScrapeCache,
        metadata: inout MetadataCache, to batch: inout AppendBatch
    ) throws(Failure) -> Counts {
        var parser = TextParser(body, format: format, knownMetadataLines: metadata.takeKnownLines())
        defer { metadata.knownLines = parser.takeKnownMetadataLines() }
        var counts = Counts()
        do {
            try appendSamples(
                body: body, format: format, timestamp: timestamp, parser: &parser, cache: &cache, counts: &counts, to: &batch)
        } catch {
            throw Failure(reason: error, counts: counts)
        }
        let limits = target.config.limits
        if limits.sampleLimit > 0, counts.stored > limits.sampleLimit {
            throw Failure(reason: ScrapeFailure("sample limit exceeded: \(counts.stored) samples, limit \(limits.sampleLimit)"), counts: counts)
        }
        // HELP/TYPE/UNIT: only what is new or changed for this target (or due for re-announcing).
        counts.metadata = metadata.stage(fingerprint: parser.metadataFingerprint, now: now, metadata: { parser.metadata }, into: &batch)
        return counts
    }

    /// The sample loop of ``append(body:format:timestamp:now:cache:metadata:to:)``, counting in
    /// `counts` as it goes (so that a failure leaves the counts reached).
    private mutating func appendSamples(
        body: [UInt8], format: ExpositionFormat, timestamp: Int64, parser: inout TextParser, cache: inout ScrapeCache,
        counts: inout Counts, to batch: inout AppendBatch
    ) throws {
        let honorTimestamps = target.config.honorTimestamps
        let limits = target.config.limits
        let metricRelabelConfigs = target.config.metricRelabelConfigs
        try body.withUnsafeBytes { bytes in
            while let range = try parser.nextSeries() {
                let key = cache.key(UnsafeRawBufferPointer(rebasing: bytes[range]), format: format)
                let slot = cache.find(key)
                let sample: ExposedSample
                do {
                    sample = try parser.finishSample(seriesIsKnownValid: slot != nil)
                } catch {
                    if (error as? ExpositionError)?.isDuplicateLabelName == true { counts.scraped += 1 }
                    throw error
                }
                counts.scraped += 1
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
                        // Counted as appended, as Prometheus counts a sample its storage refuses
                        // for a duplicate timestamp.
                        counts.duplicates += 1
                        counts.appended += 1
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
                    if limits.sampleLimit == 0 || counts.stored < limits.sampleLimit { counts.seriesAdded += 1 }
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

extension ExpositionError {
    /// A series line with a label name twice: Prometheus's parsers accept it and its storage
    /// refuses the sample, so the line counts as scraped.
    var isDuplicateLabelName: Bool { message.hasPrefix("duplicate label name") }
}

/// A scrape failed for a reason of its own (limits, HTTP status): the message `lastError` shows.
struct ScrapeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
