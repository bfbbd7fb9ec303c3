import AgentConfig
import Model

/// The `Accept` header of a job's scrapes, built as Prometheus's `acceptHeader` builds it from
/// `scrape_protocols`: each protocol's media range in the order given, with q-values falling by
/// 0.1 from 0.6 (one more than the number of protocols there are), then `*/*` one step lower.
/// The two 1.0.0 formats carry `escaping=<metric_name_escaping_scheme>` before their q-value (the
/// older formats cannot carry UTF-8 names). With Prometheus's default list and scheme:
///
///     application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,
///     application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,
///     text/plain;version=0.0.4;q=0.3,*/*;q=0.2
struct AcceptHeader: Sendable, Equatable {
    let value: String

    init(protocols: [ScrapeProtocol], escaping: NameEscapingScheme) {
        var weight = ScrapeProtocol.allCases.count + 1
        var ranges: [String] = []
        for scrapeProtocol in protocols {
            let escapingParameter =
                scrapeProtocol == .prometheusText1_0_0 || scrapeProtocol == .openMetricsText1_0_0 ? ";escaping=\(escaping.rawValue)" : ""
            ranges.append("\(scrapeProtocol.mediaRange)\(escapingParameter);q=0.\(weight)")
            weight -= 1
        }
        ranges.append("*/*;q=0.\(weight)")
        value = ranges.joined(separator: ",")
    }
}
