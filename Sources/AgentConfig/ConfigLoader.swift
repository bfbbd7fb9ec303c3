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
    /// Loads and validates the file at `path` and the files its `scrape_config_files` match;
    /// with `expandEnvironment`, `${VAR}` and `${VAR:-default}` are replaced from `environment`
    /// first (`$$` is a literal `$`), in every file. A configuration with nothing to scrape and
    /// nowhere to send (no job, in the file or its included files, and no `remote_write`) is an
    /// error: an empty file from a broken template must not silently stop monitoring.
    public static func load(
        file path: String, expandEnvironment: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> Configuration {
        let text = try read(path, expandEnvironment: expandEnvironment, environment: environment)
        var configuration = try parse(yaml: text, file: path)
        configuration.resolvePaths(relativeTo: (path as NSString).deletingLastPathComponent)
        try loadScrapeConfigFiles(into: &configuration, expandEnvironment: expandEnvironment, environment: environment)
        if configuration.scrapeConfigs.isEmpty && configuration.remoteWrite.isEmpty {
            let includes = configuration.scrapeConfigFiles.isEmpty ? "" : " (none in the files scrape_config_files matches)"
            throw ConfigErrors(errors: [
                ConfigError(
                    file: path, line: 0, column: 0, key: "",
                    message: "nothing to scrape and nowhere to send: no scrape_configs\(includes) and no remote_write")
            ])
        }
        return configuration
    }

    /// The text of the file at `path`, environment-expanded if asked.
    static func read(_ path: String, expandEnvironment: Bool, environment: [String: String]) throws(ConfigErrors) -> String {
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return expandEnvironment ? expand(text, environment: environment) : text
        } catch {
            throw ConfigErrors(errors: [
                ConfigError(file: path, line: 0, column: 0, key: "", message: "cannot read file: \(error.localizedDescription)")
            ])
        }
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
        let root = try reader.compose(yaml)
        let config = reader.configuration(root)
        if !reader.errors.isEmpty { throw ConfigErrors(errors: reader.errors) }
        return config
    }
}
