import AgentConfig

/// The `Accept` header of a job's scrapes, built as Prometheus's `acceptHeader` builds it from
/// `scrape_protocols`: each protocol's media range in the order given, with q-values falling by
/// 0.1 from 0.6 (one more than the number of protocols there are), then `*/*` one step lower.
/// With Prometheus's default list:
///
///     application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,
///     text/plain;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2
///
/// Prometheus 3 adds `escaping=<scheme>` to the two 1.0.0 formats (before the q-value); that
/// parameter belongs here, with the UTF-8 name support that decides its value.
struct AcceptHeader: Sendable, Equatable {
    let value: String

    init(protocols: [ScrapeProtocol]) {
        var weight = ScrapeProtocol.allCases.count + 1
        var ranges: [String] = []
        for scrapeProtocol in protocols {
            ranges.append("\(scrapeProtocol.mediaRange);q=0.\(weight)")
            weight -= 1
        }
        ranges.append("*/*;q=0.\(weight)")
        value = ranges.joined(separator: ",")
    }
}
