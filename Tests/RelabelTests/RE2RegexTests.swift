import Testing
@testable import Relabel

@Suite struct RE2RegexTests {
    @Test func fullMatchReturnsGroups() throws {
        let regex = try RE2Regex("(a+)(?P<rest>b*)(c)?")
        #expect(regex.groupCount == 3)
        let groups = try #require(regex.fullMatch("aab"))
        #expect(groups == ["aab", "aa", "b", nil])
        #expect(regex.fullMatch("aabx") == nil)
        #expect(regex.fullMatch("xaab") == nil)
    }

    @Test func groupIndexByName() throws {
        let regex = try RE2Regex("(?P<first>x)(y)(?P<third>z)")
        #expect(regex.groupIndex(named: "first") == 1)
        #expect(regex.groupIndex(named: "third") == 3)
        #expect(regex.groupIndex(named: "second") == nil)
        #expect(regex.groupIndex(named: "") == nil)
    }

    @Test(arguments: [
        ("a", "a", true), ("a", "ba", false), ("a", "ab", false), ("", "", true), ("", "x", false),
        (#"\d+"#, "123", true), (#"\w+\b"#, "ab_1", true), (#"\s"#, "\t", true),
        ("a.b", "a\nb", false), ("(?s)a.b", "a\nb", true), ("é+", "ééé", true), (".", "é", true),
        (#"\p{Greek}+"#, "αβγ", true), ("(?i)abc", "ABC", true),
    ])
    func matchesWholeText(pattern: String, text: String, expected: Bool) throws {
        let regex = try RE2Regex(pattern)
        #expect(regex.matches(text) == expected)
        #expect((regex.fullMatch(text) != nil) == expected)
    }

    @Test func substringsFollowUTF8Boundaries() throws {
        let regex = try RE2Regex("(é+)(.)(.*)")
        let groups = try #require(regex.fullMatch("ééñ😀z"))
        #expect(groups == ["ééñ😀z", "éé", "ñ", "😀z"])
    }

    @Test func manyGroups() throws {
        let regex = try RE2Regex(String(repeating: "(.)", count: 20))
        let groups = try #require(regex.fullMatch("abcdefghijklmnopqrst"))
        #expect(groups.count == 21)
        #expect(groups[20] == "t")
        #expect(groups[1] == "a")
    }

    @Test func emptyGroupIsNotAMissingGroup() throws {
        let regex = try RE2Regex("(a*)|(b)")
        #expect(regex.fullMatch("") == ["", "", nil])
    }

    /// Go's regexp (and so Prometheus) rejects these; RE2 must as well, with its message.
    @Test(arguments: [
        ("(?=x)", "invalid perl operator: (?="),
        ("(?!x)", "invalid perl operator: (?!"),
        ("(?<=x)", "invalid perl operator: (?<"),
        (#"(a)\1"#, #"invalid escape sequence: \1"#),
        ("(", "missing ): ("),
        ("a)", "unexpected ): a)"),
        ("a**", "bad repetition operator: **"),
        ("x{1001}", "invalid repetition size: {1001}"),
        ("(?P<n>a)(?P<n>b)", "duplicate capture group name: n"),
    ])
    func rejectsWhatGoRejects(pattern: String, message: String) {
        #expect(throws: RegexError(pattern: pattern, message: message)) {
            try RE2Regex(pattern)
        }
    }

    @Test func errorDescriptionNamesPatternAndReason() {
        let error = RegexError(pattern: "(?=x)", message: "invalid perl operator: (?=")
        #expect(error.description == "invalid regex \"(?=x)\": invalid perl operator: (?=")
    }

    @Test func matchingIsThreadSafe() async throws {
        let regex = try RE2Regex("(?P<host>[^:]+):(\\d+)")
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for i in 0..<64 {
                group.addTask {
                    (0..<200).allSatisfy { j in
                        regex.fullMatch("host\(i):\(j)")?[2] == Substring("\(j)")
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }
}
