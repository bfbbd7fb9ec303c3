import AgentConfig
import Foundation
import Model
import Relabel
import Testing

/// `metric_name_validation_scheme` and `metric_name_escaping_scheme`, global and per job, and
/// the names of external labels and relabel targets they govern (Prometheus 3's
/// `config.ScrapeConfig.Validate`, `GlobalConfig.UnmarshalYAML`, `relabel.Config.Validate`).
@Suite struct NameValidationConfigTests {
    static func parse(_ yaml: String) throws(ConfigErrors) -> Configuration {
        try ConfigLoader.parse(yaml: yaml, file: "f.yml")
    }

    @Test func readsTheSchemesAndUTF8NamesOfTheFixture() throws {
        let path = try #require(Bundle.module.path(forResource: "utf8-names", ofType: "yaml", inDirectory: "Fixtures"))
        let config = try ConfigLoader.load(file: path)
        #expect(config.global.nameSchemes == MetricNameSchemes(validation: .utf8, escaping: .dots))
        #expect(config.global.externalLabels == Labels(["k8s.cluster.name": "prod-eu"]))
        let jobs = Dictionary(uniqueKeysWithValues: config.scrapeConfigs.map { ($0.jobName, $0) })
        #expect(jobs["otel"]?.nameSchemes == MetricNameSchemes(validation: .utf8, escaping: .dots))
        #expect(jobs["legacy"]?.nameSchemes == MetricNameSchemes(validation: .legacy, escaping: .underscores))
        #expect(jobs["values"]?.nameSchemes == MetricNameSchemes(validation: .utf8, escaping: .values))
        #expect(jobs["otel"]?.staticConfigs.first?.labels == Labels(["service.name": "checkout"]))
        // Static labels are UTF-8 names under either scheme (the scrape checks the final labels).
        #expect(jobs["legacy"]?.staticConfigs.first?.labels == Labels(["service.name": "billing"]))
        #expect(jobs["otel"]?.relabelConfigs.map(\.targetLabel) == ["app.kubernetes.io/name", ""])
        #expect(jobs["otel"]?.relabelConfigs.allSatisfy { $0.nameValidation == .utf8 } == true)
        #expect(jobs["legacy"]?.relabelConfigs.isEmpty == true)
        #expect(config.remoteWrite.first?.writeRelabelConfigs.first?.nameValidation == .utf8)
    }

    @Test func unsetSchemesArePrometheus3Defaults() throws {
        let config = try Self.parse("scrape_configs: [{job_name: a}]")
        #expect(config.global.nameSchemes == MetricNameSchemes(validation: .utf8, escaping: .allowUTF8))
        #expect(config.scrapeConfigs[0].nameSchemes == MetricNameSchemes(validation: .utf8, escaping: .allowUTF8))
        let empty = try Self.parse("global: {metric_name_validation_scheme: '', metric_name_escaping_scheme: ''}\nscrape_configs: [{job_name: a}]")
        #expect(empty.scrapeConfigs[0].nameSchemes == MetricNameSchemes(validation: .utf8, escaping: .allowUTF8))
    }

    /// (global validation, global escaping, job validation, job escaping) → the job's schemes.
    @Test(arguments: [
        (nil, nil, nil, nil, MetricNameSchemes(validation: .utf8, escaping: .allowUTF8)),
        ("legacy", nil, nil, nil, MetricNameSchemes(validation: .legacy, escaping: .underscores)),
        ("legacy", nil, "utf8", nil, MetricNameSchemes(validation: .utf8, escaping: .allowUTF8)),
        (nil, nil, "legacy", nil, MetricNameSchemes(validation: .legacy, escaping: .underscores)),
        (nil, "values", nil, nil, MetricNameSchemes(validation: .utf8, escaping: .values)),
        (nil, "values", "legacy", nil, MetricNameSchemes(validation: .legacy, escaping: .underscores)),
        (nil, "values", "utf8", nil, MetricNameSchemes(validation: .utf8, escaping: .allowUTF8)),
        ("legacy", "dots", nil, nil, MetricNameSchemes(validation: .legacy, escaping: .dots)),
        (nil, nil, "legacy", "dots", MetricNameSchemes(validation: .legacy, escaping: .dots)),
        (nil, nil, nil, "underscores", MetricNameSchemes(validation: .utf8, escaping: .underscores)),
    ] as [(String?, String?, String?, String?, MetricNameSchemes)])
    func aJobsSchemesResolveAsInPrometheus(
        globalValidation: String?, globalEscaping: String?, jobValidation: String?, jobEscaping: String?, expected: MetricNameSchemes
    ) throws {
        var yaml = "global:\n  scrape_interval: 1m\n"
        if let globalValidation { yaml += "  metric_name_validation_scheme: \(globalValidation)\n" }
        if let globalEscaping { yaml += "  metric_name_escaping_scheme: \(globalEscaping)\n" }
        yaml += "scrape_configs:\n  - job_name: a\n"
        if let jobValidation { yaml += "    metric_name_validation_scheme: \(jobValidation)\n" }
        if let jobEscaping { yaml += "    metric_name_escaping_scheme: \(jobEscaping)\n" }
        #expect(try Self.parse(yaml).scrapeConfigs[0].nameSchemes == expected)
    }

