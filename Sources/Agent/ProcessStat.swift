#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One reading of the process's `/proc/self/stat` (Linux), in the units of the `process_*`
/// metrics of Go's client_golang process collector.
struct ProcessStat: Equatable, Sendable {
    /// User and system CPU time, in seconds (`utime + stime`, fields 14 and 15, in clock ticks).
    var cpuSeconds: Double
    /// Virtual memory size in bytes (`vsize`, field 23).
    var virtualMemoryBytes: Double
    /// Resident memory size in bytes (`rss`, field 24, in pages).
    var residentMemoryBytes: Double
    /// When the process started, in seconds since the Unix epoch (`starttime`, field 22, in
    /// clock ticks after boot, plus the boot time).
    var startTimeSeconds: Double

    /// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and
    /// may itself hold spaces and parentheses, so fields are counted after the *last* `)`.
    /// - Parameters:
    ///   - bootTime: `btime` of `/proc/stat`, in seconds since the epoch.
    ///   - ticksPerSecond: `sysconf(_SC_CLK_TCK)`.
    ///   - pageSize: bytes per page (`sysconf(_SC_PAGESIZE)`).
    init?(stat: String, bootTime: Double, ticksPerSecond: Double, pageSize: Double) {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // After ")": field 3 (state) is at index 0, so field N is at index N - 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ number: Int) -> Double? {
            let index = number - 3
            return index < fields.count ? Double(fields[index]) : nil
        }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24),
            ticksPerSecond > 0
        else { return nil }
        cpuSeconds = (utime + stime) / ticksPerSecond
        virtualMemoryBytes = vsize
        residentMemoryBytes = rss * pageSize
        startTimeSeconds = bootTime + start / ticksPerSecond
    }

    /// The `btime` line of `/proc/stat`: the boot time in seconds since the epoch.
    static func bootTime(procStat: String) -> Double? {
        for line in procStat.split(separator: "\n") where line.hasPrefix("btime ") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    /// Reads this process's figures now; nil where there is no `/proc` (not Linux).
    static func current() -> ProcessStat? {
        guard let stat = readProcFile("/proc/self/stat"), let procStat = readProcFile("/proc/stat"),
            let bootTime = bootTime(procStat: procStat)
        else { return nil }
        return ProcessStat(
            stat: stat, bootTime: bootTime, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
            pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The number of open file descriptors: entries of `/proc/self/fd` (the one used to list
    /// the directory included, as client_golang counts); nil without `/proc`.
    static func openFileDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }

    /// The soft limit on open file descriptors (what `/proc/self/limits` calls "Max open
    /// files"); nil when it cannot be read, or when it is unlimited.
    static func maxFileDescriptors() -> Double? {
        var limit = rlimit()
        #if canImport(Glibc)
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        #else
        guard getrlimit(RLIMIT_NOFILE, &limit) == 0 else { return nil }
        #endif
        return limit.rlim_cur == rlim_t.max ? nil : Double(limit.rlim_cur)
    }

    /// The whole of a small file whose size `stat` does not report (as `/proc` files), read with
    /// `read(2)` until end of file.
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
