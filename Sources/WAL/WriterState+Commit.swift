import Model

/// What a successful commit gives back to its caller.
struct CommitOutcome: Sendable {
    /// The refs of the batch's new series, in the order they were appended.
    var refs: [SeriesRef]
    /// The segment this commit started, if it started one.
    var startedSegment: Int?

    static let empty = CommitOutcome(refs: [], startedSegment: nil)
}

// MARK: Group commit

extension WriterState {
    /// One commit's result: its outcome, or the I/O error that undid it.
    typealias CommitResult = Result<CommitOutcome, any Error>

    /// Commits `batches` in order, as if one after another, writing consecutive commits that go
    /// to the same segment with one pwrite(2).
    ///
    /// Each batch is resolved and encoded against the tables as they are after the batches
    /// before it (so a label set new in one batch has the same ref in a later one), and its
    /// records appended to `pending`. When a batch needs a new segment (the current one is full,
    /// released series pile up, or a failure ended the segment), what is pending is written to
    /// the current segment first; so a group that rolls over makes one write per segment.
    ///
    /// When a write fails, every commit it carried is undone (newest first: refs, metadata,
    /// un-releases and releases), the segment is truncated back to where the write started (or,
    /// if that fails, ended), and each of those commits gets the error. A commit resolved after
    /// them whose new segment was about to be started is undone with them and gets the error
    /// too. Commits after that are tried as usual.
    ///
    /// - Returns: One result per batch, in the same order.
    mutating func commitGroup<Batches: RandomAccessCollection<AppendBatch>>(
        _ batches: Batches, segmentSize: Int, now: ContinuousClock.Instant
    ) -> [CommitResult] where Batches.Index == Int {
        var results = [CommitResult?](repeating: nil, count: batches.count)
        var staged = Staged(start: offset, hadCommit: segmentHasCommit)
        for (i, batch) in zip(0..., batches) {
            if batch.isEmpty {
                results[i] = .success(.empty)
                continue
            }
            var commit = encode(batch, now: now)
            var startedSegment: Int?
            if needsNewSegment(for: commit, segmentSize: segmentSize) {
                // The staged commits belong to the current segment: write them there first.
                if !staged.commits.isEmpty {
                    do {
                        try flush()
                        staged.complete(into: &results)
                    } catch {
                        // `commit` was resolved on top of them: undo it first.
                        rollBack(commit.undo)
                        results[i] = .failure(error)
                        failStaged(&staged, error, into: &results)
                        continue
                    }
                }
                do {
                    if file == nil {
                        // An earlier failure ended the segment. (Like a rollover, after this
                        // commit's series were resolved and the refs it uses were un-released.)
                        try startSegment(nextSegment, now: now)
                    } else {
                        try rollover(now: now)
                    }
                } catch {
                    rollBack(commit.undo)
                    results[i] = .failure(error)
                    continue
                }
                commit.seriesFlags = nil  // the new segment's head already lists them
                startedSegment = segment
            }
            if staged.commits.isEmpty { staged = Staged(start: offset, hadCommit: segmentHasCommit) }
            append(&commit, releasing: batch.released)
            staged.commits.append(StagedCommit(index: i, undo: commit.undo, refs: commit.refs, startedSegment: startedSegment))
        }
        if !staged.commits.isEmpty {
            do {
                try flush()
                staged.complete(into: &results)
            } catch {
                failStaged(&staged, error, into: &results)
            }
        }
        return results.map { $0! }
    }

    /// A commit appended to `pending`, waiting for the write.
    struct StagedCommit {
        /// Its place in the group.
        var index: Int
        var undo: Undo
        var refs: [SeriesRef]
        var startedSegment: Int?
    }

    /// The commits appended to `pending` since the last write, and the segment as it was before
    /// the first of them (to go back to when the write fails).
    struct Staged {
        var start: Int
        var hadCommit: Bool
        var commits: [StagedCommit] = []

        mutating func complete(into results: inout [CommitResult?]) {
            for c in commits { results[c.index] = .success(CommitOutcome(refs: c.refs, startedSegment: c.startedSegment)) }
            commits.removeAll()
        }
    }

