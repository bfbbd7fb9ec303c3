import Model
import Relabel
import Yams

/// `metric_name_validation_scheme` and `metric_name_escaping_scheme` (global and per scrape
/// config), and what depends on them: the names of `external_labels` and of relabel targets.
///
/// Relabel configs are read under UTF-8 validation, which accepts every name legacy
/// validation accepts; where the scheme that applies is legacy they are validated again here.
extension NodeReader {
    static let nameSchemeKeys: Set<String> = ["metric_name_validation_scheme", "metric_name_escaping_scheme"]

    /// `global`: the schemes (unset: UTF-8, and the escaping that goes with the validation), and
    /// the names of `external_labels` under the validation scheme.
    mutating func globalNameSchemes(_ map: [String: Node], into global: inout GlobalConfig) {
        let validation = validationScheme(map, "global") ?? .utf8
        global.nameSchemes = MetricNameSchemes(validation: validation, escaping: escapingScheme(map, "global"))
        guard validation == .legacy, let labels = map["external_labels"]?.mapping else { return }
        for (keyNode, _) in labels {
            guard let name = keyNode.scalar?.string, LabelName.isValid(name), !LabelName.isValid(name, scheme: .legacy) else { continue }
            fail(keyNode, "global.external_labels.\(name)", "\"\(name)\" is not a valid label name under metric_name_validation_scheme: legacy")
        }
    }

    /// A scrape config's schemes, as Prometheus 3 resolves them (`ScrapeConfig.Validate`): an
    /// unset validation scheme is the global one; an unset escaping scheme is the global one when
    /// the validation scheme is unset too, else the one that goes with the job's validation;
    /// `allow-utf-8` escaping needs UTF-8 validation. Under legacy validation the job's relabel
    /// configs are validated again.
    mutating func scrapeNameSchemes(
        _ map: [String: Node], _ node: Node, _ path: String, global: GlobalConfig, into scrape: inout ScrapeConfig
    ) {
        let local = validationScheme(map, path)
        let validation = local ?? global.nameSchemes.validation
        let escaping = escapingScheme(map, path) ?? (local == nil ? global.nameSchemes.escaping : .default(for: validation))
        if escaping == .allowUTF8 && validation != .utf8 {
            let origin = map["metric_name_escaping_scheme"] != nil ? "" : " (the global metric_name_escaping_scheme)"
            fail(
                map["metric_name_escaping_scheme"] ?? map["metric_name_validation_scheme"] ?? node, "\(path).metric_name_escaping_scheme",
                "escaping allow-utf-8\(origin) requests UTF-8 names, but the validation scheme is legacy; use underscores, dots or values")
        }
        scrape.nameSchemes = MetricNameSchemes(validation: validation, escaping: escaping)
        scrape.relabelConfigs = revalidated(scrape.relabelConfigs, map["relabel_configs"], "\(path).relabel_configs", under: validation)
        scrape.metricRelabelConfigs = revalidated(
            scrape.metricRelabelConfigs, map["metric_relabel_configs"], "\(path).metric_relabel_configs", under: validation)
    }

    /// `remote_write[].write_relabel_configs` under the global validation scheme, as Prometheus 3
    /// validates them (`RemoteWriteConfig.Validate`).
    mutating func writeRelabelNameValidation(_ top: [String: Node], into config: inout Configuration) {
        let scheme = config.global.nameSchemes.validation
        guard scheme != .utf8, let nodes = top["remote_write"]?.sequence, nodes.count == config.remoteWrite.count else { return }
        for (index, node) in nodes.enumerated() {
            let path = "remote_write[\(index)].write_relabel_configs"
            let configs = config.remoteWrite[index].writeRelabelConfigs
            config.remoteWrite[index].writeRelabelConfigs = revalidated(configs, node.mapping?["write_relabel_configs"], path, under: scheme)
            config.remoteWrite[index].fingerprint += "\nmetric_name_validation_scheme: \(scheme.rawValue)"
        }
    }

    /// `configs` (read under UTF-8 validation from the list at `node`) validated again under
    /// `scheme`; an entry that fails is reported at its own line. When some entries failed to
    /// read already (so `configs` and the list's entries no longer match up), the load fails
    /// anyway and nothing more is checked.
    private mutating func revalidated(
        _ configs: [RelabelConfig], _ node: Node?, _ path: String, under scheme: NameValidationScheme
    ) -> [RelabelConfig] {
        guard scheme != .utf8, let entries = node?.sequence, entries.count == configs.count else { return configs }
        var result: [RelabelConfig] = []
        for (index, (config, entry)) in zip(configs, entries).enumerated() {
            do throws(RelabelConfigError) {
                result.append(try config.validated(under: scheme))
            } catch {
                fail(
                    entry.mapping?[error.field] ?? entry, "\(path)[\(index)].\(error.field)",
                    "\(error) (metric_name_validation_scheme: \(scheme.rawValue))")
            }
        }
        return result
    }

    /// `metric_name_validation_scheme`: `utf8` or `legacy`; nil when absent or empty (unset).
    private mutating func validationScheme(_ map: [String: Node], _ path: String) -> NameValidationScheme? {
        guard let n = map["metric_name_validation_scheme"], let text = string(n, "\(path).metric_name_validation_scheme"), !text.isEmpty else {
            return nil
        }
        guard let scheme = NameValidationScheme(rawValue: text) else {
            fail(n, "\(path).metric_name_validation_scheme", "unrecognized validation scheme \"\(text)\" (utf8 or legacy)")
            return nil
        }
        return scheme
    }

    /// `metric_name_escaping_scheme`: `allow-utf-8`, `underscores`, `dots` or `values`; nil when
    /// absent or empty (unset).
    private mutating func escapingScheme(_ map: [String: Node], _ path: String) -> NameEscapingScheme? {
        guard let n = map["metric_name_escaping_scheme"], let text = string(n, "\(path).metric_name_escaping_scheme"), !text.isEmpty else {
            return nil
        }
        guard let scheme = NameEscapingScheme(rawValue: text) else {
            let known = NameEscapingScheme.allCases.map(\.rawValue).joined(separator: ", ")
            fail(n, "\(path).metric_name_escaping_scheme", "unknown escaping scheme \"\(text)\" (one of \(known))")
            return nil
        }
        return scheme
    }
}
