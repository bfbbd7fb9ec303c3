import Model
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
@testable import WAL

/// Collects log messages so tests can check what was logged.
final class LogCapture: Sendable {
    let entries = Mutex<[(level: Logger.Level, message: String)]>([])

    var logger: Logger {
        Logger(label: "wal-test") { _ in CapturingLogHandler(capture: self) }
    }

    var warnings: [String] {
        entries.withLock { $0.filter { $0.level == .warning }.map(\.message) }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.entries.withLock { $0.append((event.level, event.message.description)) }
    }
}

/// A fresh temporary directory, removed with everything in it when the value goes away.
struct TempDir: ~Copyable {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("wal-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func segmentPath(_ n: Int) -> String { path + "/" + String(format: "%08d", n) }
}

func labels(_ name: String, _ pairs: (String, String)...) -> Labels {
    Labels([Label("__name__", name)] + pairs.map { Label($0.0, $0.1) })
}

/// Reads every complete record from `position` on.
func readAll(_ directory: String, from position: WALPosition = WALPosition(segment: 0, offset: 0)) throws
    -> [(record: WALRecord, next: WALPosition)]
{
    var reader = try WALReader(directory: directory, from: position)
    var out: [(record: WALRecord, next: WALPosition)] = []
    while let r = try reader.next() { out.append(r) }
    return out
}

func allSamples(_ records: [(record: WALRecord, next: WALPosition)]) -> [SampleRecord] {
    records.flatMap { r -> [SampleRecord] in
        if case .samples(let s) = r.record { return s }
        return []
    }
}

func allSeries(_ records: [(record: WALRecord, next: WALPosition)]) -> [SeriesRecord] {
    records.flatMap { r -> [SeriesRecord] in
        if case .series(let s) = r.record { return s }
        return []
    }
}

func fileBytes(_ path: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: path) ?? Data())
}

/// Replaces the content of `path` in place (same inode, as a writer appending would), creating it if needed.
func writeBytes(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "open \(path)")
    defer { close(fd) }
    bytes.withUnsafeBytes { p in
        var done = 0
        while done < p.count {
            let n = write(fd, p.baseAddress! + done, p.count - done)
            precondition(n > 0)
            done += n
        }
    }
}

func appendBytes(_ bytes: [UInt8], to path: String) {
    writeBytes(fileBytes(path) + bytes, to: path)
}

func allExemplars(_ records: [(record: WALRecord, next: WALPosition)]) -> [ExemplarRecord] {
    records.flatMap { r -> [ExemplarRecord] in
        if case .exemplars(let x) = r.record { return x }
        return []
    }
}

func allMetadata(_ records: [(record: WALRecord, next: WALPosition)]) -> [MetricMetadata] {
    records.flatMap { r -> [MetricMetadata] in
        if case .metadata(let m) = r.record { return m }
        return []
    }
}

extension LogCapture {
    var errors: [String] {
        entries.withLock { $0.filter { $0.level == .error }.map(\.message) }
    }

    func messages(_ level: Logger.Level) -> [String] {
        entries.withLock { $0.filter { $0.level == level }.map(\.message) }
    }
}

/// Runs `executable` with `arguments`; true when it exits 0.
@discardableResult
func run(_ executable: String, _ arguments: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    } catch {
        return false
    }
}

/// A real, tiny tmpfs mounted for one test (needs the right to mount: root in this sandbox), so
/// that writes fail with ENOSPC for real. Unmounted and removed when the value goes away.
struct TinyFilesystem: ~Copyable {
    let path: String

    /// Whether this process may mount a tmpfs (checked once, by mounting one).
    static let available: Bool = {
        guard let fs = TinyFilesystem(kilobytes: 64) else { return false }
        _ = fs
        return true
    }()

    init?(kilobytes: Int) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wal-tinyfs-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)) != nil else { return nil }
        guard FileManager.default.isExecutableFile(atPath: "/bin/mount"),
            run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path])
        else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        self.path = path
    }

    deinit {
        run("/bin/umount", [path])
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The type bytes of a segment's fragments, in order (for segments without page padding).
func fragmentTypes(_ bytes: [UInt8]) -> [UInt8] {
    var types: [UInt8] = []
    var o = 0
    while o + 7 <= bytes.count {
        types.append(bytes[o])
        o += 7 + (Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]))
    }
    return types
}
