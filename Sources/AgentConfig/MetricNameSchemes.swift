import Model

/// `metric_name_validation_scheme` and `metric_name_escaping_scheme`: in `global`, the defaults;
/// in a scrape config, as resolved for the job by Prometheus 3's rules (see
/// docs/utf8-names.md).
public struct MetricNameSchemes: Sendable, Equatable {
    /// The names a scrape accepts on each new series' final labels (after relabeling), and the
    /// names relabel configs may write.
    public var validation: NameValidationScheme
    /// What the scrape's Accept header asks the target to do with names that are not valid
    /// under the legacy scheme (`escaping=` on the text 1.0.0 and OpenMetrics 1.0.0 media types).
    public var escaping: NameEscapingScheme

    /// Prometheus 3's defaults: UTF-8 validation, and the escaping that goes with the validation.
    public init(validation: NameValidationScheme = .utf8, escaping: NameEscapingScheme? = nil) {
        self.validation = validation
        self.escaping = escaping ?? .default(for: validation)
    }
}
