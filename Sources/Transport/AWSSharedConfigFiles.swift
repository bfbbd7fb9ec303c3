import Foundation

/// The AWS shared `credentials` and `config` files (INI), as the AWS SDKs read them: the
/// credentials file's sections are profile names (`[default]`, `[prod]`); the config file's are
/// `[default]` and `[profile prod]`. For one profile, a key in the credentials file wins over
/// the same key in the config file.
struct AWSSharedConfigFiles: Sendable {
    /// Each profile's keys (names lowercased), both files merged.
    var profiles: [String: [String: String]] = [:]

    /// Reads the files named by `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`, by default
    /// `~/.aws/credentials` and `~/.aws/config` (`~` is `HOME`). A missing file is empty.
    init(environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        if let text = try? String(contentsOfFile: configPath, encoding: .utf8) {
            for (section, keys) in Self.sections(text) {
                let name: String
                if section == "default" {
                    name = section
                } else if section.hasPrefix("profile ") {
                    name = section.dropFirst("profile ".count).trimmingCharacters(in: .whitespaces)
                } else {
                    continue  // sso-session and services sections
                }
                profiles[name, default: [:]].merge(keys) { _, new in new }
            }
        }
        if let text = try? String(contentsOfFile: credentialsPath, encoding: .utf8) {
            for (section, keys) in Self.sections(text) {
                profiles[section, default: [:]].merge(keys) { _, new in new }
            }
        }
    }

    init(profiles: [String: [String: String]]) {
        self.profiles = profiles
    }

    /// `[section]` headers and `key = value` lines; `#` and `;` start comments; indented lines
    /// (nested `s3 =` blocks) are skipped.
    static func sections(_ text: String) -> [(String, [String: String])] {
        var result: [(String, [String: String])] = []
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                result.append((line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces), [:]))
                continue
            }
            guard !rawLine.hasPrefix(" "), !rawLine.hasPrefix("\t"), !result.isEmpty,
                let equals = line.firstIndex(of: "=")
            else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            result[result.count - 1].1[key] = value
        }
        return result
    }
}
