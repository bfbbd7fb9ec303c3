import Relabel
import Yams

extension NodeReader {
    /// A list of relabel configs (`relabel_configs`, `metric_relabel_configs`, `write_relabel_configs`).
    mutating func relabelConfigs(_ node: Node?, _ path: String) -> [RelabelConfig] {
        optionalSequence(node, path).enumerated().compactMap { index, entry in
            let entryPath = "\(path)[\(index)]"
            let map = mapping(entry, entryPath, known: ["source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"])
            let sourceLabels = optionalSequence(map["source_labels"], "\(entryPath).source_labels").compactMap { string($0, "\(entryPath).source_labels") }
            for name in sourceLabels where !LabelName.isValid(name) {
                fail(map["source_labels"], "\(entryPath).source_labels", "invalid source label name \"\(name)\"")
            }
            var action = RelabelAction.replace
            if let n = map["action"], let text = string(n, "\(entryPath).action") {
                guard let parsed = RelabelAction(rawValue: text.lowercased()) else {
                    fail(n, "\(entryPath).action", "unknown relabel action \"\(text)\" (one of \(RelabelAction.allCases.map(\.rawValue).joined(separator: ", ")))")
                    return nil
                }
                action = parsed
            }
            var modulus: UInt64 = 0
            if let n = map["modulus"] {
                guard let text = n.scalar?.string, let value = UInt64(text) else {
                    fail(n, "\(entryPath).modulus", "expected a non-negative integer")
                    return nil
                }
                modulus = value
            }
            do {
                return try RelabelConfig(
                    sourceLabels: sourceLabels,
                    separator: map["separator"].flatMap { string($0, "\(entryPath).separator") } ?? ";",
                    regex: map["regex"].flatMap { string($0, "\(entryPath).regex") } ?? "(.*)",
                    modulus: modulus,
                    targetLabel: map["target_label"].flatMap { string($0, "\(entryPath).target_label") } ?? "",
                    replacement: map["replacement"].flatMap { string($0, "\(entryPath).replacement") } ?? "$1",
                    action: action)
            } catch {
                fail(map["regex"] ?? entry, entryPath, "\(error)")
                return nil
            }
        }
    }
}
