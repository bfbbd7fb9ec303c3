import AgentConfig
import Foundation

extension KubernetesAPIConfig {
    /// The configuration of a kubeconfig file's current context (or `context`): the cluster's
    /// `server`, `certificate-authority`(`-data`), `insecure-skip-tls-verify`,
    /// `tls-server-name`, `proxy-url`; the user's `token`, `tokenFile`,
    /// `client-certificate`(`-data`), `client-key`(`-data`), `username`/`password`; the
    /// context's `namespace`.
    ///
    /// Relative paths are resolved against the file's directory. libcurl takes certificates
    /// and keys as files, so `-data` fields (base64 PEM) are written to files readable only by
    /// this user in a private temporary directory (one file per distinct content, reused).
    ///
    /// The file is read now, once: a changed kubeconfig takes effect on the next configuration
    /// reload. A `tokenFile` is re-read like any token file.
    ///
    /// Not supported: `exec` and `auth-provider` credential plugins (an error when the user has
    /// no other credentials), YAML block scalars (`|`, `>`), anchors and flow collections other
    /// than `{}`/`[]` (kubectl writes none of these). JSON kubeconfigs are read too.
    public static func kubeconfig(file: String, context: String? = nil) throws(KubernetesClientError) -> KubernetesAPIConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw .configuration("cannot read kubeconfig \(file): \(error.localizedDescription)")
        }
        let root: Any?
        do {
            root = try parseKubeconfigDocument(text)
        } catch {
            throw .configuration("cannot parse kubeconfig \(file): \(error)")
        }
        guard let document = root as? [String: Any] else {
            throw .configuration("kubeconfig \(file) is not a mapping")
        }
        let directory = (file as NSString).deletingLastPathComponent
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
        }
        func named(_ section: String, _ name: String, _ field: String) throws(KubernetesClientError) -> [String: Any] {
            let entries = document[section] as? [Any] ?? []
            for case let entry as [String: Any] in entries where entry["name"] as? String == name {
                return entry[field] as? [String: Any] ?? [:]
            }
            throw .configuration("kubeconfig \(file): no \(field) named \(String(reflecting: name))")
        }

        guard let contextName = context ?? (document["current-context"] as? String), !contextName.isEmpty else {
            throw .configuration("kubeconfig \(file) has no current-context")
        }
        let contextEntry = try named("contexts", contextName, "context")
        guard let clusterName = contextEntry["cluster"] as? String else {
            throw .configuration("kubeconfig \(file): context \(String(reflecting: contextName)) names no cluster")
        }
        let cluster = try named("clusters", clusterName, "cluster")
        let user = try (contextEntry["user"] as? String).map { name throws(KubernetesClientError) in
            try named("users", name, "user")
        } ?? [:]

        guard let server = cluster["server"] as? String, !server.isEmpty else {
            throw .configuration("kubeconfig \(file): cluster \(String(reflecting: clusterName)) has no server")
        }
        var client = HTTPClientConfig()
        if let data = cluster["certificate-authority-data"] as? String {
            client.tls.caFile = try writePrivateFile(base64: data, suffix: "ca.crt", field: "certificate-authority-data")
        } else if let path = cluster["certificate-authority"] as? String {
            client.tls.caFile = resolve(path)
        }
        client.tls.insecureSkipVerify = isTrue(cluster["insecure-skip-tls-verify"])
        client.tls.serverName = cluster["tls-server-name"] as? String
        client.proxyURL = cluster["proxy-url"] as? String

        if let data = user["client-certificate-data"] as? String {
            client.tls.certFile = try writePrivateFile(base64: data, suffix: "client.crt", field: "client-certificate-data")
        } else if let path = user["client-certificate"] as? String {
            client.tls.certFile = resolve(path)
        }
        if let data = user["client-key-data"] as? String {
            client.tls.keyFile = try writePrivateFile(base64: data, suffix: "client.key", field: "client-key-data")
        } else if let path = user["client-key"] as? String {
            client.tls.keyFile = resolve(path)
        }
        if let token = user["token"] as? String, !token.isEmpty {
            client.authorization = Authorization(type: "Bearer", credentials: .inline(token))
        } else if let path = user["tokenFile"] as? String, !path.isEmpty {
            client.authorization = Authorization(type: "Bearer", credentials: .file(resolve(path)))
        } else if let username = user["username"] as? String, !username.isEmpty {
            client.basicAuth = BasicAuth(username: username, password: (user["password"] as? String).map(Secret.inline))
        } else if client.tls.certFile == nil, user["exec"] != nil || user["auth-provider"] != nil {
            throw .configuration("kubeconfig \(file): exec and auth-provider credential plugins are not supported")
        }

        let namespace = (contextEntry["namespace"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return KubernetesAPIConfig(server: server, httpClient: client, namespace: namespace ?? "default")
    }

    private static func isTrue(_ value: Any?) -> Bool {
        switch value {
        case let bool as Bool: bool
        case let string as String: ["true", "yes", "on"].contains(string.lowercased())
        default: false
        }
    }

    /// Decodes base64 `data` into a `0600` file in a `0700` per-user temporary directory,
    /// named by a hash of the content (so rereading the same kubeconfig reuses it).
    private static func writePrivateFile(base64 text: String, suffix: String, field: String) throws(KubernetesClientError) -> String {
        guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
            throw .configuration("kubeconfig \(field) is not valid base64")
        }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let directory = NSTemporaryDirectory() + "metrics-agent-kubeconfig-\(getuid())"
        let path = directory + "/" + String(hash, radix: 16) + "-" + suffix
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // The directory may already exist, made by someone else: it must be ours and private.
            let attributes = try manager.attributesOfItem(atPath: directory)
            guard (attributes[.ownerAccountID] as? NSNumber)?.uint32Value == getuid(),
                  ((attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777) & 0o077 == 0
            else {
                throw KubernetesClientError.configuration("temporary directory \(directory) is not private to this user")
            }
            if manager.contents(atPath: path) == data { return path }
            let temporary = path + ".\(UUID().uuidString)"
            guard manager.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw KubernetesClientError.configuration("cannot write \(temporary)")
            }
            // rename(2) replaces atomically, so a reader never sees half a file.
            guard rename(temporary, path) == 0 else {
                let code = errno
                try? manager.removeItem(atPath: temporary)
                throw KubernetesClientError.configuration("cannot rename \(temporary) to \(path): \(String(cString: strerror(code)))")
            }
            return path
        } catch let error as KubernetesClientError {
            throw error
        } catch {
            throw .configuration("cannot write kubeconfig \(field) to \(path): \(error.localizedDescription)")
        }
    }
}

