import Model

/// Label-name rules for names written in the configuration and in file SD target groups.
public enum LabelName {
    /// Whether `name` is a valid label name under `scheme`. The default is Prometheus 3's
    /// `model.LabelName.IsValid` (UTF-8: any non-empty name), which is how Prometheus decodes
    /// static and file SD labels and `source_labels` whatever the validation scheme;
    /// `external_labels` and relabel targets follow `metric_name_validation_scheme`.
    public static func isValid(_ name: String, scheme: NameValidationScheme = .utf8) -> Bool {
        scheme.isValidLabelName(name)
    }
}
