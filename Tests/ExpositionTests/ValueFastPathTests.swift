import TestSupport
import Testing

@testable import Exposition

/// `parseFloatValue` takes a short path for plain integers and decimals; it must give exactly
/// what the general parser gives (the same bits, or nil for both) on every input.
@Suite struct ValueFastPathTests {
    /// Both parsers' results on `text`: nil, or the value's bit pattern.
    func results(_ text: String) -> (fast: UInt64?, general: UInt64?) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { p in
            (parseFloatValue(p, 0, p.count)?.bitPattern, parseFloatValueInGeneral(p, 0, p.count)?.bitPattern)
        }
    }

    /// A token shaped like a sample value: a sign, digits, a dot and an exponent each present
    /// or not, now and then a stray byte.
    func token(_ random: inout SeededGenerator) -> String {
        var s = ""
        switch random.below(6) {
        case 0: s += "-"
        case 1: s += "+"
        default: break
        }
        let digitRuns = [random.below(22), random.below(22)]
        for _ in 0..<digitRuns[0] { s += String(random.below(10)) }
        if random.below(2) == 0 { s += "." }
        if random.below(5) == 0 { s += "." }
        for _ in 0..<digitRuns[1] { s += String(random.below(10)) }
        if random.below(8) == 0 { s += "e" + (random.below(2) == 0 ? "-" : "") + String(random.below(40)) }
        if random.below(20) == 0 {
            let stray = ["x", "_", " ", "+", "-", "e", "i", "\u{0}", "é"][random.below(9)]
            let index = s.index(s.startIndex, offsetBy: random.below(s.count + 1))
            s.insert(contentsOf: stray, at: index)
        }
        return s
    }

    @Test func plainIntegersAndDecimalsParseExactlyAsTheGeneralParser() {
        var random = SeededGenerator(seed: 12)
        for _ in 0..<200_000 {
            let text = token(&random)
            let (fast, general) = results(text)
            #expect(fast == general, "\(text)")
            if fast != general { return }
        }
    }

    @Test func edgeFormsParseExactlyAsTheGeneralParser() {
        let texts = [
            "", "+", "-", ".", "+.", "-.", "..", "0", "-0", "+0", "0.", ".0", "-.0", "00000", "-0.000",
            "999999999999999", "9999999999999999", "123456789012345", "1234567890123456", "0.123456789012345",
            "12345678901234.5", ".000000000000001", "-.999999999999999", "9007199254740993", "1.5.", "1..5", "5e",
            "0x10", "1_000", " 1", "1 ", "Inf", "-inf", "NaN", "-NaN", "1e3", "٣",
        ]
        for text in texts {
            let (fast, general) = results(text)
            #expect(fast == general, "\(text)")
        }
    }
}
