import Model

/// Applies relabel configurations to label sets with Prometheus' semantics
/// (`model/relabel.Process`). Stateless and thread-safe.
public enum Relabeler {
    /// Applies `configs` in order to `labels`.
    /// - Returns: the relabeled set, or nil when a `keep`, `drop`, `keepequal` or `dropequal`
    ///   step drops the series/target. When no step changes anything, the same `labels` value
    ///   is returned without copying.
    public static func process(_ labels: Labels, with configs: [RelabelConfig]) -> Labels? {
        if configs.isEmpty { return labels }
        var builder = LabelsBuilder(labels)
        for config in configs {
            guard apply(config.storage, to: &builder) else { return nil }
        }
        return builder.labels()
    }

    /// One step; false when the label set is dropped.
    static func apply(_ config: RelabelConfig.Storage, to builder: inout LabelsBuilder) -> Bool {
        switch config.action {
        case .drop:
            return !config.compiled.matches(joinedValue(config, builder))
        case .keep:
            return config.compiled.matches(joinedValue(config, builder))
        case .dropequal:
            return !bytesEqual(builder.get(config.targetLabel), joinedValue(config, builder))
        case .keepequal:
            return bytesEqual(builder.get(config.targetLabel), joinedValue(config, builder))
        case .replace:
            replace(config, joinedValue(config, builder), &builder)
        case .lowercase:
            builder.set(config.targetLabel, GoCaseMapping.lowercased(joinedValue(config, builder)))
        case .uppercase:
            builder.set(config.targetLabel, GoCaseMapping.uppercased(joinedValue(config, builder)))
        case .hashmod:
            let hash = MD5.digest(joinedValue(config, builder)).lastEightBytesBigEndian
            builder.set(config.targetLabel, String(hash % config.modulus))
        case .labelmap:
            let template = config.replacementTemplate
            for label in builder.snapshot() {
                let name = config.compiled.withFullMatch(label.name, groups: template.groupsNeeded) {
                    template.expand(label.name, $0)
                }
                // Prometheus would set a label with an empty name here; we skip it.
                if let name, !name.isEmpty {
                    builder.set(name, label.value)
                }
            }
        case .labeldrop:
            for label in builder.snapshot() where config.compiled.matches(label.name) {
                builder.delete(label.name)
            }
        case .labelkeep:
            for label in builder.snapshot() where !config.compiled.matches(label.name) {
                builder.delete(label.name)
            }
        }
        return true
    }

    private static func replace(_ config: RelabelConfig.Storage, _ value: String, _ builder: inout LabelsBuilder) {
        let groups = max(config.targetTemplate.groupsNeeded, config.replacementTemplate.groupsNeeded)
        let expanded = config.compiled.withFullMatch(value, groups: groups) { match in
            (config.targetTemplate.expand(value, match), config.replacementTemplate.expand(value, match))
        }
        // No match: no replacement.
        guard let (target, result) = expanded else { return }
        // An invalid label name (under the config's scheme) after expansion: no change.
        guard config.targetIsStatic || config.nameValidation.isValidLabelName(target) else { return }
        builder.set(target, result)  // an empty result deletes the label
    }

    /// The source labels' values joined by the separator; a missing label contributes "".
    private static func joinedValue(_ config: RelabelConfig.Storage, _ builder: LabelsBuilder) -> String {
        switch config.sourceLabels.count {
        case 0:
            return ""
        case 1:
            return builder.get(config.sourceLabels[0])
        default:
            var out = ""
            for (index, name) in config.sourceLabels.enumerated() {
                if index > 0 { out += config.separator }
                out += builder.get(name)
            }
            return out
        }
    }

    /// Byte equality, as Go compares strings (Swift's `==` uses canonical equivalence).
    private static func bytesEqual(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.count == rhs.utf8.count && lhs.utf8.elementsEqual(rhs.utf8)
    }
}
