import Prometheus

/// The scraper's self-metrics for one job.
struct ScrapeMetrics: Sendable {
    let scrapes: Counter
    let failures: Counter
    let samplesAppended: Counter
    let appendFailures: Counter

    init(registry: PrometheusCollectorRegistry, job: String) {
        let labels = [("scrape_job", job)]
        scrapes = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "agent_scrapes_total", unitName: "", helpText: "Scrapes attempted."), labels: labels)
        failures = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "agent_scrape_failures_total", unitName: "", helpText: "Scrapes that failed (up == 0)."), labels: labels)
        samplesAppended = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "agent_scrape_samples_appended_total", unitName: "", helpText: "Samples (scraped and synthetic) appended to the WAL."), labels: labels)
        appendFailures = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "agent_scrape_append_failures_total", unitName: "", helpText: "Scrapes whose samples could not be appended to the WAL."), labels: labels)
    }
}
