import Prometheus

/// Self-metrics of one remote endpoint, with Prometheus's names and labels.
struct RemoteWriteMetrics: Sendable {
    let samplesSent: Counter
    let samplesFailed: Counter
    let samplesRetried: Counter
    let samplesDropped: Counter
    let bytesSent: Counter
    let requestFailures: Counter
    let highestSentTimestamp: Gauge
    let pendingSamples: Gauge

    init(registry: PrometheusCollectorRegistry, name: String, url: String) {
        let labels = [("remote_name", name), ("url", url)]
        samplesSent = registry.makeCounter(
            name: "prometheus_remote_storage_samples_total", labels: labels,
            help: "Total number of samples sent to remote storage.")
        samplesFailed = registry.makeCounter(
            name: "prometheus_remote_storage_samples_failed_total", labels: labels,
            help: "Total number of samples which failed on send to remote storage, non-recoverable errors.")
        samplesRetried = registry.makeCounter(
            name: "prometheus_remote_storage_samples_retried_total", labels: labels,
            help: "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.")
        samplesDropped = registry.makeCounter(
            name: "prometheus_remote_storage_samples_dropped_total", labels: labels,
            help: "Total number of samples which were dropped after being read from the WAL before being sent, e.g. for an unknown series ref.")
        bytesSent = registry.makeCounter(
            name: "prometheus_remote_storage_bytes_total", labels: labels,
            help: "The total number of bytes of data (not metadata) sent by the queue after compression.")
        requestFailures = registry.makeCounter(
            name: "agent_remote_write_request_failures_total", labels: labels,
            help: "Remote write requests that failed (network error or non-2xx status), retried or not.")
        highestSentTimestamp = registry.makeGauge(
            name: "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", labels: labels,
            help: "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.")
        pendingSamples = registry.makeGauge(
            name: "prometheus_remote_storage_samples_pending", labels: labels,
            help: "The number of samples pending in the queue's shards to be sent to the remote storage.")
    }
}
