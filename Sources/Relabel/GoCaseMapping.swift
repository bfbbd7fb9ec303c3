/// `strings.ToLower` / `strings.ToUpper` as Go (and so Prometheus' `lowercase` / `uppercase`
/// actions) define them: each Unicode scalar is mapped on its own by its *simple* case mapping,
/// so the string never changes length in scalars (`ß` stays `ß`, unlike Swift's
/// `uppercased()`, which gives `SS`), and nothing depends on context or locale.
enum GoCaseMapping {
    /// Go's `strings.ToLower`.
    static func lowercased(_ text: String) -> String {
        map(text, asciiFrom: UInt8(ascii: "A"), asciiTo: UInt8(ascii: "Z"), lower: true)
    }

    /// Go's `strings.ToUpper`.
    static func uppercased(_ text: String) -> String {
        map(text, asciiFrom: UInt8(ascii: "a"), asciiTo: UInt8(ascii: "z"), lower: false)
    }

    private static func map(_ text: String, asciiFrom: UInt8, asciiTo: UInt8, lower: Bool) -> String {
        var isASCII = true
        var needsChange = false
        for byte in text.utf8 {
            if byte >= 0x80 {
                isASCII = false
                break
            }
            if byte >= asciiFrom && byte <= asciiTo { needsChange = true }
        }
        if isASCII {
            guard needsChange else { return text }
            return String(decoding: text.utf8.map { $0 >= asciiFrom && $0 <= asciiTo ? $0 ^ 0x20 : $0 }, as: UTF8.self)
        }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append(lower ? simpleLowercase(scalar) : simpleUppercase(scalar))
        }
        return String(out)
    }

    /// The simple lowercase mapping: the full mapping when it is a single scalar; U+0130 is the
    /// only scalar whose full lowercase mapping is longer but whose simple mapping exists.
    static func simpleLowercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.value == 0x130 { return "i" }
        return single(scalar.properties.lowercaseMapping) ?? scalar
    }

    /// The simple uppercase mapping: the full mapping when it is a single scalar; otherwise the
    /// Greek letters with ypogegrammeni (iota subscript), whose simple uppercase is the titlecase
    /// form with prosgegrammeni, else the scalar itself (`ß`, `ŉ`, ligatures, ...).
    static func simpleUppercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if let mapped = single(scalar.properties.uppercaseMapping) { return mapped }
        let v = scalar.value
        switch v {
        case 0x1F80...0x1F87, 0x1F90...0x1F97, 0x1FA0...0x1FA7:
            return Unicode.Scalar(v + 8) ?? scalar
        case 0x1FB3, 0x1FC3, 0x1FF3:
            return Unicode.Scalar(v + 9) ?? scalar
        default:
            return scalar
        }
    }

    private static func single(_ mapping: String) -> Unicode.Scalar? {
        var scalars = mapping.unicodeScalars.makeIterator()
        guard let first = scalars.next(), scalars.next() == nil else { return nil }
        return first
    }
}
