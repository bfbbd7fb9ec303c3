import Model

extension ScrapeAppender {
    /// Prometheus 3's check of each new series' final labels (after target labels and
    /// `metric_relabel_configs`; `scrape.go`, "invalid metric name or label names"): a name not
    /// valid under the job's `metric_name_validation_scheme` fails the whole scrape. Series
    /// already in the scrape cache passed it when first seen (their bytes, the format and the
    /// job's configuration, hence the result, are unchanged).
    static func checkNames(_ labels: Labels, under scheme: NameValidationScheme) throws {
        guard !scheme.isValid(labels) else { return }
        throw ScrapeFailure("invalid metric name or label names: \(labels)")
    }
}