    /// The write of the staged commits failed: undoes them, newest first, and drops their bytes.
    mutating func failStaged(_ staged: inout Staged, _ error: any Error, into results: inout [CommitResult?]) {
        for c in staged.commits.reversed() {
            rollBack(c.undo)
            results[c.index] = .failure(error)
        }
        staged.commits.removeAll()
        abandonWrite(startingAt: staged.start)
        if file != nil { segmentHasCommit = staged.hadCommit }
    }

    /// Whether `commit` must go to a new segment: no segment is open, or the current one holds
    /// a commit and would pass its limit, or released series make up half the table.
    func needsNewSegment(for commit: EncodedCommit, segmentSize: Int) -> Bool {
        if file == nil { return true }
        guard segmentHasCommit else { return false }
        // The head alone may approach the limit when the series table is big: then let the
        // segment grow to twice the head, so that most of every segment is data.
        let limit = max(segmentSize, 2 * headSize)
        // Released series are only dropped at a segment start: when they make up half the
        // table, start one now rather than when the segment is full (which may take hours on
        // a small agent), so that memory follows the live series.
        let releasedPileUp = released.count >= max(Self.releasedRolloverMinimum, series.count / 2)
        return offset + commit.size > limit || releasedPileUp
    }

    /// Appends the encoded records to `pending`, then applies the batch's releases (recorded in
    /// the undo, so that a failed write takes them back).
    mutating func append(_ commit: inout EncodedCommit, releasing releases: [SeriesRef]) {
        let feed = commit.feed
        if let f = commit.seriesFlags { appendRecord(seriesScratch, flags: f) { .series(feed.series) } }
        if let f = commit.metadataFlags { appendRecord(metadataScratch, flags: f) { .metadata(feed.metadata) } }
        if let f = commit.samplesFlags { appendRecord(samplesScratch, flags: f) { .samples(feed.samples) } }
        if let f = commit.exemplarsFlags { appendRecord(exemplarsScratch, flags: f) { .exemplars(feed.exemplars) } }
        commit.feed = FeedRecords()
        segmentHasCommit = true
        for ref in releases where !commit.keptFromRelease.contains(ref) {
            if released.insert(ref) { commit.undo.released.append(ref) }
        }
    }

    /// Takes back a commit's effects on the tables (its refs are not reused: numbers are cheap,
    /// and a partly written record may name them).
    mutating func rollBack(_ undo: Undo) {
        for ref in undo.released { _ = released.remove(ref) }
        for ref in undo.addedRefs.reversed() { series.remove(ref: ref) }
        released.formUnion(undo.unreleased)
        for (family, previous) in undo.metadata.reversed() { metadata[family] = previous }
    }
}

// MARK: Encoding one batch

extension WriterState {
    /// What a commit changed in memory, to take back when its write fails.
    struct Undo {
        /// Refs of the series the commit added to the table.
        var addedRefs: [SeriesRef] = []
        /// Refs taken out of `released` (in use again).
        var unreleased: [SeriesRef] = []
        /// Refs put into `released` by the batch's releases.
        var released: [SeriesRef] = []
        var metadata: [(family: String, previous: MetadataEntry?)] = []
    }

    /// A batch resolved against the tables, its records encoded (and compressed) in the scratch
    /// buffers, ready to be appended.
    struct EncodedCommit {
        var undo = Undo()
        var refs: [SeriesRef] = []
        /// Refs the batch releases but also appends by labels: they stay.
        var keptFromRelease: Set<SeriesRef> = []
        /// Fragment flags of each record; nil when the record is left out.
        var seriesFlags: UInt8?
        var metadataFlags: UInt8?
        var samplesFlags: UInt8?
        var exemplarsFlags: UInt8?
        /// Bytes the records take when appended at the offset of the time of encoding.
        var size = 0
        /// The records decoded, for the feed (empty when it is off).
        var feed = FeedRecords()
    }

