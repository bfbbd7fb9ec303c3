import Prometheus

/// The scraper's self-metrics for one job.
struct ScrapeMetrics: Sendable {
    let scrapes: Counter
    let failures: Counter
    let samplesAppended: Counter
    let appendFailures: Counter

    init(registry: PrometheusCollectorRegistry, job: String) {
        let labels = [("scrape_job", job)]
        scrapes = registry.makeCounter(name: "agent_scrapes_total", labels: labels, help: "Scrapes attempted.")
        failures = registry.makeCounter(name: "agent_scrape_failures_total", labels: labels, help: "Scrapes that failed (up == 0).")
        samplesAppended = registry.makeCounter(
            name: "agent_scrape_samples_appended_total", labels: labels,
            help: "Samples (scraped and synthetic) appended to the WAL."
        )
        appendFailures = registry.makeCounter(
            name: "agent_scrape_append_failures_total", labels: labels,
            help: "Scrapes whose samples could not be appended to the WAL."
        )
    }
}
