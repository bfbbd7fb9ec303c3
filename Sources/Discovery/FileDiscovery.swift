import AgentConfig
import Foundation
import Logging
import Model
import Synchronization
import WAL
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads target groups from JSON and YAML files matching glob patterns, like Prometheus's file SD
/// (`discovery/file`).
///
/// A pattern may have glob characters (`*`, `?`, `[...]`) in its last path element only, and must
/// end in `.json`, `.yml` or `.yaml` (any case), which decides the file's format. A file holds a
/// list of `{targets: [...], labels: {...}}`; every group gets `__meta_filepath` (the file's path)
/// and the source `"<path>:<index>"`. Instead of inotify, files are polled: `run` stats every match
/// each `pollInterval` and re-reads what changed, and re-reads everything each `refreshInterval`.
public final class FileDiscovery: Sendable {
    /// The label naming the file a group came from.
    public static let filepathLabel = "__meta_filepath"

    private let patterns: [String]
    private let refreshInterval: Duration
    private let logger: Logger
    private let state = Mutex<[String: FileEntry]>([:])

    public init(files: [String], refreshInterval: Duration = .seconds(300), logger: Logger) {
        var valid: [String] = []
        for pattern in files {
            if let problem = FileSDConfig.patternProblem(pattern) {
                logger.error("file_sd pattern ignored", metadata: ["pattern": "\(pattern)", "error": "\(problem)"])
            } else {
                valid.append(pattern)
            }
        }
        self.patterns = valid
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    /// Reads every matching file now. A file that cannot be read or parsed keeps the groups it
    /// gave last time (and the error is logged once per change); a file that disappeared contributes nothing.
    public func refresh() -> [TargetGroup] {
        update(rereadAll: true)
    }

    /// Calls `onChange` whenever the set of groups changes from `initial` (what the caller read
    /// with ``refresh()``): files are checked for changes (modification time, size, or a
    /// new/removed match of a glob) every `pollInterval` (default 5 s, used instead of inotify)
    /// and fully re-read every `refreshInterval`. Files are read on `pool`, never on the
    /// cooperative pool. Returns when the task is cancelled.
    public func run(
        initial: [TargetGroup], pollInterval: Duration = .seconds(5), clock: any AgentClock, pool: BlockingIOPool,
        onChange: @Sendable ([TargetGroup]) async -> Void
    ) async {
        var current = initial
        var lastFullRead = clock.now
        while (try? await clock.sleep(for: pollInterval)) != nil {
            let full = clock.now - lastFullRead >= refreshInterval
            if full { lastFullRead = clock.now }
            guard let groups = try? await pool.run({ [self] in update(rereadAll: full) }) else { return }
            if groups != current, !Task.isCancelled {
                current = groups
                await onChange(groups)
            }
        }
    }

    // MARK: Reading

    /// What we know of one matching file.
    private struct FileEntry: Sendable {
        /// The file's identity when it was last read (or attempted).
        var stamp: FileStamp
        /// The groups of its last successful read.
        var groups: [TargetGroup] = []
        /// The error last logged for it, cleared by a successful read.
        var loggedError: String?
    }

    /// Lists the matches and reads those that are new or changed (or all of them), keeping the
    /// last good groups of files that fail. Returns the groups in file order.
    private func update(rereadAll: Bool) -> [TargetGroup] {
        let files = listFiles()
        return state.withLock { entries in
            var next: [String: FileEntry] = [:]
            var groups: [TargetGroup] = []
            for (path, stamp) in files {
                var entry = entries[path] ?? FileEntry(stamp: stamp)
                if rereadAll || entries[path] == nil || entry.stamp != stamp {
                    let changed = entries[path] == nil || entry.stamp != stamp
                    entry.stamp = stamp
                    switch Self.read(path) {
                    case .success(let read):
                        entry.groups = read
                        if entry.loggedError != nil {
                            logger.info("file_sd file readable again", metadata: ["file": "\(path)"])
                        }
                        entry.loggedError = nil
                    case .failure(.missing):
                        continue  // vanished between listing and reading
                    case .failure(.invalid(let message)):
                        if changed || entry.loggedError != message {
                            logger.error(
                                "cannot read file_sd file; keeping its last good target groups",
                                metadata: ["file": "\(path)", "error": "\(message)", "kept_groups": "\(entry.groups.count)"])
                            entry.loggedError = message
                        }
                    }
                }
                next[path] = entry
                groups += entry.groups
            }
            entries = next
            return groups
        }
    }

    /// The files matching the patterns, in pattern order (each pattern's matches sorted by name),
    /// without duplicates, with their current stamps.
    private func listFiles() -> [(path: String, stamp: FileStamp)] {
        var seen: Set<String> = []
        var result: [(path: String, stamp: FileStamp)] = []
        for pattern in patterns {
            for path in Self.glob(pattern) where !seen.contains(path) {
                guard let stamp = FileStamp(path: path), !stamp.isDirectory else { continue }
                seen.insert(path)
                result.append((path, stamp))
            }
        }
        return result
    }

    /// Expands a pattern whose last element may hold glob characters, like Go's `filepath.Glob`.
    static func glob(_ pattern: String) -> [String] {
        let (directory, name) = split(pattern)
        guard name.contains(where: { "*?[\\".contains($0) }) else {
            return FileManager.default.fileExists(atPath: pattern) ? [pattern] : []
        }
        let listed = directory.isEmpty ? "." : directory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: listed) else { return [] }
        return names.filter { fnmatch(name, $0, 0) == 0 }.sorted().map { directory.isEmpty ? $0 : join(directory, $0) }
    }

