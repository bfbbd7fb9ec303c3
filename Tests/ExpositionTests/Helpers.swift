import Model
import Exposition
import Testing

typealias ParsedSample = (labels: Labels, value: Double, timestamp: Int64?)

/// Parses `text` completely.
func parse(_ text: String) throws(ExpositionError) -> [ParsedSample] {
    try parseTextFormat(Array(text.utf8))
}

/// Parses `bytes` completely.
func parse(bytes: [UInt8]) throws(ExpositionError) -> [ParsedSample] {
    try parseTextFormat(bytes)
}

/// The error parsing `text` throws, or nil if it parses.
func parseError(_ text: String) -> ExpositionError? {
    parseError(bytes: Array(text.utf8))
}

func parseError(bytes: [UInt8]) -> ExpositionError? {
    do {
        _ = try parseTextFormat(bytes)
        return nil
    } catch {
        return error
    }
}

/// The single sample of `text`.
func single(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ParsedSample {
    let samples = try parse(text)
    try #require(samples.count == 1, "expected one sample, got \(samples.count)", sourceLocation: sourceLocation)
    return samples[0]
}

/// The value of the single sample `x <value>`.
func value(_ text: String) throws(ExpositionError) -> Double {
    var parser = TextParser(Array("x \(text)\n".utf8))
    guard let sample = try parser.next() else { return .nan }
    return sample.value
}

/// Whether `x <value>` is rejected.
func rejectsValue(_ text: String) -> Bool {
    parseError("x \(text)\n") != nil
}

extension Labels {
    /// `name{a="1",...}` pairs as a dictionary, for concise expectations.
    var dictionary: [String: String] {
        Dictionary(uniqueKeysWithValues: pairs.map { ($0.name, $0.value) })
    }
}
