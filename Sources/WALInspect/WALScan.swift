import Foundation
import Model
import WAL

/// One segment file as it was when an inspection started.
public struct SegmentFile: Sendable, Equatable {
    /// The segment's number (its file name in decimal).
    public var number: Int
    /// Size in bytes when listed.
    public var size: Int

    /// `00000012` for 12, as the WAL names its files.
    public var name: String { Self.name(number) }

    static func name(_ number: Int) -> String {
        let digits = String(number)
        return digits.count >= 8 ? digits : String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// The segment files of a WAL directory, ascending (names of at least 8 decimal digits, as
    /// in `docs/wal-format.md`; other files are ignored).
    static func list(_ directory: String) throws -> [SegmentFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        var result: [SegmentFile] = []
        for name in names where name.utf8.count >= 8 && name.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard let number = Int(name) else { continue }
            // A segment deleted since the listing (truncation by a running agent) is left out.
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name),
                let size = attributes[.size] as? NSNumber
            else { continue }
            result.append(SegmentFile(number: number, size: size.intValue))
        }
        return result.sorted { $0.number < $1.number }
    }
}

/// Reads a WAL from its oldest segment to where its newest segment ended when the scan started,
/// handing over each record with its position, and going on with the next segment after a
/// corrupt record.
///
/// Only ``WALReader`` touches the files, so the scan never writes and may run while an agent
/// appends. Records the agent appends after the scan started are not read (so a busy WAL cannot
/// keep the scan going forever); a torn or unfinished tail of the newest segment is its end.
struct WALScan {
    let directory: String
    let segments: [SegmentFile]

    /// Where the scan stopped and what it skipped.
    struct Outcome {
        /// The position after the last record read.
        var end: WALPosition
        /// Bytes after `end` in the newest segment that are not a complete record (a torn tail, or
        /// a write in progress), with where they start; nil when the segment ended cleanly.
        var unreadableTail: (position: WALPosition, bytes: Int)?
        /// Corrupt records found (each ended the reading of its segment) and the bytes skipped.
        var corruptions: [(error: WALCorruptionError, skippedBytes: Int)] = []
    }

    /// Calls `record` for each record with the position where it starts and `corruption` for
    /// each corrupt record, as they are met.
    func run(
        record: (WALPosition, WALRecord) throws -> Void,
        corruption: (WALCorruptionError, _ skippedBytes: Int) -> Void
    ) throws -> Outcome {
        guard let first = segments.first, let last = segments.last else {
            return Outcome(end: WALPosition(segment: 0, offset: 0))
        }
        let limit = WALPosition(segment: last.number, offset: last.size)
        var outcome = Outcome(end: WALPosition(segment: first.number, offset: 0))
        var reader = try WALReader(directory: directory, from: WALPosition(segment: first.number, offset: 0))
        while reader.position < limit {
            let next: (record: WALRecord, next: WALPosition)?
            do {
                next = try reader.next()
            } catch let error as WALCorruptionError {
                let size = segments.first { $0.number == error.segment }?.size ?? error.recordOffset
                let skipped = max(0, size - error.recordOffset)
                outcome.corruptions.append((error, skipped))
                corruption(error, skipped)
                // On to the next segment, whose head names every live series again.
                reader.skipCorruptSegment()
                continue
            }
            guard let (decoded, _) = next else { break }
            // Where the record starts, as the reader says (in the next segment when one ended; an
            // offset in a page tail under 7 bytes stands for the next page's start): the place
            // remote write gives a record in the cursors it stores.
            try record(reader.lastRecordStart, decoded)
        }
        outcome.end = reader.position
        if reader.position < limit, reader.position.segment == last.number {
            outcome.unreadableTail = (reader.position, last.size - reader.position.offset)
        }
        return outcome
    }
}