    /// A commit's records as a reader decodes them, built while encoding them (when the feed is
    /// on): the refs are resolved already, nothing is decoded again.
    struct FeedRecords {
        var series: [SeriesRecord] = []
        var metadata: [MetricMetadata] = []
        var samples: [SampleRecord] = []
        var exemplars: [ExemplarRecord] = []
    }

    /// Resolves the batch's new series (an existing label set reuses its ref, an unknown one gets
    /// the next ref), marks the refs it uses as in use again, updates the metadata table, and
    /// encodes a series record of the really new series, a metadata record of the new or changed
    /// entries, a samples record and an exemplars record (each left out when empty).
    mutating func encode(_ batch: AppendBatch, now: ContinuousClock.Instant) -> EncodedCommit {
        var commit = EncodedCommit()
        let newSeries = resolveSeries(batch, into: &commit)
        markInUse(batch, undo: &commit.undo)
        let changedMetadata = updateMetadata(batch.metadata, now: now, undo: &commit.undo, feed: &commit.feed.metadata)
        if !batch.entries.isEmpty { encodeSamples(batch.entries, refs: commit.refs, feed: &commit.feed.samples) }
        if !batch.exemplars.isEmpty { encodeExemplars(batch.exemplars, refs: commit.refs, feed: &commit.feed.exemplars) }

        let c = compression, at = offset
        if newSeries > 0 {
            commit.seriesFlags = Self.compress(&seriesScratch, scratch: &compressScratch, c, at: at, size: &commit.size)
        }
        if changedMetadata > 0 {
            commit.metadataFlags = Self.compress(&metadataScratch, scratch: &compressScratch, c, at: at, size: &commit.size)
        }
        if !batch.entries.isEmpty {
            commit.samplesFlags = Self.compress(&samplesScratch, scratch: &compressScratch, c, at: at, size: &commit.size)
        }
        if !batch.exemplars.isEmpty {
            commit.exemplarsFlags = Self.compress(&exemplarsScratch, scratch: &compressScratch, c, at: at, size: &commit.size)
        }
        return commit
    }

    /// ``compress(_:scratch:_:)``, adding to `size` what the record takes when appended at
    /// `offset + size`.
    private static func compress(
        _ payload: inout [UInt8], scratch: inout [UInt8], _ compression: WALCompression, at offset: Int, size: inout Int
    ) -> UInt8 {
        let flags = compress(&payload, scratch: &scratch, compression)
        size += WALSegment.encodedSize(payloadLength: payload.count, at: offset + size)
        return flags
    }

    /// Gives each of the batch's new series its ref and encodes the really new ones into
    /// `seriesScratch`; returns how many are really new.
    private mutating func resolveSeries(_ batch: AppendBatch, into commit: inout EncodedCommit) -> Int {
        let checkReleased = !released.isEmpty
        // A series this batch releases but also appends by labels is in use again (a scraper
        // forgot it and then saw it again): it stays.
        let batchReleases: Set<SeriesRef>? = batch.released.isEmpty ? nil : Set(batch.released)
        commit.refs.reserveCapacity(batch.newSeries.count)
        var series = ByteEncoder(taking: &seriesScratch)
        series.byte(WALRecordType.series.rawValue)
        var newCount = 0
        let feed = feedEnabled
        for labels in batch.newSeries {
            let (ref, inserted) = self.series.findOrInsert(labels, ref: nextRef)
            commit.refs.append(ref)
            if inserted {
                nextRef += 1
                commit.undo.addedRefs.append(ref)
                RecordCodec.appendSeries(ref: ref, labels: labels, to: &series)
                if feed { commit.feed.series.append(SeriesRecord(ref: ref, labels: labels)) }
                newCount += 1
            } else {
                if checkReleased, released.remove(ref) { commit.undo.unreleased.append(ref) }
                if let batchReleases, batchReleases.contains(ref) { commit.keptFromRelease.insert(ref) }
            }
        }
        series.finish(into: &seriesScratch)
        return newCount
    }

