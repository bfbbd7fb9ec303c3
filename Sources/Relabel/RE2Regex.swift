import CRE2Shim

/// A pattern RE2 could not compile, with RE2's own explanation.
public struct RegexError: Error, Equatable, CustomStringConvertible {
    /// The pattern exactly as it was given to RE2.
    public let pattern: String
    /// RE2's message, e.g. `invalid perl operator: (?=`.
    public let message: String

    public init(pattern: String, message: String) {
        self.pattern = pattern
        self.message = message
    }

    public var description: String { "invalid regex \"\(pattern)\": \(message)" }
}

/// A compiled RE2 regular expression, with the syntax and semantics of Go's `regexp`
/// (the engine Prometheus uses): UTF-8, Perl classes, leftmost-first, linear time, no
/// backreferences or lookaround.
///
/// This is the only Swift type that touches `CRE2Shim`. It owns the compiled `RE2` object and
/// frees it in `deinit`. RE2 objects are immutable after compilation and safe to match from any
/// number of threads at once, which is why the class is `Sendable`.
public final class RE2Regex: Sendable {
    /// The pattern as compiled.
    public let pattern: String
    /// The number of capturing groups (the whole match, group 0, not counted).
    public let groupCount: Int

    nonisolated(unsafe) private let handle: OpaquePointer

    /// Compiles `pattern` as is (not anchored; `fullMatch` anchors at both ends).
    /// - Throws: `RegexError` with RE2's message when the pattern is invalid, including
    ///   constructs Go's regexp also rejects (lookaround `(?=`, backreferences `\1`).
    public init(_ pattern: String) throws(RegexError) {
        var error: UnsafeMutablePointer<CChar>? = nil
        var source = pattern
        let compiled = source.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                cre2_compile(chars.baseAddress, chars.count, &error)
            }
        }
        guard let compiled else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            cre2_string_free(error)
            throw RegexError(pattern: pattern, message: message)
        }
        self.pattern = pattern
        self.handle = compiled
        self.groupCount = Int(cre2_group_count(compiled))
    }

    deinit {
        cre2_free(handle)
    }

    /// The index (1...groupCount) of the capturing group `(?P<name>...)`, or nil.
    public func groupIndex(named name: String) -> Int? {
        var name = name
        let index = name.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                cre2_group_index(handle, chars.baseAddress, chars.count)
            }
        }
        return index >= 0 ? Int(index) : nil
    }

    /// Whether the whole of `text` matches (no submatch extraction: RE2's fastest path).
    public func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                cre2_full_match(handle, chars.baseAddress, chars.count, nil, 0) != 0
            }
        }
    }

    /// Matches the whole of `text`. Returns nil when it does not match; otherwise
    /// `groupCount + 1` elements: index 0 is the whole match, index i the text of group i,
    /// or nil when that group did not take part in the match.
    public func fullMatch(_ text: String) -> [Substring?]? {
        withFullMatch(text, groups: groupCount + 1) { groups in
            (0..<groups.count).map { i in groups[i].map { text.utf8Slice($0) } }
        }
    }

    /// Matches the whole of `text`, extracting the first `groups` spans (whole match included),
    /// and calls `body` with them. Returns nil, without calling `body`, when there is no match.
    /// `MatchGroups` is only valid inside `body`.
    func withFullMatch<Result>(
        _ text: String, groups: Int, _ body: (MatchGroups) -> Result
    ) -> Result? {
        var text = text
        return text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                withUnsafeTemporaryAllocation(of: cre2_span.self, capacity: max(groups, 1)) { spans in
                    let matched = cre2_full_match(
                        handle, chars.baseAddress, chars.count, spans.baseAddress, Int32(groups))
                    guard matched != 0 else { return nil }
                    return body(MatchGroups(spans: UnsafeBufferPointer(rebasing: spans[0..<groups])))
                }
            }
        }
    }
}

/// The byte ranges of a match's groups; valid only inside `RE2Regex.withFullMatch`'s closure.
struct MatchGroups {
    fileprivate let spans: UnsafeBufferPointer<cre2_span>

    /// How many groups were requested (group 0, the whole match, included).
    var count: Int { spans.count }

    /// The UTF-8 byte range of group `index` in the text, or nil when the group did not take
    /// part in the match or was not requested.
    subscript(index: Int) -> Range<Int>? {
        guard index >= 0, index < spans.count else { return nil }
        let span = spans[index]
        guard span.start >= 0 else { return nil }
        return Int(span.start)..<Int(span.start + span.length)
    }
}

extension String {
    /// The characters at UTF-8 byte offsets `range` (which RE2 only reports on scalar boundaries).
    func utf8Slice(_ range: Range<Int>) -> Substring {
        let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let end = utf8.index(start, offsetBy: range.count)
        return self[start..<end]
    }
}
