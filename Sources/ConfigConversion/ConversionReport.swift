import Yams

/// Collects the findings of one conversion, locating each by the input node it is about.
struct ConversionReport {
    let file: String
    private(set) var findings: [ConversionFinding] = []

    init(file: String) { self.file = file }

    mutating func add(_ kind: ConversionFinding.Kind, _ path: String, at node: Node?, _ message: String) {
        findings.append(ConversionFinding(kind: kind, file: file, line: node?.mark?.line ?? 0, path: path, message: message))
    }

    func error(at node: Node?, _ message: String) -> ConversionError {
        ConversionError(file: file, line: node?.mark?.line ?? 0, message: message)
    }
}
