#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Model

/// A place between two samples of the log: every record before `position`, and the first
/// `samplesDone` samples of the samples record at `position`, lie before it.
public struct Cursor: Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    public var position: WALPosition
    public var samplesDone: Int

    public init(position: WALPosition, samplesDone: Int = 0) {
        self.position = position
        self.samplesDone = samplesDone
    }

    public static func < (lhs: Cursor, rhs: Cursor) -> Bool {
        (lhs.position, lhs.samplesDone) < (rhs.position, rhs.samplesDone)
    }

    public var description: String { "\(position)+\(samplesDone)" }
}

/// What one remote endpoint has acknowledged, as kept in `STORAGE/remote/NAME.json`.
///
/// `acknowledged` is the low-water mark: every sample before it was accepted (or rejected for
/// good) by the receiver. Samples after it may be acknowledged too, since several shards send at
/// once: `shards[i]` is the place before which every sample of shard `i` is acknowledged, where
/// a sample of series `ref` belongs to shard `ref % shards.count`. A sample is acknowledged when
/// it lies before `acknowledged` or before its shard's cursor. Without `shards` (files written by
/// older versions), only the low-water mark is known.
public struct EndpointProgress: Sendable, Codable, Equatable {
    /// The low-water mark (JSON: `position` and `samplesDone` at the top level).
    public var acknowledged: Cursor
    public var shards: [Cursor]
    /// Per shard, where the batch it was sending ended (nil: none was in flight). After a crash
    /// that batch is resent exactly as it was: a receiver that had stored it refuses it whole
    /// (out of order), and no newer sample must be in the same request.
    public var inFlight: [Cursor?]
    /// The endpoint's URL when the file was written (informational, for `agent wal dump --lag`).
    public var url: String?

    public init(acknowledged: Cursor, shards: [Cursor] = [], inFlight: [Cursor?] = [], url: String? = nil) {
        self.acknowledged = acknowledged
        self.shards = shards
        self.inFlight = inFlight
        self.url = url
    }

    /// Whether the sample at `place` of series `ref` was acknowledged.
    public func isAcknowledged(ref: SeriesRef, at place: Cursor) -> Bool {
        if place < acknowledged { return true }
        guard !shards.isEmpty else { return false }
        return place < shards[Int(ref % UInt64(shards.count))]
    }

    /// The place after which nothing is acknowledged.
    public var highest: Cursor { shards.max().map { max($0, acknowledged) } ?? acknowledged }

    private enum CodingKeys: String, CodingKey { case position, samplesDone, shards, inFlight, url }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        acknowledged = Cursor(
            position: try c.decode(WALPosition.self, forKey: .position),
            samplesDone: try c.decodeIfPresent(Int.self, forKey: .samplesDone) ?? 0)
        shards = try c.decodeIfPresent([Cursor].self, forKey: .shards) ?? []
        inFlight = try c.decodeIfPresent([Cursor?].self, forKey: .inFlight) ?? []
        url = try c.decodeIfPresent(String.self, forKey: .url)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(acknowledged.position, forKey: .position)
        try c.encode(acknowledged.samplesDone, forKey: .samplesDone)
        if !shards.isEmpty { try c.encode(shards, forKey: .shards) }
        if inFlight.contains(where: { $0 != nil }) { try c.encode(inFlight, forKey: .inFlight) }
        try c.encodeIfPresent(url, forKey: .url)
    }
}

/// One endpoint's ``EndpointProgress`` file, replaced atomically (write to a temporary file,
/// optionally fsync it, rename over the old one).
///
/// A rename without fsync survives the process being killed (the data is in the page cache);
/// fsync makes it survive a power loss too, so callers store often and sync about once a second.
public struct EndpointProgressFile: Sendable {
    public let path: String

    /// `STORAGE/remote/NAME.json`, with characters other than letters, digits, `-` and `_`
    /// replaced by `_`.
    public init(directory: String, endpointName: String) {
        let safe = String(endpointName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        path = "\(directory)/\(safe).json"
    }

    /// The stored progress; nil when there is no file. Throws when it cannot be read or decoded.
    public func load() throws -> EndpointProgress? {
        guard let bytes = try Syscall.readFileIfExists(path) else { return nil }
        return try JSONDecoder().decode(EndpointProgress.self, from: Data(bytes))
    }

    /// Every progress file in `directory`, by endpoint file name (without `.json`).
    public static func loadAll(directory: String) -> [String: EndpointProgress] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var result: [String: EndpointProgress] = [:]
        for name in names where name.hasSuffix(".json") {
            let file = EndpointProgressFile(path: "\(directory)/\(name)")
            if let progress = try? file.load() { result[String(name.dropLast(5))] = progress }
        }
        return result
    }

    init(path: String) { self.path = path }

    public func store(_ progress: EndpointProgress, durable: Bool) throws {
        let data = Array(try JSONEncoder().encode(progress))
        let temporary = path + ".tmp"
        let fd = try Syscall.openFile(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try data.withUnsafeBytes { try Syscall.pwriteAll(fd, $0, at: 0, path: temporary) }
            if durable { try Syscall.fsyncFile(fd, path: temporary) }
            try Syscall.closeFile(fd, path: temporary)
        } catch {
            try? Syscall.closeFile(fd, path: temporary)
            throw error
        }
        try Syscall.renameFile(temporary, to: path)
        if durable { try Syscall.syncDirectory((path as NSString).deletingLastPathComponent) }
    }
}
