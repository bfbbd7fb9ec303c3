import AgentConfig
import ConfigConversion
import Foundation
import Testing

/// The Grafana Agent files under Fixtures/grafana-agent (their sources are in its README.md).
enum GrafanaAgentFixtures {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/grafana-agent")

    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    static func convert(_ name: String) throws -> ConversionResult {
        try GrafanaAgentConverter.convert(yaml: text(name), file: name)
    }
}

extension ConversionResult {
    func paths(_ kind: ConversionFinding.Kind) -> [String] {
        findings.filter { $0.kind == kind }.map(\.path)
    }

    /// The converted file loaded as `agent run` loads it (no environment expansion).
    func loaded(environment: [String: String]? = nil) throws(ConfigErrors) -> Configuration {
        try load(as: "converted.yml", expandEnvironment: environment != nil, environment: environment ?? [:])
    }
}
