import Prometheus

/// Why samples read from the WAL were not sent (the `reason` label of
/// `prometheus_remote_storage_samples_dropped_total`).
enum DropReason: String, CaseIterable, Sendable {
    /// `write_relabel_configs` dropped the series (Prometheus's reason).
    case droppedSeries = "dropped_series"
    /// Older than `queue_config.sample_age_limit` (Prometheus's reason).
    case tooOld = "too_old"
    /// The sample's series ref has no series record (Prometheus: "unintentionally dropped series").
    case unknownSeries = "unintentionally_dropped_series"
    /// The WAL outgrew `wal.max_size` before the endpoint sent them.
    case walMaxSize = "wal_max_size"
    /// The WAL kept them longer than `wal.max_age` before the endpoint sent them.
    case walMaxAge = "wal_max_age"
    /// A corrupt WAL segment was skipped.
    case walCorruption = "wal_corruption"

    /// Whether the WAL (its caps or damage) lost the samples, rather than the user's rules.
    var isWAL: Bool { self == .walMaxSize || self == .walMaxAge || self == .walCorruption }
}

/// Self-metrics of one remote endpoint, with Prometheus's names, labelled `remote_name` and `url`.
struct RemoteWriteMetrics: Sendable {
    let samplesSent: Counter
    let samplesFailed: Counter
    let samplesRetried: Counter
    let samplesPending: Gauge
    let bytesSent: Counter
    let exemplarsSent: Counter
    let exemplarsFailed: Counter
    let exemplarsRetried: Counter
    let exemplarsPending: Gauge
    let metadataSent: Counter
    let metadataFailed: Counter
    let metadataRetried: Counter
    let metadataBytes: Counter
    let requestFailures: Counter
    let shards: Gauge
    let shardsDesired: Gauge
    let shardsMin: Gauge
    let shardsMax: Gauge
    let shardCapacity: Gauge
    let highestTimestamp: Gauge
    let highestSentTimestamp: Gauge
    let sentBatchDuration: DurationHistogram
    /// WAL records the watcher took from the WAL's in-memory window (caught up) and from the
    /// segment files (behind, or after a restart).
    let recordsFromMemory: Counter
    let recordsFromFiles: Counter
    private let dropped: [DropReason: Counter]
    private let walDropped: [DropReason: Counter]

    init(registry: PrometheusCollectorRegistry, name: String, url: String) {
        let labels = [("remote_name", name), ("url", url)]
        func counter(_ metric: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(metricName: metric, unitName: "", helpText: help), labels: labels)
        }
        func gauge(_ metric: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: metric, unitName: "", helpText: help), labels: labels)
        }
        let p = "prometheus_remote_storage_"
        samplesSent = counter(p + "samples_total", "Total number of samples sent to remote storage.")
        samplesFailed = counter(p + "samples_failed_total", "Total number of samples which failed on send to remote storage, non-recoverable errors.")
        samplesRetried = counter(p + "samples_retried_total", "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.")
        samplesPending = gauge(p + "samples_pending", "The number of samples pending in the queue's shards to be sent to the remote storage.")
        bytesSent = counter(p + "bytes_total", "The total number of bytes of data (not metadata) sent by the queue after compression.")
        exemplarsSent = counter(p + "exemplars_total", "Total number of exemplars sent to remote storage.")
        exemplarsFailed = counter(p + "exemplars_failed_total", "Total number of exemplars which failed on send to remote storage, non-recoverable errors.")
        exemplarsRetried = counter(p + "exemplars_retried_total", "Total number of exemplars which failed on send to remote storage but were retried because the send error was recoverable.")
        exemplarsPending = gauge(p + "exemplars_pending", "The number of exemplars pending in the queue's shards to be sent to the remote storage.")
        metadataSent = counter(p + "metadata_total", "Total number of metadata entries sent to remote storage.")
        metadataFailed = counter(p + "metadata_failed_total", "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.")
        metadataRetried = counter(p + "metadata_retried_total", "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.")
        metadataBytes = counter(p + "metadata_bytes_total", "The total number of bytes of metadata sent by the queue after compression.")
        requestFailures = counter("agent_remote_write_request_failures_total", "Remote write requests that failed (network error or non-2xx status), retried or not.")
        shards = gauge(p + "shards", "The number of shards used for parallel sending to the remote storage.")
        shardsDesired = gauge(p + "shards_desired", "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.")
        shardsMin = gauge(p + "shards_min", "The minimum number of shards that the queue is allowed to run.")
        shardsMax = gauge(p + "shards_max", "The maximum number of shards that the queue is allowed to run.")
        shardCapacity = gauge(p + "shard_capacity", "The capacity of each shard of the queue used for parallel sending to the remote storage.")
        highestTimestamp = gauge(p + "highest_timestamp_in_seconds", "Highest timestamp read from the WAL by this queue, in seconds since epoch.")
        highestSentTimestamp = gauge(p + "queue_highest_sent_timestamp_seconds", "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.")
        sentBatchDuration = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: p + "sent_batch_duration_seconds", unitName: "", helpText: "Duration of send calls to the remote storage."),
            labels: labels,
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(25), .seconds(60)])
        func recordsRead(_ source: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "agent_remote_wal_records_read_total", unitName: "",
                    helpText: "WAL records this endpoint's watcher read, from the WAL's window of what it just wrote (source=\"memory\") or from the segment files (source=\"file\")."),
                labels: labels + [("source", source)])
        }
        recordsFromMemory = recordsRead("memory")
        recordsFromFiles = recordsRead("file")
        var dropped: [DropReason: Counter] = [:]
        var walDropped: [DropReason: Counter] = [:]
        for reason in DropReason.allCases {
            let withReason = labels + [("reason", reason.rawValue)]
            dropped[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: p + "samples_dropped_total", unitName: "",
                    helpText: "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old, unintentionally because of an unknown reference ID, or because the WAL's caps removed them first."),
                labels: withReason)
            if reason.isWAL {
                walDropped[reason] = registry.makeCounter(
                    descriptor: MetricNameDescriptor(
                        metricName: "agent_wal_endpoint_samples_dropped_total", unitName: "",
                        helpText: "Samples the WAL removed (caps reached, corruption) before this remote endpoint sent them."),
                    labels: withReason)
            }
        }
        self.dropped = dropped
        self.walDropped = walDropped
    }

    func drop(_ count: Int, reason: DropReason) {
        guard count > 0 else { return }
        dropped[reason]?.increment(by: Int64(count))
        walDropped[reason]?.increment(by: Int64(count))
    }
}
