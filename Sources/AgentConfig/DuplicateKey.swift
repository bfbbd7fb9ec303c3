import Yams

/// The error for a YAML mapping that has a key twice.
///
/// Yams refuses such a document while composing it and says only which keys repeat and where
/// the first of them is; its message then quotes the whole document. Prometheus (Go's yaml)
/// names the line of the repetition, so the second occurrence is looked for here, in the text:
/// the next line of the same block mapping whose key starts in the same column.
enum DuplicateKey {
    /// - Parameters:
    ///   - keys: the repeated keys, as Yams reports them.
    ///   - first: where Yams says the first occurrence of one of them is (1-based).
    static func error(keys: [String], firstAt first: Mark, in yaml: String, file: String) -> ConfigError {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        let key = keys.first { keyText(in: lines, line: first.line, column: first.column) == $0 } ?? keys.first ?? ""
        let others = keys.filter { $0 != key }
        let also = others.isEmpty ? "" : "; also repeated in this mapping: " + others.map { "\"\($0)\"" }.joined(separator: ", ")
        if let again = repetition(of: key, in: lines, after: first) {
            return ConfigError(
                file: file, line: again.line, column: again.column, key: key,
                message: "duplicate key \"\(key)\" (first at line \(first.line))\(also)")
        }
        return ConfigError(
            file: file, line: first.line, column: first.column, key: key, message: "key \"\(key)\" appears more than once in this mapping\(also)")
    }

    /// The next line of the block mapping holding `first` whose key is `key`: lines starting
    /// further right belong to values, a line starting further left ends the mapping.
    private static func repetition(of key: String, in lines: [Substring], after first: Mark) -> (line: Int, column: Int)? {
        guard first.line >= 1, first.column >= 1 else { return nil }
        var index = first.line  // the line after the first occurrence, 0-based
        while index < lines.count {
            let line = lines[index]
            index += 1
            let content = line.drop { $0 == " " }
            if content.isEmpty || content.hasPrefix("#") { continue }
            let column = line.count - content.count + 1
            if column < first.column { return nil }
            if column == first.column, keyText(in: lines, line: index, column: column) == key { return (index, column) }
        }
        return nil
    }

    /// The mapping key starting at `line`:`column` (1-based), without quotes; nil if there is none.
    private static func keyText(in lines: [Substring], line: Int, column: Int) -> String? {
        guard line >= 1, line <= lines.count else { return nil }
        let text = lines[line - 1]
        guard column >= 1, column <= text.count else { return nil }
        var rest = text.dropFirst(column - 1)
        if let quote = rest.first, quote == "\"" || quote == "'" {
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: quote) else { return nil }
            return String(rest[..<close])
        }
        // A plain key ends at the first ": " (or a ":" ending the line).
        var index = rest.startIndex
        while let colon = rest[index...].firstIndex(of: ":") {
            let next = rest.index(after: colon)
            if next == rest.endIndex || rest[next] == " " || rest[next] == "\t" {
                return String(rest[..<colon]).trimmingTrailingBlanks()
            }
            index = next
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingTrailingBlanks() -> String {
        var text = Substring(self)
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
