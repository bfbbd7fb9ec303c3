import Foundation
import Relabel
import Model
import Yams

/// Every problem found in one configuration file.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }

    public init(errors: [ConfigError]) {
        self.errors = errors
    }
}

/// Reads a Prometheus-format YAML configuration, applying Prometheus's defaults and rejecting
/// unknown keys, wrong types and invalid values with errors that name file, line, column and key.
public enum ConfigLoader {
    /// Loads and validates the file at `path`; with `expandEnvironment`, `${VAR}` and
    /// `${VAR:-default}` are replaced from `environment` first (`$$` is a literal `$`).
    public static func load(
        file path: String, expandEnvironment: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors(errors: [
                ConfigError(file: path, line: 0, column: 0, key: "", message: "cannot read file: \(error.localizedDescription)")
            ])
        }
        var configuration = try parse(yaml: expandEnvironment ? expand(text, environment: environment) : text, file: path)
        configuration.resolvePaths(relativeTo: (path as NSString).deletingLastPathComponent)
        return configuration
    }

    /// `${VAR}` and `${VAR:-default}` replaced from `environment` (an unset VAR without a default
    /// becomes empty), `$$` replaced by `$`; anything else is left as written.
    public static func expand(_ text: String, environment: [String: String]) -> String {
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.first == "$" {
                out += "$"
                rest = after.dropFirst()
            } else if after.first == "{", let close = after.firstIndex(of: "}") {
                let body = after[after.index(after: after.startIndex)..<close]
                let (name, fallback): (Substring, Substring?) =
                    body.range(of: ":-").map { (body[..<$0.lowerBound], body[$0.upperBound...]) } ?? (body, nil)
                let value = environment[String(name)].flatMap { $0.isEmpty ? nil : $0 }
                out += value ?? fallback.map(String.init) ?? ""
                rest = after[after.index(after: close)...]
            } else {
                out += "$"
                rest = after
            }
        }
        return out + rest
    }

    /// Parses and validates `yaml`; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> Configuration {
        var reader = NodeReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigErrors(errors: [reader.yamlSyntaxError(error)])
        }
        let config = reader.configuration(root)
        if !reader.errors.isEmpty { throw ConfigErrors(errors: reader.errors) }
        return config
    }
}
