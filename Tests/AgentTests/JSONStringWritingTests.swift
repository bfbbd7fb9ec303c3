import Foundation
import NIOCore
import TestSupport
import Testing

@testable import Agent

@Suite("JSON strings written on bytes")
struct JSONStringWritingTests {
    static func json(_ bytes: [UInt8]) -> String {
        var buffer = ByteBuffer()
        bytes.withUnsafeBytes { _ = buffer.writeJSONString($0) }
        return String(decoding: buffer.readableBytesView, as: UTF8.self)
    }

    static func json(_ string: String) -> String { json(Array(string.utf8)) }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("", #""""#),
        (#"a"b"#, #""a\"b""#),
        (#"back\slash"#, #""back\\slash""#),
        ("\n\r\t\u{8}\u{C}", #""\n\r\t\b\f""#),
        ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
        ("del \u{7F} slash /", "\"del \u{7F} slash /\""),
        ("Zürich 東京 🚀", "\"Zürich 東京 🚀\""),
        ("\u{2028}\u{2029}", #""\u2028\u2029""#),
    ])
    func escapesWhatJSONRequiresAndCopiesTheRest(input: String, expected: String) {
        #expect(Self.json(input) == expected)
    }

    @Test(arguments: [
        ([0xFF], #""\ufffd""#),
        ([0x61, 0x80, 0x62], #""a\ufffdb""#),
        ([0xC0, 0x80], #""\ufffd\ufffd""#),  // overlong NUL
        ([0xED, 0xA0, 0x80], #""\ufffd\ufffd\ufffd""#),  // a UTF-16 surrogate
        ([0xE2, 0x82], #""\ufffd\ufffd""#),  // truncated at the end
        ([0xF4, 0x90, 0x80, 0x80], #""\ufffd\ufffd\ufffd\ufffd""#),  // above U+10FFFF
        ([0xE2, 0x82, 0xAC, 0xFF], "\"€\\ufffd\""),
    ] as [([UInt8], String)])
    func replacesEachByteOfMalformedUTF8(input: [UInt8], expected: String) {
        #expect(Self.json(input) == expected)
    }

    @Test func randomStringsParseBackToThemselves() throws {
        // (No U+FEFF: Foundation's parser drops it from inside strings, whatever the input.)
        let pieces: [String] = [
            "a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1B}", "\u{1F}", "\u{7F}", "é", "ß", "東", "京",
            "🚀", "\u{2028}", "\u{2029}", "\u{10FFFF}", "{", "}", ":", ",", "u0041",
        ]
        var random = SeededGenerator(seed: 13)
        for _ in 0..<500 {
            let string = (0..<random.below(40)).map { _ in pieces[random.below(pieces.count)] }.joined()
            let text = Self.json(string)
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String
            #expect(parsed == string, "\(text)")
        }
    }
}
