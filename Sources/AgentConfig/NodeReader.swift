import Model
import Yams

/// Walks the YAML node tree, collecting errors instead of stopping at the first.
struct NodeReader {
    let file: String
    var errors: [ConfigError] = []
    var warnings: [String] = []

    init(file: String) { self.file = file }

    mutating func fail(_ node: Node?, _ key: String, _ message: String) {
        errors.append(ConfigError(file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, key: key, message: message))
    }

    /// The node tree of `yaml`, or the YAML error located in this reader's file.
    func compose(_ yaml: String) throws(ConfigErrors) -> Node? {
        do {
            return try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigErrors(errors: [yamlSyntaxError(error, in: yaml)])
        }
    }

    func yamlSyntaxError(_ error: Error, in yaml: String) -> ConfigError {
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                return ConfigError(file: file, line: mark.line, column: mark.column, key: "", message: "invalid YAML: \(problem)")
            case .duplicatedKeysInMapping(let keys, let context):
                return DuplicateKey.error(keys: keys, firstAt: context.mark, in: yaml, file: file)
            default: break
            }
        }
        return ConfigError(file: file, line: 0, column: 0, key: "", message: "invalid YAML: \(error)")
    }

    // MARK: Generic readers

    /// The mapping's entries, checking that every key is one of `known`. Keys in `ignored` are
    /// accepted with a warning (Prometheus keys an agent has no use for).
    mutating func mapping(_ node: Node, _ path: String, known: Set<String>, ignored: Set<String> = []) -> [String: Node] {
        guard let map = node.mapping else {
            fail(node, path, "expected a mapping, got \(kind(of: node))")
            return [:]
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in map {
            guard let key = keyNode.scalar?.string else {
                fail(keyNode, path, "keys must be strings")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if ignored.contains(key) {
                warnings.append("\(file):\(keyNode.mark?.line ?? 0): \(keyPath) is not used by the agent and is ignored")
                continue
            }
            guard known.contains(key) else {
                fail(keyNode, keyPath, "unknown key \"\(key)\"")
                continue
            }
            if result[key] != nil {
                fail(keyNode, keyPath, "duplicate key \"\(key)\"")
            }
            result[key] = value
        }
        return result
    }

    func kind(of node: Node) -> String {
        switch node {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        }
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return true
        }
        return false
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard let scalar = node.scalar else {
            fail(node, path, "expected a string, got \(kind(of: node))")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let scalar = node.scalar, let value = Bool.construct(from: scalar) else {
            fail(node, path, "expected true or false")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node, _ path: String) -> Int? {
        guard let scalar = node.scalar, let value = Int(scalar.string) else {
            fail(node, path, "expected an integer")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, _ path: String) -> Duration? {
        guard let text = string(node, path) else { return nil }
        guard let value = PrometheusDuration.parse(text) else {
            fail(node, path, "invalid duration \"\(text)\" (use e.g. 15s, 1m30s, 500ms)")
            return nil
        }
        return value
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node] {
        if isNull(node) { return [] }
        guard let sequence = node.sequence else {
            fail(node, path, "expected a list, got \(kind(of: node))")
            return []
        }
        return Array(sequence)
    }

    /// The list at an optional key; an absent key is an empty list.
    mutating func optionalSequence(_ node: Node?, _ path: String) -> [Node] {
        guard let node else { return [] }
        return sequence(node, path)
    }

    mutating func labels(_ node: Node, _ path: String) -> Labels {
        if isNull(node) { return .empty }
        guard let map = node.mapping else {
            fail(node, path, "expected a mapping of label names to values")
            return .empty
        }
        var pairs: [Label] = []
        for (keyNode, valueNode) in map {
            guard let name = keyNode.scalar?.string else { continue }
            guard LabelName.isValid(name) else {
                fail(keyNode, "\(path).\(name)", "invalid label name \"\(name)\"")
                continue
            }
            guard let value = string(valueNode, "\(path).\(name)") else { continue }
            pairs.append(Label(name, value))
        }
        return Labels(pairs)
    }

    /// A node serialized canonically, for comparing configs across reloads.
    static func fingerprint(_ node: Node) -> String {
        (try? Yams.serialize(node: node)) ?? "\(node)"
    }
}
