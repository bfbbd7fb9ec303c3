#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Model

extension WriterState {
    /// Rebuilds the series and metadata tables from the newest segments, repairing a corrupt tail
    /// of the newest one.
    ///
    /// Every segment starts with the full tables, so replay walks back from the newest segment
    /// until one that holds a commit's samples or exemplars record (whose head is therefore
    /// complete) and takes the union of what it found; entries found in newer segments win.
    /// Exemplars and samples records are not decoded (they do not affect the tables); series
    /// records go from their bytes into the table (``SeriesStore``) without a ``Labels`` each.
    static func replay(directory: String, segments: [Int], logger: Logger, into s: inout WriterState) throws -> WALOpenReport {
        var report = WALOpenReport(
            duration: .zero, segments: 0, bytes: 0, series: 0, metadata: 0, seriesMemoryBytes: 0, corruptions: 0, repairs: [])
        var maxRef: SeriesRef = 0
        let newest = segments.last
        for segment in segments.reversed() {
            var sawCommit = false
            var segmentMetadata: [String: MetricMetadata] = [:]
            let path = WALSegment.path(directory, segment)
            guard let file = try ReadOnlyFile.openIfExists(path: path) else { continue }
            report.segments += 1
            var scanner = SegmentScanner(file: file, segment: segment, offset: 0)
            scan: while true {
                let result = try scanner.next(finished: true)
                var problem: (start: Int, offset: Int, reason: String)?
                switch result {
                case .record(let start, _):
                    let payload = scanner.payload
                    switch payload.first {
                    case WALRecordType.samples.rawValue, WALRecordType.exemplars.rawValue:
                        sawCommit = true
                    case WALRecordType.series.rawValue:
                        // Straight from the record's bytes into the table: no label set is made.
                        let result = payload.withUnsafeBytes { p in
                            Result { () throws(RecordDecodingError) in
                                try RecordCodec.forEachSeries(in: p) { ref, labelCount, bytes in
                                    maxRef = max(maxRef, ref)
                                    // Newer segments are read first: a label set keeps the ref found first.
                                    _ = s.series.findOrInsert(bytes: bytes, labelCount: labelCount, ref: ref)
                                }
                            }
                        }
                        if case .failure(let error) = result { problem = (start, start, error.reason) }
                    case WALRecordType.metadata.rawValue:
                        do {
                            if case .metadata(let list)? = try RecordCodec.decode(payload) {
                                for m in list { segmentMetadata[m.family] = m }
                            }
                        } catch {
                            problem = (start, start, error.reason)
                        }
                    default:
                        break
                    }
                case .endOfSegment, .notYet:
                    break scan
                case .corrupt(let start, let offset, let reason):
                    problem = (start, offset, reason)
                }
                if let problem {
                    report.corruptions += 1
                    let size = (try? Syscall.fileSize(file.fd, path: path)) ?? -1
                    let name = WALSegment.name(segment)
                    if segment == newest {
                        // The tail of the segment being written at a crash: cut it off, once.
                        var repair = "truncated segment \(name) from \(size) to \(problem.start) bytes"
                        do {
                            let fd = try Syscall.openFile(path, O_WRONLY)
                            defer { try? Syscall.closeFile(fd, path: path) }
                            try Syscall.truncateFile(fd, problem.start, path: path)
                            try Syscall.fsyncFile(fd, path: path)
                        } catch {
                            repair = "could not truncate segment \(name) at \(problem.start) (\(error)); writing goes on in a new segment"
                        }
                        report.repairs.append(repair + ": \(problem.reason) at offset \(problem.offset)")
                        logger.warning("WAL segment has a corrupt tail; truncating it to the last valid record", metadata: [
                            "segment": "\(path)", "offset": "\(problem.start)", "badOffset": "\(problem.offset)",
                            "reason": "\(problem.reason)", "droppedBytes": "\(size - problem.start)",
                        ])
                    } else {
                        // A complete segment damaged later (bit rot, a bad disk): its valid part
                        // stays; readers skip the rest.
                        report.repairs.append(
                            "left corrupt segment \(name) as it is (readers skip from offset \(problem.start)): \(problem.reason) at offset \(problem.offset)")
                        logger.warning("WAL segment is corrupt; records after the damage cannot be read", metadata: [
                            "segment": "\(path)", "offset": "\(problem.start)", "badOffset": "\(problem.offset)",
                            "reason": "\(problem.reason)", "unreadableBytes": "\(size - problem.start)",
                        ])
                    }
                    break scan
                }
            }
            report.bytes += scanner.offset
            for (family, m) in segmentMetadata where s.metadata[family] == nil {
                s.metadata[family] = WriterState.MetadataEntry(record: m, segment: segment, time: ContinuousClock.now)
            }
            if sawCommit { break }
        }
        s.nextRef = max(s.nextRef, maxRef + 1)
        s.series.sortByRef()
        return report
    }
}
