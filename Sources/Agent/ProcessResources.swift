#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Prometheus

/// What the agent's process uses of the machine, for `/metrics`: the `process_*` metrics of
/// Go's client_golang process collector (same names, meanings and help text, read from `/proc`),
/// and `agent_threads` (OS threads now). The agent runs a fixed set of threads whatever the
/// number of targets, shards or Kubernetes watches: the cooperative pool (one per core), one
/// libcurl I/O thread, the WAL writer, the blocking-I/O pool, the admin server's event loop and
/// the main thread.
///
/// ``update()`` reads a few small `/proc` files; it runs before each `/metrics` answer, on the
/// admin server's event loop thread (never on the cooperative pool), one call at a time.
struct ProcessResources: Sendable {
    private let threads: Gauge
    private let cpuSeconds: Counter
    private let residentMemory: Gauge
    private let virtualMemory: Gauge
    private let openFileDescriptors: Gauge
    private let maxFileDescriptors: Gauge
    private let startTime: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: [])
        }
        threads = gauge("agent_threads", "Operating-system threads of the agent's process.")
        cpuSeconds = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "process_cpu_seconds_total", unitName: "", helpText: "Total user and system CPU time spent in seconds."),
            labels: [])
        residentMemory = gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        virtualMemory = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
        openFileDescriptors = gauge("process_open_fds", "Number of open file descriptors.")
        maxFileDescriptors = gauge("process_max_fds", "Maximum number of open file descriptors.")
        startTime = gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
    }

    /// Reads the current figures into the metrics (called before each `/metrics` answer).
    func update() {
        if let count = Self.threadCount() { threads.set(Double(count)) }
        if let stat = ProcessStat.current() {
            // The counter holds the kernel's running total: set, not added to.
            cpuSeconds.reset()
            cpuSeconds.increment(by: stat.cpuSeconds)
            residentMemory.set(stat.residentMemoryBytes)
            virtualMemory.set(stat.virtualMemoryBytes)
            startTime.set(stat.startTimeSeconds)
        }
        if let open = ProcessStat.openFileDescriptors() { openFileDescriptors.set(Double(open)) }
        if let max = ProcessStat.maxFileDescriptors() { maxFileDescriptors.set(max) }
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

    /// Limits glibc's malloc to `arenas` arenas (unless `MALLOC_ARENA_MAX` is set), for threads
    /// that start from now on. glibc gives each new thread its own arena, up to eight per core;
    /// memory a thread frees returns to the arena of the thread that allocated it, so response
    /// bodies read on the I/O thread and freed after parsing, and WAL buffers made on the writer
    /// thread, leave each arena fragmented. Measured on the medium benchmark: 337 MB peak RSS with
    /// the default, 307 MB with one arena, at the same CPU within noise.
    static func limitMallocArenas(to arenas: Int32 = 2) {
        #if canImport(Glibc)
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        // mallopt is declared in <malloc.h>, which Swift's Glibc module does not import.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mArenaMax: Int32 = -8  // M_ARENA_MAX in <malloc.h>
        _ = unsafeBitCast(symbol, to: Mallopt.self)(mArenaMax, arenas)
        #endif
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