    @Test(arguments: [
        ("global:\n  metric_name_validation_scheme: UTF8\n", "unrecognized validation scheme \"UTF8\""),
        ("global:\n  metric_name_escaping_scheme: utf8\n", "unknown escaping scheme \"utf8\""),
        ("scrape_configs:\n  - job_name: a\n    metric_name_validation_scheme: strict\n", "unrecognized validation scheme"),
        ("scrape_configs:\n  - job_name: a\n    metric_name_escaping_scheme: dot\n", "unknown escaping scheme"),
        // allow-utf-8 escaping needs UTF-8 validation, whether set on the job or inherited.
        ("scrape_configs:\n  - job_name: a\n    metric_name_validation_scheme: legacy\n    metric_name_escaping_scheme: allow-utf-8\n",
         "escaping allow-utf-8 requests UTF-8 names"),
        ("global:\n  metric_name_validation_scheme: legacy\n  metric_name_escaping_scheme: allow-utf-8\nscrape_configs:\n  - job_name: a\n",
         "escaping allow-utf-8 (the global metric_name_escaping_scheme)"),
    ])
    func invalidSchemesAreErrors(yaml: String, message: String) {
        expectRejected(yaml, message: message, fromLine: 2)
    }

    @Test func aLegacyGlobalWithoutJobsMayAllowUTF8Escaping() throws {
        // Prometheus checks the pair only per scrape config.
        let config = try Self.parse("global:\n  metric_name_validation_scheme: legacy\n  metric_name_escaping_scheme: allow-utf-8\n")
        #expect(config.global.nameSchemes == MetricNameSchemes(validation: .legacy, escaping: .allowUTF8))
    }

    @Test(arguments: [
        // target_label, hashmod/lowercase targets and labelmap results: legacy names only.
        ("relabel_configs: [{source_labels: [a], target_label: service.name}]", 5, "relabel_configs[0].target_label"),
        ("relabel_configs: [{source_labels: [a], target_label: '${1}.x'}]", 5, "relabel_configs[0].target_label"),
        ("relabel_configs: [{action: labelmap, regex: (.+), replacement: 'x.$1'}]", 5, "relabel_configs[0].replacement"),
        ("metric_relabel_configs: [{action: hashmod, modulus: 2, source_labels: [a], target_label: a.b}]", 5,
         "metric_relabel_configs[0].target_label"),
        ("metric_relabel_configs:\n      - {action: keep, regex: x}\n      - {action: lowercase, source_labels: [a], target_label: a-b}", 7,
         "metric_relabel_configs[1].target_label"),
    ])
    func underLegacyValidationRelabelTargetsMustBeLegacyNames(option: String, line: Int, key: String) throws {
        let job = "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['a:1']}]\n"
        // Accepted under UTF-8 (the default) ...
        _ = try Self.parse(job + "    \(option)\n")
        // ... rejected at its own line under legacy, set on the job or inherited from global.
        for yaml in [
            job + "    metric_name_validation_scheme: legacy\n    \(option)\n",
            "global:\n  metric_name_validation_scheme: legacy\n" + job + "    \(option)\n",
        ] {
            let expectedLine = line + (yaml.hasPrefix("global") ? 1 : 0)
            do {
                _ = try Self.parse(yaml)
                Issue.record("accepted:\n\(yaml)")
            } catch {
                #expect(
                    error.errors.contains { $0.key == "scrape_configs[0].\(key)" && $0.line == expectedLine && $0.message.contains("legacy") },
                    "\(error)")
            }
        }
    }

    @Test func writeRelabelTargetsAndExternalLabelsFollowTheGlobalScheme() throws {
        let remote = "remote_write:\n  - url: http://hub/api/v1/write\n    write_relabel_configs: [{source_labels: [a], target_label: a.b}]\n"
        let external = "  external_labels: {k8s.cluster: x}\n"
        _ = try Self.parse("global:\n" + external + remote)
        do {
            _ = try Self.parse("global:\n  metric_name_validation_scheme: legacy\n" + external + remote)
            Issue.record("accepted")
        } catch {
            #expect(error.errors.contains { $0.key == "global.external_labels.k8s.cluster" && $0.line == 3 })
            #expect(error.errors.contains { $0.key == "remote_write[0].write_relabel_configs[0].target_label" && $0.line == 6 })
        }
        // A job's own UTF-8 scheme does not make write relabeling UTF-8.
        expectRejected(
            "global:\n  metric_name_validation_scheme: legacy\nscrape_configs:\n  - job_name: a\n    metric_name_validation_scheme: utf8\n" + remote,
            message: "invalid 'target_label'", fromLine: 8)
    }
}
