import Foundation
import Model
import WAL

/// How far one remote endpoint is behind the WAL, from its progress file
/// (`STORAGE/remote/NAME.json`): what `agent wal dump --lag` reports.
public struct EndpointLag: Sendable, Equatable {
    /// The progress file's name without `.json` (the endpoint's name, made file-safe).
    public var name: String
    /// The progress file's content: low-water mark, shard cursors, URL.
    public var progress: EndpointProgress
    /// Samples in the WAL the endpoint has not acknowledged (and the ``Selection`` selects).
    public var unsentSamples: Int = 0
    /// Bytes of segment files from the cursor to the end of the WAL. When the cursor's segment
    /// was deleted, counted from the start of the oldest segment after it.
    public var unsentBytes: Int = 0
    /// Timestamp (ms) of the oldest unacknowledged sample.
    public var oldestUnsent: Int64?
    /// Whether the cursor's segment no longer exists (samples before the cursor there are gone,
    /// and not counted).
    public var cursorSegmentGone: Bool = false

    /// An endpoint with nothing counted yet.
    public init(name: String, progress: EndpointProgress) {
        self.name = name
        self.progress = progress
    }

    /// Counts the sample at `place` of series `ref` if the endpoint has not acknowledged it.
    mutating func observe(ref: SeriesRef, timestamp: Int64, at place: Cursor) {
        guard !progress.isAcknowledged(ref: ref, at: place) else { return }
        unsentSamples += 1
        oldestUnsent = min(oldestUnsent ?? timestamp, timestamp)
    }

    /// Sets ``unsentBytes`` and ``cursorSegmentGone`` from the segment files.
    mutating func measure(segments: [SegmentFile]) {
        let cursor = progress.acknowledged.position
        cursorSegmentGone = !segments.contains { $0.number == cursor.segment }
            && cursor.segment < (segments.last?.number ?? Int.max)
        unsentBytes = segments.reduce(0) { total, segment in
            if segment.number > cursor.segment { return total + segment.size }
            if segment.number == cursor.segment { return total + max(0, segment.size - cursor.offset) }
            return total
        }
    }

    static func cursor(_ c: Cursor) -> String {
        "\(RecordPrinter.position(c.position))+\(c.samplesDone)"
    }

    static func cursorJSON(_ c: Cursor) -> String {
        var o = JSONObject()
        o.add("segment", c.position.segment)
        o.add("offset", c.position.offset)
        o.add("samples_done", c.samplesDone)
        return o.finished
    }

    /// The report: a heading and indented `name: value` lines, or one JSON object.
    public func lines(format: OutputFormat) -> [String] {
        switch format {
        case .text:
            var lines: [(String, String)] = []
            lines.append(("url", progress.url ?? "(not recorded)"))
            var cursorText = Self.cursor(progress.acknowledged)
            if cursorSegmentGone { cursorText += " (segment \(SegmentFile.name(progress.acknowledged.position.segment)) no longer exists)" }
            lines.append(("cursor", cursorText))
            if !progress.shards.isEmpty {
                lines.append(("shards", "\(progress.shards.count): " + progress.shards.map(Self.cursor).joined(separator: " ")))
            }
            lines.append(("unsent samples", "\(unsentSamples)"))
            lines.append(("unsent bytes", "\(unsentBytes)"))
            lines.append(("oldest unsent", oldestUnsent.map { PrometheusFormat.time(milliseconds: $0) } ?? "-"))
            let width = lines.map { $0.0.count }.max()! + 2
            return ["endpoint \(name)"] + lines.map { "  " + ($0.0 + ":").padding(toLength: width, withPad: " ", startingAt: 0) + $0.1 }
        case .json:
            var o = JSONObject()
            o.add("kind", "lag")
            o.add("endpoint", name)
            if let url = progress.url { o.add("url", url) } else { o.addNull("url") }
            o.add("cursor", raw: Self.cursorJSON(progress.acknowledged))
            o.add("cursor_segment_gone", cursorSegmentGone)
            o.add("shards", raw: "[" + progress.shards.map(Self.cursorJSON).joined(separator: ",") + "]")
            o.add("unsent_samples", unsentSamples)
            o.add("unsent_bytes", unsentBytes)
            if let oldestUnsent {
                o.add("oldest_unsent_timestamp", oldestUnsent)
                o.add("oldest_unsent_time", PrometheusFormat.time(milliseconds: oldestUnsent))
            } else {
                o.addNull("oldest_unsent_timestamp")
                o.addNull("oldest_unsent_time")
            }
            return [o.finished]
        }
    }
}
