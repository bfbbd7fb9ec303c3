import Exposition
import Testing

@Suite struct ValueParsingTests {
    @Test func integersAndDecimals() throws {
        #expect(try value("0") == 0)
        #expect(try value("42") == 42)
        #expect(try value("-42") == -42)
        #expect(try value("+42") == 42)
        #expect(try value("007") == 7)
        #expect(try value("1.5") == 1.5)
        #expect(try value("-0.25") == -0.25)
        #expect(try value(".5") == 0.5)
        #expect(try value("5.") == 5)
        #expect(try value("-.5") == -0.5)
        #expect(try value("0.000123") == 0.000123)
        #expect(try value("9007199254740993") == 9007199254740992)  // rounds to even, like Go
        #expect(try value("18446744073709551615") == 18446744073709551615.0)
    }

    @Test func negativeZero() throws {
        let z = try value("-0")
        #expect(z == 0 && z.sign == .minus)
        #expect(try value("-0.0e10").sign == .minus)
        #expect(try value("0").sign == .plus)
    }

    @Test func exponents() throws {
        #expect(try value("1e3") == 1000)
        #expect(try value("1E3") == 1000)
        #expect(try value("1e+3") == 1000)
        #expect(try value("1.5e-3") == 0.0015)
        #expect(try value("1.7560473e+07") == 17_560_473)
        #expect(try value("8.455350272e+10") == 84_553_502_720)
        #expect(try value("1e22") == 1e22)
        #expect(try value("1e23") == 1e23)
        #expect(try value("1.7976931348623157e308") == .greatestFiniteMagnitude)
        #expect(try value("4.9406564584124654e-324") == .leastNonzeroMagnitude)
        #expect(try value("2.2250738585072014e-308") == .leastNormalMagnitude)
        #expect(try value("0e999999999999") == 0)
        // Underflow rounds to zero without error, as in Go.
        #expect(try value("1e-400") == 0)
        #expect(try value("-1e-400").sign == .minus)
    }

    @Test func specialValues() throws {
        for text in ["NaN", "nan", "NAN", "nAn"] {
            #expect(try value(text).isNaN, "\(text)")
        }
        for text in ["+Inf", "Inf", "inf", "+inf", "INF", "+Infinity", "infinity", "InFiNiTy"] {
            #expect(try value(text) == .infinity, "\(text)")
        }
        for text in ["-Inf", "-inf", "-INF", "-Infinity", "-infinity"] {
            #expect(try value(text) == -.infinity, "\(text)")
        }
    }

    @Test func rejectedValues() {
        let bad = [
            "", "+", "-", ".", "+.", "e3", "1e", "1e+", "1e-", "1e+-3", "1.2.3", "1..2", "--1", "+-1",
            "1_2", "1_000.5", "0x10", "0x1p3", "0X1P-2", "1p3", "0b101", "0o7",
            "+NaN", "-NaN", "NaN1", "nana", "Infinit", "Infinityy", "infx", "In", "+I", "Inf1",
            "1e400", "-1e400", "1.8e308", "1x", "1,5", "1 5".replacingOccurrences(of: " ", with: "\u{A0}"),
            "١", "1e3.5", "\"1\"",
        ]
        for text in bad {
            #expect(rejectsValue(text), "\(text) should be rejected")
        }
    }

    @Test func roundTripsLikeStrtod() throws {
        // Values whose shortest representation has 16-17 digits take the slow path.
        let values: [Double] = [
            0.1, 0.2, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0, .pi, 14.236721934000005, 1.7000000000000002e-05,
            123456789.12345679, 9.999999999999999e22, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
            Double.leastNormalMagnitude.nextDown,
            4.35, 0.3, 1e15 + 0.3, 123.456, 89255.07843137255,
        ]
        for v in values {
            for text in ["\(v)", String(describing: -v)] {
                let parsed = try value(text)
                #expect(parsed == Double(text), "\(text)")
            }
        }
    }

    @Test func differentialAgainstStandardLibrary() throws {
        // Random decimal strings of assorted shapes parse to what Swift's own (correctly rounded)
        // conversion gives.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...25, using: &generator)
            var mantissa = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
            if Bool.random(using: &generator) {
                let point = Int.random(in: 0...digits, using: &generator)
                mantissa.insert(".", at: mantissa.index(mantissa.startIndex, offsetBy: point))
            }
            var text = (Bool.random(using: &generator) ? "-" : "") + mantissa
            if Bool.random(using: &generator) {
                text += "e\(Int.random(in: -330...310, using: &generator))"
            }
            guard let expected = Double(text) else { continue }
            if expected.isInfinite {
                #expect(rejectsValue(text), "\(text)")
            } else {
                let parsed = try value(text)
                #expect(parsed == expected && parsed.sign == expected.sign, "\(text)")
            }
        }
    }
}
