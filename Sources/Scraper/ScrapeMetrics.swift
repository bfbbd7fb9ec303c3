import Prometheus

/// The scraper's self-metrics for one job; the Prometheus-named ones are shared by all jobs.
struct ScrapeMetrics: Sendable {
    let scrapes: Counter
    let failures: Counter
    let samplesAppended: Counter
    let appendFailures: Counter
    let exemplarsDropped: Counter
    /// Samples of scrapes the WAL could not write (disk full, I/O error).
    let samplesDroppedWriteFailed: Counter
    /// Metadata entries (HELP/TYPE/UNIT of a family) passed to the WAL: new, changed or re-announced.
    let metadataAppended: Counter
    /// `prometheus_target_scrapes_sample_duplicate_timestamp_total`, shared.
    let duplicates: Counter
    /// `agent_scrape_lateness_seconds`: how long after its slot each scrape started.
    let lateness: DurationHistogram

    init(registry: PrometheusCollectorRegistry, job: String, duplicates: Counter) {
        let labels = [("scrape_job", job)]
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        }
        scrapes = counter("agent_scrapes_total", "Scrapes attempted.")
        failures = counter("agent_scrape_failures_total", "Scrapes that failed (up == 0).")
        samplesAppended = counter("agent_scrape_samples_appended_total", "Samples (scraped, synthetic and staleness markers) appended to the WAL.")
        appendFailures = counter("agent_scrape_append_failures_total", "Scrapes whose samples could not be appended to the WAL.")
        exemplarsDropped = counter("agent_scrape_exemplars_dropped_total", "Exemplars dropped as invalid (e.g. labels over 128 characters); their samples are kept.")
        samplesDroppedWriteFailed = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "agent_wal_samples_dropped_total", unitName: "",
                helpText: "Samples (scraped, synthetic and staleness markers) dropped because the WAL could not write them."),
            labels: [("scrape_job", job), ("reason", "write_failed")])
        metadataAppended = counter(
            "agent_scrape_metadata_appended_total", "Metric family metadata entries (new, changed or re-announced) appended to the WAL.")
        self.duplicates = duplicates
        lateness = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "agent_scrape_lateness_seconds", unitName: "",
                helpText: "How long after its scheduled slot each scrape started (waiting for a free thread or a busy process)."),
            labels: labels,
            buckets: [.milliseconds(1), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                      .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30)])
    }

    static func duplicatesCounter(registry: PrometheusCollectorRegistry) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "prometheus_target_scrapes_sample_duplicate_timestamp_total", unitName: "",
                helpText: "Total number of samples rejected due to duplicate timestamps but different values."),
            labels: [])
    }
}