    /// A series appended by ref is in use again.
    private mutating func markInUse(_ batch: AppendBatch, undo: inout Undo) {
        guard !released.isEmpty else { return }
        for e in batch.entries where !e.isNew {
            if released.remove(e.refOrIndex) { undo.unreleased.append(e.refOrIndex) }
        }
        for x in batch.exemplars where !x.isNew {
            if released.remove(x.refOrIndex) { undo.unreleased.append(x.refOrIndex) }
        }
    }

    /// Metadata: only what is new or changed is encoded (into `metadataScratch`); the rest is
    /// kept alive. Returns the number of entries encoded.
    private mutating func updateMetadata(
        _ entries: [MetricMetadata], now: ContinuousClock.Instant, undo: inout Undo, feed: inout [MetricMetadata]
    ) -> Int {
        guard !entries.isEmpty else { return 0 }
        var count = 0
        var out = ByteEncoder(taking: &metadataScratch)
        out.byte(WALRecordType.metadata.rawValue)
        for m in entries {
            if let entry = metadata[m.family], entry.record == m {
                metadata[m.family]!.segment = segment
                metadata[m.family]!.time = now
            } else {
                undo.metadata.append((m.family, metadata[m.family]))
                metadata[m.family] = MetadataEntry(record: m, segment: segment, time: now)
                RecordCodec.appendMetadata(m, to: &out)
                if feedEnabled { feed.append(m) }
                count += 1
            }
        }
        out.finish(into: &metadataScratch)
        return count
    }

    /// The samples record, with the refs just resolved, into `samplesScratch`; and, when the
    /// feed is on, the samples as a reader decodes them.
    private mutating func encodeSamples(_ entries: [AppendBatch.Entry], refs: [SeriesRef], feed: inout [SampleRecord]) {
        var samples = ByteEncoder(taking: &samplesScratch)
        let buildFeed = feedEnabled
        entries.withUnsafeBufferPointer { entries in
            refs.withUnsafeBufferPointer { refs in
                @inline(__always) func resolve(_ e: AppendBatch.Entry) -> SeriesRef {
                    e.isNew ? refs[Int(e.refOrIndex)] : e.refOrIndex
                }
                samples.byte(WALRecordType.samples.rawValue)
                let baseRef = resolve(entries[0])
                let baseTime = entries[0].timestamp
                samples.be64(baseRef)
                samples.be64(UInt64(bitPattern: baseTime))
                for e in entries {
                    RecordCodec.appendSample(resolve(e), e.timestamp, e.value, baseRef: baseRef, baseTime: baseTime, to: &samples)
                }
                if buildFeed {
                    feed = [SampleRecord](unsafeUninitializedCapacity: entries.count) { out, initialized in
                        for i in 0..<entries.count {
                            let e = entries[i]
                            (out.baseAddress! + i).initialize(to: SampleRecord(ref: resolve(e), timestamp: e.timestamp, value: e.value))
                        }
                        initialized = entries.count
                    }
                }
            }
        }
        samples.finish(into: &samplesScratch)
    }

    /// The exemplars record, likewise, into `exemplarsScratch`.
    private mutating func encodeExemplars(_ exemplars: [AppendBatch.ExemplarEntry], refs: [SeriesRef], feed: inout [ExemplarRecord]) {
        @inline(__always) func resolve(_ x: AppendBatch.ExemplarEntry) -> SeriesRef {
            x.isNew ? refs[Int(x.refOrIndex)] : x.refOrIndex
        }
        var out = ByteEncoder(taking: &exemplarsScratch)
        out.byte(WALRecordType.exemplars.rawValue)
        let baseRef = resolve(exemplars[0])
        let baseTime = exemplars[0].timestamp
        out.be64(baseRef)
        out.be64(UInt64(bitPattern: baseTime))
        for x in exemplars {
            RecordCodec.appendExemplar(resolve(x), x.timestamp, x.value, x.labels, baseRef: baseRef, baseTime: baseTime, to: &out)
            if feedEnabled { feed.append(ExemplarRecord(ref: resolve(x), timestamp: x.timestamp, value: x.value, labels: x.labels)) }
        }
        out.finish(into: &exemplarsScratch)
    }
}
