import Foundation
import Model
import WAL

/// What `agent wal dump --stats` reports about a WAL.
///
/// Segment and byte figures describe the whole WAL; series, samples, exemplars and the time range
/// count what the ``Selection`` selects (everything when it filters nothing).
public struct WALStats: Sendable, Equatable {
    /// Numbers of the segment files, ascending.
    public var segments: [Int] = []
    /// Sum of the segment files' sizes.
    public var bytes: Int = 0
    /// Distinct refs of the selected series (from series records).
    public var series: Int = 0
    /// Selected samples, staleness markers included.
    public var samples: Int = 0
    /// How many of ``samples`` are staleness markers.
    public var staleMarkers: Int = 0
    /// Selected exemplars.
    public var exemplars: Int = 0
    /// Selected metadata entries.
    public var metadata: Int = 0
    /// Timestamps (ms) of the oldest and newest selected sample.
    public var oldestSample: Int64?
    /// See ``oldestSample``.
    public var newestSample: Int64?
    /// Every sample in the WAL, selected or not (the base of ``bytesPerSample``).
    public var allSamples: Int = 0
    /// Whether a filter was in effect (then ``samples`` may be fewer than ``allSamples``).
    public var filtered: Bool = false
    /// A torn or unfinished tail of the newest segment: where it starts and its size.
    public var unreadableTail: (position: WALPosition, bytes: Int)?
    /// Segments whose rest was skipped after a corrupt record.
    public var corruptSegments: [Int] = []

    /// All zero: nothing read yet.
    public init() {}

    /// Bytes on disk per sample in the WAL (all of its samples), or nil when it holds none.
    public var bytesPerSample: Double? {
        allSamples == 0 ? nil : Double(bytes) / Double(allSamples)
    }

    /// Equal when every figure is (the tail compared by position and size).
    public static func == (lhs: WALStats, rhs: WALStats) -> Bool {
        lhs.segments == rhs.segments && lhs.bytes == rhs.bytes && lhs.series == rhs.series
            && lhs.samples == rhs.samples && lhs.staleMarkers == rhs.staleMarkers && lhs.exemplars == rhs.exemplars
            && lhs.metadata == rhs.metadata && lhs.oldestSample == rhs.oldestSample
            && lhs.newestSample == rhs.newestSample && lhs.allSamples == rhs.allSamples && lhs.filtered == rhs.filtered
            && lhs.unreadableTail?.position == rhs.unreadableTail?.position
            && lhs.unreadableTail?.bytes == rhs.unreadableTail?.bytes && lhs.corruptSegments == rhs.corruptSegments
    }

    /// Segment numbers as ranges: `00000000-00000003, 00000007`.
    static func ranges(_ numbers: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < numbers.count {
            var j = i
            while j + 1 < numbers.count, numbers[j + 1] == numbers[j] + 1 { j += 1 }
            parts.append(j == i ? SegmentFile.name(numbers[i]) : "\(SegmentFile.name(numbers[i]))-\(SegmentFile.name(numbers[j]))")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }

    /// `x` with one decimal, rounded half up.
    static func oneDecimal(_ x: Double) -> String {
        let tenths = Int64((x * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// The report: aligned `name: value` lines, or one JSON object.
    public func lines(format: OutputFormat) -> [String] {
        switch format {
        case .text:
            var lines: [(String, String)] = []
            lines.append(("segments", segments.isEmpty ? "0" : "\(segments.count) (\(Self.ranges(segments)))"))
            lines.append(("bytes on disk", "\(bytes)"))
            let note = filtered ? " (selected)" : ""
            lines.append(("series", "\(series)\(note)"))
            var sampleText = "\(samples)\(note)"
            if filtered { sampleText += ", \(allSamples) in the WAL" }
            if staleMarkers > 0 { sampleText += ", \(staleMarkers) staleness marker\(staleMarkers == 1 ? "" : "s")" }
            lines.append(("samples", sampleText))
            lines.append(("exemplars", "\(exemplars)\(note)"))
            if metadata > 0 { lines.append(("metadata", "\(metadata)\(note)")) }
            lines.append(("oldest sample", oldestSample.map { PrometheusFormat.time(milliseconds: $0) } ?? "-"))
            lines.append(("newest sample", newestSample.map { PrometheusFormat.time(milliseconds: $0) } ?? "-"))
            lines.append(("bytes per sample", bytesPerSample.map(Self.oneDecimal) ?? "-"))
            if let tail = unreadableTail {
                lines.append(("unreadable tail", "\(tail.bytes) bytes at \(RecordPrinter.position(tail.position)) (torn, or being written)"))
            }
            if !corruptSegments.isEmpty {
                lines.append(("corrupt segments", corruptSegments.map(SegmentFile.name).joined(separator: ", ")))
            }
            let width = lines.map { $0.0.count }.max()! + 2
            return lines.map { ($0.0 + ":").padding(toLength: width, withPad: " ", startingAt: 0) + $0.1 }
        case .json:
            var o = JSONObject()
            o.add("kind", "stats")
            o.add("segments", raw: "[" + segments.map(String.init).joined(separator: ",") + "]")
            o.add("bytes", bytes)
            o.add("series", series)
            o.add("samples", samples)
            o.add("stale_markers", staleMarkers)
            o.add("exemplars", exemplars)
            o.add("metadata", metadata)
            o.add("all_samples", allSamples)
            o.add("filtered", filtered)
            if let oldestSample, let newestSample {
                o.add("oldest_timestamp", oldestSample)
                o.add("oldest_time", PrometheusFormat.time(milliseconds: oldestSample))
                o.add("newest_timestamp", newestSample)
                o.add("newest_time", PrometheusFormat.time(milliseconds: newestSample))
            } else {
                o.addNull("oldest_timestamp"); o.addNull("oldest_time")
                o.addNull("newest_timestamp"); o.addNull("newest_time")
            }
            if let bytesPerSample { o.add("bytes_per_sample", raw: PrometheusFormat.value(bytesPerSample)) } else { o.addNull("bytes_per_sample") }
            if let tail = unreadableTail {
                var t = JSONObject()
                t.add("segment", tail.position.segment)
                t.add("offset", tail.position.offset)
                t.add("bytes", tail.bytes)
                o.add("unreadable_tail", raw: t.finished)
            } else {
                o.addNull("unreadable_tail")
            }
            o.add("corrupt_segments", raw: "[" + corruptSegments.map(String.init).joined(separator: ",") + "]")
            return [o.finished]
        }
    }
}
