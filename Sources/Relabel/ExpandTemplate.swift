/// A replacement template (`replacement`, `target_label`) parsed once against a compiled regex,
/// following Go's `Regexp.Expand` rules exactly:
///
/// - `$$` is a literal `$`;
/// - `$name` / `${name}` refer to a group, where a name is the longest run of letters, digits
///   and `_` (so `$1x` names a group `1x`, not group 1 followed by `x`);
/// - a name that is a decimal number without leading zeros (below 10^8) is a group index,
///   any other name a named group `(?P<name>...)`;
/// - a group that does not exist or did not take part in the match expands to "";
/// - a `$` not followed by a valid reference (`$`, `$-`, `${x`, `${}`) stays a literal `$`.
struct ExpandTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal(String)
        case group(Int)
    }

    /// The template's parts; group references that can never match are already removed.
    let parts: [Part]

    /// The template's text when it has no group reference (expansion is then that text).
    let literal: String?

    /// How many groups a match must extract for `expand` (highest referenced index + 1; 0 when none).
    let groupsNeeded: Int

    init(_ template: String, regex: RE2Regex) {
        var parts: [Part] = []
        var pending = ""
        var rest = Substring(template)
        while let dollar = rest.firstIndex(of: "$") {
            pending += rest[rest.startIndex..<dollar]
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" {
                pending += "$"
                rest = rest.dropFirst()
                continue
            }
            guard let (name, after) = Self.extractName(rest) else {
                pending += "$"  // malformed: the `$` is raw text
                continue
            }
            rest = after
            let index = Self.groupNumber(name) ?? regex.groupIndex(named: String(name))
            guard let index, index <= regex.groupCount else { continue }  // expands to ""
            if !pending.isEmpty {
                parts.append(.literal(pending))
                pending = ""
            }
            parts.append(.group(index))
        }
        pending += rest
        if !pending.isEmpty { parts.append(.literal(pending)) }

        self.parts = parts
        var needed = 0
        for case .group(let index) in parts { needed = max(needed, index + 1) }
        self.groupsNeeded = needed
        if needed == 0 {
            self.literal = parts.reduce(into: "") { text, part in
                if case .literal(let piece) = part { text += piece }
            }
        } else {
            self.literal = nil
        }
    }

    /// Expands the template for a match of `text` (the groups must cover `groupsNeeded`).
    func expand(_ text: String, _ groups: MatchGroups) -> String {
        if let literal { return literal }
        if parts.count == 1, case .group(let index) = parts[0] {
            return groups[index].map { String(text.utf8Slice($0)) } ?? ""
        }
        var out = ""
        for part in parts {
            switch part {
            case .literal(let piece):
                out += piece
            case .group(let index):
                if let range = groups[index] { out += text.utf8Slice(range) }
            }
        }
        return out
    }

    /// Go's `extract`: after a `$`, reads `name` or `{name}`; nil when malformed.
    private static func extractName(_ text: Substring) -> (Substring, Substring)? {
        var scalars = text.unicodeScalars[...]
        let braced = scalars.first == "{"
        if braced { scalars = scalars.dropFirst() }
        let nameStart = scalars.startIndex
        var nameEnd = nameStart
        while nameEnd < scalars.endIndex, isNameScalar(scalars[nameEnd]) {
            nameEnd = scalars.index(after: nameEnd)
        }
        guard nameEnd > nameStart else { return nil }
        var restStart = nameEnd
        if braced {
            guard restStart < scalars.endIndex, scalars[restStart] == "}" else { return nil }
            restStart = scalars.index(after: restStart)
        }
        return (text[nameStart..<nameEnd], text[restStart...])
    }

    /// Go's `unicode.IsLetter || unicode.IsDigit || == '_'`.
    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
                || v == 0x5F
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// Go's number rule: ASCII digits only, no leading zero, stop (not a number) at 10^8.
    private static func groupNumber(_ name: Substring) -> Int? {
        if name.utf8.count > 1, name.utf8.first == UInt8(ascii: "0") { return nil }
        var number = 0
        for byte in name.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), number < 100_000_000 else {
                return nil
            }
            number = number * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return number
    }
}
