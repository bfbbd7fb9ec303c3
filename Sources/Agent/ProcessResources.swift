#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Prometheus

/// What the agent's process uses of the machine, for `/metrics`: `agent_threads` (OS threads
/// now). The agent runs a fixed set of threads whatever the number of targets, shards or
/// Kubernetes watches: the cooperative pool (one per core), one libcurl I/O thread, the WAL
/// writer, the blocking-I/O pool, the admin server's event loop and the main thread.
struct ProcessResources: Sendable {
    private let threads: Gauge

    init(registry: PrometheusCollectorRegistry) {
        threads = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "agent_threads", unitName: "", helpText: "Operating-system threads of the agent's process."),
            labels: [])
    }

    /// Reads the current figures into the gauges (called before each `/metrics` answer).
    func update() {
        if let count = Self.threadCount() { threads.set(Double(count)) }
    }

    /// The number of entries in `/proc/self/task` (Linux), or nil where there is none.
    static func threadCount() -> Int? {
        guard let directory = opendir("/proc/self/task") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }

    /// Raises the soft limit on open files to the hard limit, as Go programs (Prometheus,
    /// vmagent) do at start: every scrape target keeps a connection open between scrapes.
    /// Returns the limit in effect.
    @discardableResult
    static func raiseOpenFileLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
