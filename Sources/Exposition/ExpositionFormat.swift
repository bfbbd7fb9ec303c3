/// The text format of a scrape response. (Which one a response is in follows from its
/// `Content-Type`: the scraper's `ResponseFormat` decides, as Prometheus 3 does.)
public enum ExpositionFormat: Sendable, Hashable {
    /// Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`).
    case prometheusText
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    case openMetrics
}
