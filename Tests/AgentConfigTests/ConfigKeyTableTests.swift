import AgentConfig
import Foundation
import Testing
import Yams

/// README.md's configuration table has one row per key of Prometheus's configuration reference
/// (Fixtures/prometheus-keys.yaml) in the sections the agent reads, and each row says what the
/// loader does with that key: this checks every row against the loader itself.
@Suite struct ConfigKeyTableTests {
    // MARK: The README table

    /// What loading a key does, as a README row states it.
    enum Status: String, CaseIterable {
        case supported = "supported"
        case ignored = "ignored"
        case notSupported = "error: not supported"
        case unknownKey = "error: unknown key"
    }

    struct Row {
        var section: String
        var key: String
        /// The status, and per-context exceptions (`http_config` rows: `remote_write: ignored`).
        var status: Status
        var exceptions: [String: Status]
        var line: Int

        func status(in context: String) -> Status { exceptions[context] ?? status }
    }

    static let readme = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")

    /// The rows between `<!-- configuration-keys:begin -->` and `<!-- configuration-keys:end -->`:
    /// `| section | `key` | status | meaning |`.
    static let rows: [Row] = {
        guard let text = try? String(contentsOf: readme, encoding: .utf8) else { return [] }
        var rows: [Row] = []
        var inside = false
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.contains("<!-- configuration-keys:begin -->") { inside = true; continue }
            if line.contains("<!-- configuration-keys:end -->") { break }
            guard inside, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[1].hasPrefix("`") else { continue }
            let parts = cells[2].components(separatedBy: "; ")
            var exceptions: [String: Status] = [:]
            for part in parts.dropFirst() {
                guard let colon = part.range(of: ": ") else { continue }
                exceptions[String(part[..<colon.lowerBound])] = Status(rawValue: String(part[colon.upperBound...]))
            }
            rows.append(
                Row(
                    section: cells[0], key: cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                    status: Status(rawValue: parts[0]) ?? .supported, exceptions: exceptions, line: index + 1))
            if Status(rawValue: parts[0]) == nil { rows[rows.count - 1].section = "!unreadable status \"\(cells[2])\"" }
        }
        return rows
    }()

    // MARK: The reference's keys

    struct Key: CustomTestStringConvertible, Sendable {
        var section: String
        var key: String
        var snippetYAML: String
        var testDescription: String { "\(section) \(key)" }
    }

    static let keys: [Key] = {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/prometheus-keys.yaml")
        guard let text = try? String(contentsOf: url, encoding: .utf8), let root = try? Yams.compose(yaml: text), let sections = root.mapping else { return [] }
        return sections.flatMap { section in
            (section.value.mapping ?? [:]).map { entry in
                Key(section: section.key.string ?? "", key: entry.key.string ?? "", snippetYAML: (try? Yams.serialize(node: entry.value)) ?? "")
            }
        }
    }()

    // MARK: Where each section's keys go

    enum Step { case key(String), index(Int) }

    /// Where a section's snippet is merged in the base configuration, and what it is merged
    /// onto first (`seed`: the section's required keys).
    struct Context {
        var name: String
        var path: [Step]
        var seed: String = "{}"
        /// Keys above this (`scrape_configs`, `remote_write`) are the template's, not the key's.
        var root: String = ""
    }

    static let base = """
        scrape_configs:
          - job_name: j
            static_configs: [{targets: ['127.0.0.1:9100']}]
        remote_write:
          - url: http://127.0.0.1:9009/api/v1/write
        """

    static let scrape: [Step] = [.key("scrape_configs"), .index(0)]
    static let remote: [Step] = [.key("remote_write"), .index(0)]

    static func contexts(for section: String) -> [Context] {
        switch section {
        case "top level": return [Context(name: section, path: [])]
        case "global", "wal": return [Context(name: section, path: [.key(section)])]
        case "scrape_config": return [Context(name: section, path: scrape, root: "scrape_configs")]
        case "http_config":
            return [
                Context(name: "scrape_config", path: scrape, root: "scrape_configs"),
                Context(name: "remote_write", path: remote, root: "remote_write"),
                Context(
                    name: "kubernetes_sd_config", path: scrape + [.key("kubernetes_sd_configs"), .index(0)], seed: "{role: pod}",
                    root: "scrape_configs.kubernetes_sd_configs"),
            ]
        case "tls_config": return [Context(name: section, path: scrape + [.key("tls_config")], root: "scrape_configs")]
        case "oauth2":
            return [
                Context(
                    name: section, path: scrape + [.key("oauth2")], seed: "{client_id: id, client_secret: s, token_url: 'http://127.0.0.1:9/token'}",
                    root: "scrape_configs")
            ]
        case "static_config": return [Context(name: section, path: scrape + [.key("static_configs"), .index(0)], root: "scrape_configs")]
        case "file_sd_config", "kubernetes_sd_config", "http_sd_config", "dns_sd_config":
            let seeds = [
                "file_sd_config": "{files: [targets/*.json]}", "kubernetes_sd_config": "{role: pod}",
                "http_sd_config": "{url: 'http://127.0.0.1:8081/sd'}", "dns_sd_config": "{names: [_node._tcp.example.com]}",
            ]
            return [Context(name: section, path: scrape + [.key("\(section)s"), .index(0)], seed: seeds[section]!, root: "scrape_configs")]
        case "relabel_config": return [Context(name: section, path: scrape + [.key("relabel_configs"), .index(0)], root: "scrape_configs")]
        case "remote_write": return [Context(name: section, path: remote, root: "remote_write")]
        case "queue_config", "metadata_config": return [Context(name: section, path: remote + [.key(section)], root: "remote_write")]
        default: return []
        }
    }

    /// `node` with `snippet`'s entries merged into the mapping at `path` (created when missing;
    /// a null in the snippet removes the key).
    static func merging(_ snippet: Node, at path: ArraySlice<Step>, into node: Node?) -> Node {
        guard let step = path.first else {
            var pairs = node?.mapping.map { $0.map { ($0.key, $0.value) } } ?? []
            for (key, value) in snippet.mapping ?? [:] {
                pairs.removeAll { $0.0 == key }
                if !(value.scalar?.string == "null" && value.scalar?.style == .plain) { pairs.append((key, value)) }
            }
            return Node(pairs)
        }
        switch step {
        case .key(let key):
            var pairs = node?.mapping.map { $0.map { ($0.key, $0.value) } } ?? []
            if let index = pairs.firstIndex(where: { $0.0.string == key }) {
                pairs[index].1 = merging(snippet, at: path.dropFirst(), into: pairs[index].1)
            } else {
                pairs.append((Node(key), merging(snippet, at: path.dropFirst(), into: nil)))
            }
            return Node(pairs)
        case .index(let index):
            var items = node?.sequence.map(Array.init) ?? []
            if index < items.count {
                items[index] = merging(snippet, at: path.dropFirst(), into: items[index])
            } else {
                items.append(merging(snippet, at: path.dropFirst(), into: nil))
            }
            return Node(items)
        }
    }

    static func normalized(_ path: String) -> String {
        path.replacingOccurrences(of: #"\[\d+\]"#, with: "", options: .regularExpression)
    }

    // MARK: Observing the loader

    enum Behaviour: Equatable {
        case status(Status)
        case otherError(String)
    }

    /// What loading the configuration with `key` in `context` does.
    static func observe(_ key: Key, in context: Context) throws -> (Behaviour, yaml: String) {
        let snippet = try #require(try Yams.compose(yaml: key.snippetYAML))
        let seeded = merging(try #require(try Yams.compose(yaml: context.seed)), at: context.path[...], into: try Yams.compose(yaml: base))
        let yaml = try Yams.serialize(node: merging(snippet, at: context.path[...], into: seeded))
        let location = context.path.compactMap { step -> String? in if case .key(let key) = step { key } else { nil } }
        let keyPath = (location + [key.key]).joined(separator: ".")
        // The key itself or a block it is in, below the template's own keys.
        let components = keyPath.split(separator: ".")
        let rootDepth = context.root.isEmpty ? 0 : context.root.split(separator: ".").count
        let candidates = Set((rootDepth..<components.count).map { components[...$0].joined(separator: ".") })
        do {
            let config = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
            let warned = config.warnings.contains { warning in
                let text = normalized(warning)
                return candidates.contains { text.contains(" \($0) ") || text.contains(" \($0):") }
            }
            return (.status(warned ? .ignored : .supported), yaml)
        } catch {
            for problem in error.errors where candidates.contains(normalized(problem.key)) {
                if problem.message.contains("not supported") { return (.status(.notSupported), yaml) }
                if problem.message.contains("unknown key") { return (.status(.unknownKey), yaml) }
            }
            return (.otherError(error.description), yaml)
        }
    }

    // MARK: Tests

    @Test func everyKeyHasExactlyOneRowAndEveryRowAKey() {
        #expect(Self.keys.count > 200, "the fixture lists the reference's keys")
        for row in Self.rows where row.section.hasPrefix("!") {
            Issue.record("README.md:\(row.line): \(row.section); use one of \(Status.allCases.map(\.rawValue))")
        }
        for key in Self.keys {
            let matching = Self.rows.filter { $0.section == key.section && $0.key == key.key }
            if matching.isEmpty {
                Issue.record("README.md has no row for \(key.section) `\(key.key)`: add `| \(key.section) | `\(key.key)` | STATUS | meaning |` to the configuration table")
            } else if matching.count > 1 {
                Issue.record("README.md has \(matching.count) rows for \(key.section) `\(key.key)` (lines \(matching.map(\.line))): keep one")
            }
        }
        for row in Self.rows where !row.section.hasPrefix("!") && !Self.keys.contains(where: { $0.section == row.section && $0.key == row.key }) {
            Issue.record("README.md:\(row.line): `\(row.key)` in section \(row.section) is not a key of Fixtures/prometheus-keys.yaml: remove the row or add the key to the fixture")
        }
    }

    @Test(arguments: keys)
    func readmeRowMatchesTheLoader(key: Key) throws {
        guard let row = Self.rows.first(where: { $0.section == key.section && $0.key == key.key }) else { return }
        let contexts = Self.contexts(for: key.section)
        #expect(!contexts.isEmpty, "no template for section \(key.section)")
        var observed: [String: Status] = [:]
        for context in contexts {
            let (behaviour, yaml) = try Self.observe(key, in: context)
            switch behaviour {
            case .otherError(let errors):
                Issue.record("""
                    \(key.section) `\(key.key)` in \(context.name): loading failed with an error that is neither "not supported" \
                    nor "unknown key" for this key; the fixture's snippet may be wrong, or the loader rejects a valid value:
                    \(errors)
                    \(yaml)
                    """)
            case .status(let status):
                observed[context.name] = status
            }
        }
        for (context, status) in observed where status != row.status(in: context) {
            let suggested = Self.suggestedStatus(observed, contexts: contexts.map(\.name))
            Issue.record("""
                README.md:\(row.line) (\(key.section) `\(key.key)`) says "\(row.status(in: context).rawValue)"\
                \(contexts.count > 1 ? " in \(context)" : ""), but the loader now gives "\(status.rawValue)": \
                change that row's status to "\(suggested)" (and its meaning column to match)
                """)
        }
    }

    /// The status cell that states `observed`: the most common status, then exceptions.
    static func suggestedStatus(_ observed: [String: Status], contexts: [String]) -> String {
        let counts = Dictionary(grouping: contexts.compactMap { observed[$0] }, by: { $0 }).mapValues(\.count)
        guard let main = Status.allCases.max(by: { counts[$0, default: 0] < counts[$1, default: 0] }) else { return "" }
        let exceptions = contexts.compactMap { context in observed[context].flatMap { $0 == main ? nil : "\(context): \($0.rawValue)" } }
        return ([main.rawValue] + exceptions).joined(separator: "; ")
    }
}
