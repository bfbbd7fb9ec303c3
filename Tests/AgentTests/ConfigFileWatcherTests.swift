import AgentConfig
import Foundation
import Logging
import Prometheus
import TestSupport
import Testing
import WAL

@testable import Agent

/// `--config.auto-reload-interval`: the watcher on a manual clock, the real reloader with its
/// metrics, configuration files from Fixtures/reload.
@Suite("Configuration file watcher")
struct ConfigFileWatcherTests {
    @Test func anEditIsReloadedOnceAtTheNextCheck() async throws {
        let config = try WatchedConfig(fixture: "first")
        try await config.watching {
            try config.write("second")
            #expect(await config.check())
            #expect(config.appliedJobs == [["second"]])
            for _ in 0..<3 { #expect(await config.check()) }
            #expect(config.appliedJobs == [["second"]], "the same content is not reloaded again")
            #expect(config.reloads(.fileChange, "success") == 1)
            #expect(config.metric("prometheus_config_last_reload_successful") == 1)
        }
    }

    @Test func rewritingTheSameContentReloadsNothing() async throws {
        let config = try WatchedConfig(fixture: "first")
        try await config.watching {
            for _ in 0..<3 {
                // A new file (new inode, new modification time) with the same bytes.
                try config.write("first")
                #expect(await config.check())
            }
            #expect(config.appliedJobs.isEmpty)
            #expect(config.reloads(.fileChange, "success") == 0 && config.reloads(.fileChange, "failure") == 0)
        }
    }

    @Test func aConfigMapUpdateBehindTheDataSymlinkIsReloaded() async throws {
        let volume = try ConfigMapVolume(fixture: "first")
        let config = try WatchedConfig(path: volume.configPath)
        try await config.watching {
            try volume.update(to: "first")
            #expect(await config.check())
            #expect(config.appliedJobs.isEmpty, "a swap to the same content is no change")
            try volume.update(to: "second")
            #expect(await config.check())
            #expect(config.appliedJobs == [["second"]])
            #expect(await config.check())
            #expect(config.appliedJobs == [["second"]])
        }
    }

    @Test func anInvalidEditFailsOnceKeepsTheRunningConfigurationAndWaitsForTheNextEdit() async throws {
        let config = try WatchedConfig(fixture: "first")
        try await config.watching {
            try config.write("invalid")
            #expect(await config.check())
            #expect(config.appliedJobs.isEmpty, "nothing of an invalid file is applied")
            #expect(config.metric("prometheus_config_last_reload_successful") == 0)
            #expect(config.reloads(.fileChange, "failure") == 1)
            for _ in 0..<3 { #expect(await config.check()) }
            #expect(config.reloads(.fileChange, "failure") == 1, "the same invalid content is not tried again")

            try config.write("second")
            #expect(await config.check())
            #expect(config.appliedJobs == [["second"]])
            #expect(config.metric("prometheus_config_last_reload_successful") == 1)
            #expect(config.reloads(.fileChange, "success") == 1)
        }
    }

    @Test func contentASignalAlreadyAppliedIsNotReloadedAgain() async throws {
        let config = try WatchedConfig(fixture: "first")
        try await config.watching {
            try config.write("second")
            #expect(await config.reloader.reload(trigger: .signal) == nil)
            #expect(config.appliedJobs == [["second"]])
            #expect(await config.check())
            #expect(config.appliedJobs == [["second"]])
            #expect(config.reloads(.signal, "success") == 1 && config.reloads(.fileChange, "success") == 0)
        }
    }

    @Test func aFileThatCannotBeReadFailsOnceUntilItIsBack() async throws {
        let config = try WatchedConfig(fixture: "first")
        try await config.watching {
            try FileManager.default.removeItem(atPath: config.path)
            #expect(await config.check())
            #expect(config.reloads(.fileChange, "failure") == 1)
            #expect(await config.check())
            #expect(config.reloads(.fileChange, "failure") == 1)
            #expect(config.appliedJobs.isEmpty)

            try config.write("first")
            #expect(await config.check())
            #expect(config.appliedJobs == [["first"]], "the file is back: loaded again")
            #expect(config.metric("prometheus_config_last_reload_successful") == 1)
        }
    }
}

/// A configuration file (by default `agent.yml` in a temporary directory), a ``ConfigReloader``
/// for it that records the jobs of every configuration it applies, and a
/// ``ConfigFileWatcher`` on a ``ManualClock``.
final class WatchedConfig: Sendable {
    static let interval = Duration.seconds(30)

    let path: String
    let clock = ManualClock()
    let registry = PrometheusCollectorRegistry()
    let reloader: ConfigReloader
    private let directory: URL?
    private let pool: BlockingIOPool
    private let applied = Locked<[[String]]>([])

    /// A new `agent.yml` holding Fixtures/reload/`fixture`.yml, loaded.
    convenience init(fixture: String) throws {
        let directory = try Paths.temporaryDirectory("config-watcher")
        let path = directory.appendingPathComponent("agent.yml").path
        try Self.contents(of: fixture).write(to: URL(fileURLWithPath: path))
        try self.init(path: path, directory: directory)
    }

    /// The file at `path` (created by the caller), loaded.
    init(path: String, directory: URL? = nil) throws {
        self.path = path
        self.directory = directory
        pool = try BlockingIOPool(threads: 1, name: "config-watcher-test")
        let applied = self.applied
        reloader = ConfigReloader(
            file: path, expandEnvironment: false, loadedVersion: ConfigFileVersion.read(file: path),
            apply: { configuration in applied.withLock { $0.append(configuration.scrapeConfigs.map(\.jobName)) } },
            pool: pool, registry: registry, logger: Logger(label: "config-watcher-test"))
    }

    deinit {
        if let directory { Paths.removeUnlessKept(directory) }
    }

    static func contents(of fixture: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: fixture, withExtension: "yml", subdirectory: "Fixtures/reload"))
        return try Data(contentsOf: url)
    }

