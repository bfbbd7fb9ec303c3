import Foundation
import Prometheus
import Testing

@testable import Agent

/// The `process_*` self-metrics: the `/proc/<pid>/stat` parser on fixtures, and the exposed
/// values against this test process's own figures read around them.
@Suite("Process metrics")
struct ProcessResourcesTests {
    @Test func statFieldsAreCountedAfterTheLastParenthesisOfTheCommandName() throws {
        let stat = try fixture("stat-parenthesized-name")
        let bootTime = try #require(ProcessStat.bootTime(procStat: try fixture("proc-stat")))
        #expect(bootTime == 1_700_000_000)
        let parsed = try #require(ProcessStat(stat: stat, bootTime: bootTime, ticksPerSecond: 100, pageSize: 4096))
        // utime 250 + stime 50 ticks; starttime 123400 ticks after boot; rss 2048 pages.
        #expect(parsed.cpuSeconds == 3.0)
        #expect(parsed.startTimeSeconds == 1_700_001_234)
        #expect(parsed.virtualMemoryBytes == 987_654_321)
        #expect(parsed.residentMemoryBytes == 2048 * 4096)
    }

    @Test func aTruncatedStatLineIsNotRead() throws {
        let stat = try fixture("stat-parenthesized-name")
        let truncated = String(stat.prefix { $0 != "\n" }.split(separator: " ").prefix(20).joined(separator: " "))
        #expect(ProcessStat(stat: truncated, bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessStat.bootTime(procStat: "cpu 1 2 3\n") == nil)
    }

    @Test func exposedProcessMetricsMatchThisProcess() throws {
        let registry = PrometheusCollectorRegistry()
        let resources = ProcessResources(registry: registry)
        // Ten pipes held open while the figures are read: at least 20 descriptors more than none.
        var pipes: [[Int32]] = []
        for _ in 0..<10 {
            var ends: [Int32] = [0, 0]
            try #require(pipe(&ends) == 0)
            pipes.append(ends)
        }
        defer { for ends in pipes { close(ends[0]); close(ends[1]) } }
        let cpuBefore = Self.rusageCPUSeconds()
        let before = Date().timeIntervalSince1970
        resources.update()
        let cpuAfter = Self.rusageCPUSeconds()
        let peakResident = try #require(Self.statusKilobytes("VmHWM")) * 1024

        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        func value(_ name: String) throws -> Double {
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "\(name) in\n\(text)")
            return try #require(Double(line.dropFirst(name.count + 1)))
        }
        #expect(text.contains("# TYPE process_cpu_seconds_total counter"))
        #expect(text.contains("# HELP process_resident_memory_bytes Resident memory size in bytes."))

        // /proc counts whole clock ticks; getrusage is finer: allow one tick per field below.
        let tick = 1 / Double(sysconf(Int32(_SC_CLK_TCK)))
        let cpu = try value("process_cpu_seconds_total")
        #expect(cpu > 0 && cpu >= cpuBefore - 2 * tick && cpu <= cpuAfter + 2 * tick, "\(cpuBefore) ≤ \(cpu) ≤ \(cpuAfter)")

        let resident = try value("process_resident_memory_bytes")
        #expect(resident > 1_048_576 && resident <= peakResident, "resident \(resident), peak \(peakResident)")
        #expect(try value("process_virtual_memory_bytes") >= resident)

        let open = try value("process_open_fds")
        let max = try value("process_max_fds")
        var limit = rlimit()
        try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(max == Double(limit.rlim_cur))
        #expect(open >= 23 && open <= max, "stdin/out/err and 20 pipe ends at least: \(open)")

        let procStat = try #require(ProcessStat.readProcFile("/proc/stat"))
        let bootTime = try #require(ProcessStat.bootTime(procStat: procStat))
        let start = try value("process_start_time_seconds")
        #expect(start >= bootTime && start <= before, "boot \(bootTime) ≤ start \(start) ≤ now \(before)")
    }

    private func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/proc"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// User plus system CPU time of this process, from `getrusage`.
    private static func rusageCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// A `kB` line of `/proc/self/status` (`VmHWM`: peak resident set size).
    private static func statusKilobytes(_ key: String) -> Double? {
        guard let status = ProcessStat.readProcFile("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
            return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        }
        return nil
    }
}