// MARK: A minimal YAML reader for kubeconfig files

/// The kubeconfig as nested `[String: Any]`, `[Any]` and `String` values (JSON documents are
/// parsed as JSON, giving JSON types).
func parseKubeconfigDocument(_ text: String) throws -> Any? {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.hasPrefix("{") {
        return try JSONSerialization.jsonObject(with: Data(trimmed.utf8))
    }
    var reader = MiniYAMLReader(text)
    return try reader.document()
}

struct MiniYAMLError: Error, CustomStringConvertible {
    var description: String
}

/// Block mappings and sequences of plain, single- and double-quoted scalars, `#` comments,
/// and the empty flow collections `{}` and `[]`: the YAML that `kubectl config` writes.
struct MiniYAMLReader {
    private struct Line {
        var indent: Int
        var content: String
        var number: Int
    }

    private var lines: [Line] = []
    private var index = 0

    init(_ text: String) {
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.hasPrefix("---") || line.hasPrefix("...") { continue }
            let stripped = Self.stripComment(line)
            let content = stripped.drop { $0 == " " }
            guard !content.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            lines.append(Line(indent: stripped.count - content.count,
                              content: String(content).trimmingCharacters(in: .whitespaces), number: number + 1))
        }
    }

    mutating func document() throws -> Any? {
        guard index < lines.count else { return nil }
        let value = try node(minimumIndent: 0)
        if index < lines.count {
            throw MiniYAMLError(description: "line \(lines[index].number): unexpected indentation")
        }
        return value
    }

    /// The block node starting at the current line, whose indentation must be at least `minimumIndent`.
    private mutating func node(minimumIndent: Int) throws -> Any? {
        guard index < lines.count, lines[index].indent >= minimumIndent else { return nil }
        let line = lines[index]
        if Self.isSequenceItem(line.content) { return try sequence(indent: line.indent) }
        if Self.splitKey(line.content) != nil { return try mapping(indent: line.indent) }
        index += 1
        return try Self.scalar(line.content, line: line.number)
    }

    private mutating func mapping(indent: Int) throws -> [String: Any] {
        var result: [String: Any] = [:]
        while index < lines.count, lines[index].indent == indent, !Self.isSequenceItem(lines[index].content) {
            let line = lines[index]
            guard let (rawKey, rawValue) = Self.splitKey(line.content) else {
                throw MiniYAMLError(description: "line \(line.number): expected `key: value`")
            }
            let key = try Self.scalar(rawKey, line: line.number) as? String ?? rawKey
            index += 1
            if !rawValue.isEmpty {
                result[key] = try Self.scalar(rawValue, line: line.number)
            } else if index < lines.count, lines[index].indent > indent {
                result[key] = try node(minimumIndent: indent + 1)
            } else if index < lines.count, lines[index].indent == indent, Self.isSequenceItem(lines[index].content) {
                // A sequence may sit at its key's indentation.
                result[key] = try sequence(indent: indent)
            } else {
                result[key] = NSNull()
            }
        }
        return result
    }

    private mutating func sequence(indent: Int) throws -> [Any] {
        var result: [Any] = []
        while index < lines.count, lines[index].indent == indent, Self.isSequenceItem(lines[index].content) {
            let line = lines[index]
            let rest = line.content.dropFirst().drop { $0 == " " }
            if rest.isEmpty {
                index += 1
                result.append(try node(minimumIndent: indent + 1) ?? NSNull())
            } else if Self.splitKey(String(rest)) != nil {
                // `- key: value`: a mapping whose keys line up with `key`.
                let itemIndent = indent + (line.content.count - rest.count)
                lines[index] = Line(indent: itemIndent, content: String(rest), number: line.number)
                result.append(try mapping(indent: itemIndent))
            } else {
                index += 1
                result.append(try Self.scalar(String(rest), line: line.number) ?? NSNull())
            }
        }
        return result
    }

    private static func isSequenceItem(_ content: String) -> Bool {
        content == "-" || content.hasPrefix("- ")
    }

    /// `key: value` or `key:` outside quotes; nil for a scalar line.
    private static func splitKey(_ content: String) -> (String, String)? {
        var quote: Character?
        var previous: Character = " "
        for position in content.indices {
            let character = content[position]
            if let open = quote {
                if character == open { quote = nil }
            } else if (character == "\"" || character == "'") && previous == " " {
                quote = character
            } else if character == ":" {
                let next = content.index(after: position)
                if next == content.endIndex || content[next] == " " {
                    let key = content[..<position].trimmingCharacters(in: .whitespaces)
                    let value = next == content.endIndex ? "" : content[next...].trimmingCharacters(in: .whitespaces)
                    return (key, value)
                }
            }
            previous = character
        }
        return nil
    }

    /// Drops a `#` comment (one at the line start or after a space, outside quotes).
    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for position in line.indices {
            let character = line[position]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                if previous == " " || previous == ":" || previous == "-" { quote = character }
            } else if character == "#", previous == " " || previous == "\t" {
                return String(line[..<position])
            }
            previous = character
        }
        return line
    }

    private static func scalar(_ text: String, line: Int) throws -> Any? {
        switch text {
        case "{}": return [String: Any]()
        case "[]": return [Any]()
        case "~", "null", "Null", "NULL": return nil
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: break
        }
        if text.hasPrefix("|") || text.hasPrefix(">") {
            throw MiniYAMLError(description: "line \(line): block scalars are not supported")
        }
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'") else {
                throw MiniYAMLError(description: "line \(line): unterminated quoted string")
            }
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else {
                throw MiniYAMLError(description: "line \(line): unterminated quoted string")
            }
            // JSON's escapes are a subset of YAML's double-quoted ones.
            let decoded = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return decoded as? String ?? String(text.dropFirst().dropLast())
        }
        if text.hasPrefix("{") || text.hasPrefix("[") || text.hasPrefix("&") || text.hasPrefix("*") {
            throw MiniYAMLError(description: "line \(line): flow collections, anchors and aliases are not supported")
        }
        return text
    }
}