    /// Splits after the last `/`: `("dir/", "name")`, `("", "name")`.
    private static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private enum Format { case json, yaml }

    private static func format(of name: String) -> Format? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "json": return .json
        case "yml", "yaml": return .yaml
        default: return nil
        }
    }

    enum ReadError: Error, Equatable {
        case missing
        case invalid(String)
    }

    /// Reads and parses one file, adding `__meta_filepath` and the sources.
    static func read(_ path: String) -> Result<[TargetGroup], ReadError> {
        guard let format = format(of: split(path).name) else {
            return .failure(.invalid("unsupported file extension (must be .json, .yml or .yaml)"))
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return .failure(.missing) }
            return .failure(.invalid("\(error)"))
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            return .failure(.invalid("the file is not valid UTF-8"))
        }
        let parsed: [(targets: [String], labels: Labels)]
        do throws(ParseError) {
            switch format {
            case .json: parsed = try TargetGroupJSON.parse(data)
            case .yaml: parsed = try parseYAML(text)
            }
        } catch {
            return .failure(.invalid(error.message))
        }
        return .success(parsed.enumerated().map { index, group in
            TargetGroup(
                source: "\(path):\(index)", addresses: group.targets,
                labels: group.labels.setting(filepathLabel, to: path))
        })
    }

    typealias ParseError = TargetGroupJSON.ParseError

    // MARK: YAML

    private static func parseYAML(_ text: String) throws(ParseError) -> [(targets: [String], labels: Labels)] {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ParseError(message: "invalid YAML: \(error)")
        }
        guard let root, !isNull(root) else { return [] }
        guard let items = root.sequence else {
            throw ParseError(message: "expected a list of target groups, got \(kind(of: root))")
        }
        var result: [(targets: [String], labels: Labels)] = []
        for (index, item) in items.enumerated() {
            let at = "target group \(index)"
            if isNull(item) { throw ParseError(message: "\(at) is null") }
            guard let map = item.mapping else { throw ParseError(message: "\(at): expected a mapping, got \(kind(of: item))") }
            var targets: [String] = []
            var pairs: [(String, String)] = []
            var seenKeys: Set<String> = []
            for (keyNode, value) in map {
                guard let key = keyNode.scalar?.string else { throw ParseError(message: "\(at): keys must be strings") }
                guard seenKeys.insert(key).inserted else { throw ParseError(message: "\(at): duplicate key \"\(key)\"") }
                switch key {
                case "targets":
                    if isNull(value) { continue }
                    guard let list = value.sequence else {
                        throw ParseError(message: "\(at).targets: expected a list of strings, got \(kind(of: value))")
                    }
                    for target in list {
                        guard let string = target.scalar?.string else {
                            throw ParseError(message: "\(at).targets: expected a string, got \(kind(of: target))")
                        }
                        targets.append(string)
                    }
                case "labels":
                    if isNull(value) { continue }
                    guard let labels = value.mapping else {
                        throw ParseError(message: "\(at).labels: expected a mapping, got \(kind(of: value))")
                    }
                    var names: Set<String> = []
                    for (nameNode, valueNode) in labels {
                        guard let name = nameNode.scalar?.string else { throw ParseError(message: "\(at).labels: keys must be strings") }
                        guard names.insert(name).inserted else { throw ParseError(message: "\(at).labels: duplicate label \"\(name)\"") }
                        guard let string = valueNode.scalar?.string else {
                            throw ParseError(message: "\(at).labels.\(name): expected a string, got \(kind(of: valueNode))")
                        }
                        pairs.append((name, isNull(valueNode) ? "" : string))
                    }
                default:
                    throw ParseError(message: "\(at): unknown key \"\(key)\" (expected targets and labels)")
                }
            }
            result.append((targets, try TargetGroupJSON.validLabels(pairs, group: index)))
        }
        return result
    }

    private static func isNull(_ node: Yams.Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return true
        }
        return false
    }

    private static func kind(of node: Yams.Node) -> String {
        switch node {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        }
    }
}

/// What identifies a file's version without reading it: device, inode, size, and modification
/// and status-change times (nanoseconds), following symbolic links (as Kubernetes ConfigMap mounts need).
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: (seconds: Int64, nanoseconds: Int64)
    var changed: (seconds: Int64, nanoseconds: Int64)
    var isDirectory: Bool

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(truncatingIfNeeded: info.st_dev)
        inode = UInt64(truncatingIfNeeded: info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modified = (Int64(info.st_mtimespec.tv_sec), Int64(info.st_mtimespec.tv_nsec))
        changed = (Int64(info.st_ctimespec.tv_sec), Int64(info.st_ctimespec.tv_nsec))
        #else
        modified = (Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec))
        changed = (Int64(info.st_ctim.tv_sec), Int64(info.st_ctim.tv_nsec))
        #endif
        isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func == (lhs: FileStamp, rhs: FileStamp) -> Bool {
        lhs.device == rhs.device && lhs.inode == rhs.inode && lhs.size == rhs.size
            && lhs.modified == rhs.modified && lhs.changed == rhs.changed && lhs.isDirectory == rhs.isDirectory
    }
}
