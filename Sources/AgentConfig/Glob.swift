#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Go's `filepath.Glob`, which Prometheus uses for `scrape_config_files`: `*`, `?`, `[...]` and
/// `\` escapes in any path element, `*` matching leading dots too; each directory's matches in
/// byte order. A pattern without glob characters names itself if the file exists. Blocking file
/// I/O (directory listings): call it where blocking is allowed (loading a configuration).
enum Glob {
    static func expand(_ pattern: String) -> [String] {
        guard hasMeta(pattern) else { return exists(pattern) ? [pattern] : [] }
        let slash = pattern.lastIndex(of: "/")
        let name = slash.map { String(pattern[pattern.index(after: $0)...]) } ?? pattern
        var directory = slash.map { String(pattern[..<$0]) } ?? ""
        if slash != nil && directory.isEmpty { directory = "/" }
        let directories = hasMeta(directory) ? expand(directory) : [directory]
        var matches: [String] = []
        for directory in directories {
            matches += entries(of: directory.isEmpty ? "." : directory)
                .filter { fnmatch(name, $0, 0) == 0 }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { directory.isEmpty ? $0 : directory.hasSuffix("/") ? directory + $0 : directory + "/" + $0 }
        }
        return matches
    }

    static func hasMeta(_ path: String) -> Bool {
        path.contains { $0 == "*" || $0 == "?" || $0 == "[" || $0 == "\\" }
    }

    private static func exists(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)) != nil
    }

    /// The names in `directory`; none if it cannot be listed.
    private static func entries(of directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }
}
