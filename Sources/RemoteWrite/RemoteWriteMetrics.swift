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
        samplesSent = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_samples_total", unitName: "", helpText: "Total number of samples sent to remote storage."), labels: labels)
        samplesFailed = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_samples_failed_total", unitName: "", helpText: "Total number of samples which failed on send to remote storage, non-recoverable errors."), labels: labels)
        samplesRetried = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_samples_retried_total", unitName: "", helpText: "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable."), labels: labels)
        samplesDropped = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_samples_dropped_total", unitName: "", helpText: "Total number of samples which were dropped after being read from the WAL before being sent, e.g. for an unknown series ref."), labels: labels)
        bytesSent = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_bytes_total", unitName: "", helpText: "The total number of bytes of data (not metadata) sent by the queue after compression."), labels: labels)
        requestFailures = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "agent_remote_write_request_failures_total", unitName: "", helpText: "Remote write requests that failed (network error or non-2xx status), retried or not."), labels: labels)
        highestSentTimestamp = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", unitName: "", helpText: "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch."), labels: labels)
        pendingSamples = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "prometheus_remote_storage_samples_pending", unitName: "", helpText: "The number of samples pending in the queue's shards to be sent to the remote storage."), labels: labels)
    }
}