    /// Replaces the file (a new file renamed over it) with Fixtures/reload/`fixture`.yml.
    func write(_ fixture: String) throws {
        try Self.contents(of: fixture).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The jobs of each configuration applied so far, in order.
    var appliedJobs: [[String]] { applied.value }

    /// Runs the watcher while `body` runs; `body` starts once the watcher waits for its first check.
    func watching(_ body: () async throws -> Void) async throws {
        let watcher = ConfigFileWatcher(interval: Self.interval, reloader: reloader, clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await watcher.run() }
            #expect(await clock.waitForSleeper(until: clock.now.advanced(by: Self.interval)), "the watcher waits for its first check")
            try await body()
            group.cancelAll()
        }
        await pool.shutdown()
    }

    /// Moves the clock to the watcher's next check and waits until the check is done (the
    /// watcher waits for the one after); `false` if it did not get there.
    func check() async -> Bool {
        guard let next = clock.nextDeadline else { return false }
        clock.advance(to: next)
        return await clock.waitForSleeper(until: next.advanced(by: Self.interval))
    }

    /// `agent_config_reloads_total{trigger, result}`.
    func reloads(_ trigger: ConfigReloader.Trigger, _ result: String) -> Double? {
        metric("agent_config_reloads_total{trigger=\"\(trigger.rawValue)\",result=\"\(result)\"}")
    }

    /// The value of the exposed series written exactly `series`, if it is exposed.
    func metric(_ series: String) -> Double? {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}

/// A directory laid out as the kubelet lays out a ConfigMap volume: the data in a directory
/// `..v<N>`, a symlink `..data` to it, and `agent.yml` a symlink to `..data/agent.yml`. An update
/// writes a new `..v<N+1>` and renames a new symlink over `..data` (one atomic step), then
/// removes the old directory.
final class ConfigMapVolume {
    let directory: URL
    private var version = 0

    init(fixture: String) throws {
        directory = try Paths.temporaryDirectory("configmap")
        try update(to: fixture)
        try FileManager.default.createSymbolicLink(atPath: configPath, withDestinationPath: "..data/agent.yml")
    }

    deinit { Paths.removeUnlessKept(directory) }

    /// The path the agent is given: `agent.yml`, through both symlinks.
    var configPath: String { directory.appendingPathComponent("agent.yml").path }

    func update(to fixture: String) throws {
        version += 1
        let data = directory.appendingPathComponent("..v\(version)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: false)
        try WatchedConfig.contents(of: fixture).write(to: data.appendingPathComponent("agent.yml"))
        let link = directory.appendingPathComponent("..data_tmp").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "..v\(version)")
        guard rename(link, directory.appendingPathComponent("..data").path) == 0 else {
            throw CocoaError(.fileWriteUnknown)
        }
        if version > 1 { try FileManager.default.removeItem(at: directory.appendingPathComponent("..v\(version - 1)")) }
    }
}
