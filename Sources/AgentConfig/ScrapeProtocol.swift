/// A format the scraper may ask a target for (`scrape_protocols`, `fallback_scrape_protocol`),
/// named as in Prometheus's configuration (case-sensitive).
public enum ScrapeProtocol: String, Sendable, Hashable, CaseIterable {
    case prometheusProto = "PrometheusProto"
    case prometheusText0_0_4 = "PrometheusText0.0.4"
    case prometheusText1_0_0 = "PrometheusText1.0.0"
    case openMetricsText0_0_1 = "OpenMetricsText0.0.1"
    case openMetricsText1_0_0 = "OpenMetricsText1.0.0"

    /// Prometheus 3's default `scrape_protocols` (`DefaultScrapeProtocols`): OpenMetrics first,
    /// then the text formats, newest version first.
    public static let defaults: [ScrapeProtocol] = [.openMetricsText1_0_0, .openMetricsText0_0_1, .prometheusText1_0_0, .prometheusText0_0_4]

    /// The media range offered in the `Accept` header (Prometheus's `ScrapeProtocolsHeaders`).
    public var mediaRange: String {
        switch self {
        case .prometheusProto: return "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
        case .prometheusText0_0_4: return "text/plain;version=0.0.4"
        case .prometheusText1_0_0: return "text/plain;version=1.0.0"
        case .openMetricsText0_0_1: return "application/openmetrics-text;version=0.0.1"
        case .openMetricsText1_0_0: return "application/openmetrics-text;version=1.0.0"
        }
    }

    /// The media type alone (lower case, no parameters): what a response's `Content-Type` is
    /// compared with, and what `fallback_scrape_protocol` stands for.
    public var mediaType: String {
        String(mediaRange.prefix { $0 != ";" })
    }

    /// Whether the agent can parse this format (it has no parser for the protobuf format).
    public var isSupported: Bool { self != .prometheusProto }
}
