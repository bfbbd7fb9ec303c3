import Yams

/// Prometheus 3's native-histogram and extra-metrics keys (in `global` and in scrape configs).
/// The agent scrapes the text formats, which carry classic histograms only: a value asking for
/// what it cannot do is an error saying so; a value asking for what it does anyway is accepted.
extension NodeReader {
    /// Keys whose `true` the agent cannot honour, with the reason given at load.
    static let unsupportedWhenTrue: [String: String] = [
        "scrape_native_histograms": "native histograms come only in the protobuf exposition format, which the agent does not scrape",
        "convert_classic_histograms_to_nhcb": "the agent does not make native histograms",
        "extra_scrape_metrics": "the extra series scrape_timeout_seconds, scrape_sample_limit and scrape_body_size_bytes are not written",
    ]
    /// Keys every value of which the agent honours: classic histograms are always kept (there are
    /// no native ones to prefer), and native histogram limits have nothing to limit.
    static let histogramKeysWithoutEffect: Set<String> = [
        "always_scrape_classic_histograms", "scrape_classic_histograms", "native_histogram_bucket_limit",
        "native_histogram_min_bucket_factor",
    ]
    static let histogramKeys = Set(unsupportedWhenTrue.keys).union(histogramKeysWithoutEffect)

    /// Checks the histogram keys of `map` (a `global` section or a scrape config at `path`).
    mutating func checkHistogramKeys(_ map: [String: Node], _ path: String) {
        for (key, reason) in Self.unsupportedWhenTrue.sorted(by: { $0.key < $1.key }) {
            guard let node = map[key], let value = bool(node, "\(path).\(key)"), value else { continue }
            fail(node, "\(path).\(key)", "not supported: \(reason)")
        }
        for key in ["always_scrape_classic_histograms", "scrape_classic_histograms"] {
            if let node = map[key] { _ = bool(node, "\(path).\(key)") }
        }
        if let node = map["native_histogram_bucket_limit"], let value = int(node, "\(path).native_histogram_bucket_limit"), value < 0 {
            fail(node, "\(path).native_histogram_bucket_limit", "must not be negative")
        }
        if let node = map["native_histogram_min_bucket_factor"], let text = string(node, "\(path).native_histogram_min_bucket_factor"),
            Double(text) == nil
        {
            fail(node, "\(path).native_histogram_min_bucket_factor", "expected a number")
        }
    }
}
