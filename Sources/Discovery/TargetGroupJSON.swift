import AgentConfig
import Foundation
import Model

/// A JSON list of target groups, `[{"targets": ["host:port", …], "labels": {"name": "value", …}}, …]`,
/// as Prometheus's `targetgroup.Group` reads it for file and HTTP discovery: keys are matched
/// case-insensitively, any other key is an error (Go's `DisallowUnknownFields`), a `null` list
/// is an empty one, a `null` group is an error, a `null` label value is empty.
enum TargetGroupJSON {
    /// A target group list that cannot be used; `message` says where and why.
    struct ParseError: Error, Equatable {
        var message: String
    }

    /// The groups of `data`, in order.
    static func parse(_ data: Data) throws(ParseError) -> [(targets: [String], labels: Labels)] {
        let groups: [Group?]?
        do {
            groups = try JSONDecoder().decode([Group?]?.self, from: data)
        } catch {
            throw ParseError(message: "invalid JSON: \(describe(error))")
        }
        var result: [(targets: [String], labels: Labels)] = []
        for (index, group) in (groups ?? []).enumerated() {
            guard let group else { throw ParseError(message: "target group \(index) is null") }
            let pairs = (group.labels ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value ?? "") }
            result.append((group.targets ?? [], try validLabels(pairs, group: index)))
        }
        return result
    }

    /// `pairs` as labels, if every name is valid.
    static func validLabels(_ pairs: [(String, String)], group index: Int) throws(ParseError) -> Labels {
        for (name, _) in pairs where !LabelName.isValid(name) {
            throw ParseError(message: "target group \(index): \"\(name)\" is not a valid label name")
        }
        return Labels(pairs.map { Label($0.0, $0.1) })
    }

    /// One group; decoding fails on a key other than `targets` and `labels` (in any case).
    private struct Group: Decodable {
        var targets: [String]?
        var labels: [String: String?]?

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                switch key.stringValue.lowercased() {
                case "targets": targets = try container.decode([String]?.self, forKey: key)
                case "labels": labels = try container.decode([String: String?]?.self, forKey: key)
                default:
                    throw DecodingError.dataCorrupted(
                        DecodingError.Context(codingPath: container.codingPath, debugDescription: "unknown field \"\(key.stringValue)\""))
                }
            }
        }
    }

    private static func describe(_ error: Error) -> String {
        switch error as? DecodingError {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
