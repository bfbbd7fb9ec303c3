import AgentConfig
import Foundation
import Logging
import Synchronization
import Testing
import Model
import TestSupport
import WAL

@testable import Discovery

/// Log messages a test can look at.
private final class CapturedLog: Sendable {
    let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var errors: [String] {
        entries.withLock { $0.filter { $0.level >= .error }.map { "\($0.message) \($0.metadata)" } }
    }

    var logger: Logger {
        Logger(label: "file-sd-test") { _ in CapturingHandler(log: self) }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.entries.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
            file: String, function: String, line: UInt
        ) {
            log.entries.withLock { $0.append((level, "\(message)", metadata ?? [:])) }
        }
    }
}

/// A temporary directory, removed when the test ends.
final class TempDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("file-sd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `contents` to `name` in the directory and returns the file's path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let file = "\(path)/\(name)"
        try Data(contents.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func remove(_ name: String) throws {
        try FileManager.default.removeItem(atPath: "\(path)/\(name)")
    }
}

@Suite struct FileDiscoveryTests {
    private let log = CapturedLog()

    func discovery(_ files: [String], refreshInterval: Duration = .seconds(300)) -> FileDiscovery {
        FileDiscovery(files: files, refreshInterval: refreshInterval, logger: log.logger)
    }

    static let twoGroupsJSON = """
        [
          {"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"env": "prod", "job": "node"}},
          {"targets": ["10.0.0.3:9100"]}
        ]
        """

    @Test func readsJSONGroupsWithFilepathAndSources() throws {
        let dir = try TempDirectory()
        let file = try dir.write("nodes.json", Self.twoGroupsJSON)
        let groups = discovery([file]).refresh()
        #expect(groups == [
            TargetGroup(
                source: "\(file):0", addresses: ["10.0.0.1:9100", "10.0.0.2:9100"],
                labels: Labels(["__meta_filepath": file, "env": "prod", "job": "node"])),
            TargetGroup(source: "\(file):1", addresses: ["10.0.0.3:9100"], labels: Labels(["__meta_filepath": file])),
        ])
        #expect(log.errors.isEmpty)
    }

    @Test func readsYAMLGroups() throws {
        let dir = try TempDirectory()
        let yaml = """
            - targets:
                - db1:9104
                - db2:9104
              labels:
                env: staging
                port_number: 9104
            - targets: [cache:6379]
              labels:
            - targets:
            """
        let yml = try dir.write("a.yml", yaml)
        let upper = try dir.write("b.YAML", "- targets: ['x:1']\n")
        let groups = discovery([yml, upper]).refresh()
        #expect(groups == [
            TargetGroup(
                source: "\(yml):0", addresses: ["db1:9104", "db2:9104"],
                labels: Labels(["__meta_filepath": yml, "env": "staging", "port_number": "9104"])),
            TargetGroup(source: "\(yml):1", addresses: ["cache:6379"], labels: Labels(["__meta_filepath": yml])),
            TargetGroup(source: "\(yml):2", addresses: [], labels: Labels(["__meta_filepath": yml])),
            TargetGroup(source: "\(upper):0", addresses: ["x:1"], labels: Labels(["__meta_filepath": upper])),
        ])
        #expect(log.errors.isEmpty)
    }

    @Test func filepathLabelOverridesOneFromTheFile() throws {
        let dir = try TempDirectory()
        let file = try dir.write("t.json", #"[{"targets": ["a:1"], "labels": {"__meta_filepath": "fake"}}]"#)
        #expect(discovery([file]).refresh().first?.labels["__meta_filepath"] == file)
    }

    @Test func globMatchesFilesInTheLastPathElement() throws {
        let dir = try TempDirectory()
        let b = try dir.write("b.json", #"[{"targets": ["b:1"]}]"#)
        let a = try dir.write("a.json", #"[{"targets": ["a:1"]}]"#)
        try dir.write("c.yml", "- targets: ['c:1']\n")
        try dir.write("d.json.bak", #"[{"targets": ["d:1"]}]"#)
        try FileManager.default.createDirectory(atPath: "\(dir.path)/sub.json", withIntermediateDirectories: false)
        let sd = discovery(["\(dir.path)/*.json", "\(dir.path)/a.json", "\(dir.path)/nothing-*.yml"])
        let groups = sd.refresh()
        #expect(groups.map(\.source) == ["\(a):0", "\(b):0"], "sorted, each file once, directories skipped")
        #expect(groups.map { $0.labels["__meta_filepath"] } == [a, b])
        #expect(log.errors.isEmpty)

        let c = try dir.write("c2.json", #"[{"targets": ["c2:1"]}]"#)
        #expect(sd.refresh().map(\.source) == ["\(a):0", "\(b):0", "\(c):0"], "a new match is picked up")
    }

    @Test func globCharacterClassesAndQuestionMark() throws {
        let dir = try TempDirectory()
        try dir.write("t1.yaml", "- targets: ['one:1']\n")
        try dir.write("t2.yaml", "- targets: ['two:1']\n")
        try dir.write("t10.yaml", "- targets: ['ten:1']\n")
        #expect(discovery(["\(dir.path)/t?.yaml"]).refresh().flatMap(\.addresses) == ["one:1", "two:1"])
        #expect(discovery(["\(dir.path)/t[2-9].yaml"]).refresh().flatMap(\.addresses) == ["two:1"])
    }

    @Test func invalidPatternsAreRejectedAndLogged() throws {
        let dir = try TempDirectory()
        try dir.write("targets.txt", #"[{"targets": ["a:1"]}]"#)
        try FileManager.default.createDirectory(atPath: "\(dir.path)/sub", withIntermediateDirectories: false)
        try dir.write("sub/x.json", #"[{"targets": ["x:1"]}]"#)

        #expect(FileSDConfig.patternProblem("\(dir.path)/targets.txt") != nil)
        #expect(FileSDConfig.patternProblem("\(dir.path)/*") != nil)
        #expect(FileSDConfig.patternProblem("\(dir.path)/*/x.json") != nil)
        #expect(FileSDConfig.patternProblem("\(dir.path)/*.json") == nil)
        #expect(FileSDConfig.patternProblem("targets/*.YML") == nil)
        #expect(FileSDConfig.patternProblem("targets/*.Yml") != nil, "mixed case, as Prometheus")

        let sd = discovery(["\(dir.path)/targets.txt", "\(dir.path)/*", "\(dir.path)/*/x.json"])
        #expect(sd.refresh().isEmpty)
        let errors = log.errors
        #expect(errors.count == 3)
        #expect(errors.allSatisfy { $0.contains("not valid for file discovery") })
    }

    @Test func emptyListsGiveNoGroups() throws {
        let dir = try TempDirectory()
        let files = [
            try dir.write("empty.json", "[]"),
            try dir.write("null.json", "null"),
            try dir.write("empty.yml", ""),
            try dir.write("list.yaml", "[]\n"),
            try dir.write("comment.yaml", "# nothing yet\n"),
        ]
        #expect(discovery(files).refresh().isEmpty)
        #expect(log.errors.isEmpty)
    }

    @Test(arguments: [
        // Prometheus 3 decodes target group labels as UTF-8 names: only the empty name is invalid.
        ("bad.json", #"[{"targets": ["a:1"], "labels": {"": "x"}}]"#, "not a valid label name"),
        ("bad.yml", "- targets: ['a:1']\n  labels: {\"\": x}\n", "not a valid label name"),
        ("bad.json", "", "invalid JSON"),
        ("bad.json", #"{"targets": ["a:1"]}"#, "invalid JSON"),
        ("bad.json", #"[{"targets": ["a:1"], "labels": {"n": 1}}]"#, "invalid JSON"),
        ("bad.json", #"[null]"#, "is null"),
        ("bad.yml", "- targets: ['a:1'\n", "invalid YAML"),
        ("bad.yml", "- target: ['a:1']\n", "unknown key"),
        ("bad.yml", "targets: ['a:1']\n", "expected a list"),
        ("bad.yml", "- targets: 'a:1'\n", "expected a list of strings"),
        ("bad.yml", "- targets: ['a:1']\n  labels: {a: [1]}\n", "expected a string"),
    ])
    func invalidContentIsAnErrorForTheFile(name: String, content: String, error: String) throws {
        let dir = try TempDirectory()
        let file = try dir.write(name, content)
        #expect(discovery([file]).refresh().isEmpty)
        let errors = log.errors
        #expect(errors.count == 1)
        #expect(errors.first?.contains(error) == true, "\(errors)")
    }

    @Test func invalidUTF8IsAnError() throws {
        let dir = try TempDirectory()
        let file = "\(dir.path)/bad.yml"
        try Data("- targets: ['a:1']\n  labels: {n: \"".utf8 + [0xFF, 0xFE] + Data("\"}\n".utf8))
            .write(to: URL(fileURLWithPath: file))
        #expect(discovery([file]).refresh().isEmpty)
        #expect(log.errors.first?.contains("UTF-8") == true)
    }

    @Test func invalidFileKeepsItsLastGoodGroupsAndLogsOncePerChange() throws {
        let dir = try TempDirectory()
        let file = try dir.write("t.json", Self.twoGroupsJSON)
        let other = try dir.write("other.json", #"[{"targets": ["o:1"]}]"#)
        let sd = discovery(["\(dir.path)/*.json"])
        let good = sd.refresh()
        #expect(good.count == 3)

        try dir.write("t.json", #"[{"targets": ["10.0.0.9:9100"], "labels": {"": "x"}}]"#)
        try dir.write("other.json", #"[{"targets": ["o:2"]}]"#)
        let afterBad = sd.refresh()
        #expect(afterBad.filter { $0.source.hasPrefix(file) } == good.filter { $0.source.hasPrefix(file) })
        #expect(afterBad.filter { $0.source.hasPrefix(other) }.flatMap(\.addresses) == ["o:2"], "other files still update")
        #expect(log.errors.count == 1)

        _ = sd.refresh()
        _ = sd.refresh()
        #expect(log.errors.count == 1, "the same error on the same file is not logged again")

        try dir.write("t.json", #"[{"targets": ["10.0.0.9:9100"], "labels": {"": "still bad"}}]"#)
        #expect(sd.refresh().filter { $0.source.hasPrefix(file) } == good.filter { $0.source.hasPrefix(file) })
        #expect(log.errors.count == 2, "a changed file that is still bad is logged again")

        try dir.write("t.json", #"[{"targets": ["10.0.0.9:9100"]}]"#)
        #expect(sd.refresh().filter { $0.source.hasPrefix(file) }.flatMap(\.addresses) == ["10.0.0.9:9100"])
    }

    @Test func deletedFileContributesNothing() throws {
        let dir = try TempDirectory()
        let keep = try dir.write("keep.yml", "- targets: ['k:1']\n")
        try dir.write("gone.yml", "- targets: ['g:1']\n")
        let sd = discovery(["\(dir.path)/*.yml", "\(dir.path)/gone.yml"])
        #expect(sd.refresh().flatMap(\.addresses) == ["g:1", "k:1"])
        try dir.remove("gone.yml")
        #expect(sd.refresh() == [TargetGroup(source: "\(keep):0", addresses: ["k:1"], labels: Labels(["__meta_filepath": keep]))])
        #expect(log.errors.isEmpty)
    }

    @Test func deletedInvalidFileDropsItsLastGoodGroups() throws {
        let dir = try TempDirectory()
        try dir.write("t.json", #"[{"targets": ["a:1"]}]"#)
        let sd = discovery(["\(dir.path)/t.json"])
        #expect(sd.refresh().count == 1)
        try dir.write("t.json", "not json")
        #expect(sd.refresh().count == 1)
        try dir.remove("t.json")
        #expect(sd.refresh().isEmpty)
    }

    @Test func fileStampNoticesRewritesOfTheSameSize() throws {
        let dir = try TempDirectory()
        let file = try dir.write("t.json", #"[{"targets": ["a:1"]}]"#)
        let before = try #require(FileStamp(path: file))
        try dir.write("t.json", #"[{"targets": ["b:1"]}]"#)
        let after = try #require(FileStamp(path: file))
        #expect(before != after)
        #expect(FileStamp(path: "\(dir.path)/missing.json") == nil)
    }

    // MARK: run

    /// Runs `sd` on a manual clock from what `refresh()` read, handing each reported set to the
    /// returned stream.
    func start(
        _ sd: FileDiscovery, clock: ManualClock, pool: BlockingIOPool, pollInterval: Duration = .seconds(5)
    ) -> (initial: [TargetGroup], reports: AsyncStream<[TargetGroup]>, task: Task<Void, Never>) {
        let initial = sd.refresh()
        let (stream, continuation) = AsyncStream.makeStream(of: [TargetGroup].self)
        let task = Task {
            await sd.run(initial: initial, pollInterval: pollInterval, clock: clock, pool: pool) { groups in continuation.yield(groups) }
            continuation.finish()
        }
        return (initial, stream, task)
    }

    /// Moves `clock` one poll ahead once the discovery waits for it.
    func poll(_ clock: ManualClock, _ interval: Duration = .seconds(5)) async {
        #expect(await clock.waitForSleepers(1), "the discovery is not waiting for its next poll")
        clock.advance(by: interval)
    }

    @Test(.timeLimit(.minutes(1)))
    func runNoticesAChangeAtTheNextPoll() async throws {
        let dir = try TempDirectory()
        let file = try dir.write("t.json", #"[{"targets": ["a:1"]}]"#)
        let sd = discovery(["\(dir.path)/*.json"])
        let clock = ManualClock()
        let pool = try BlockingIOPool(threads: 1, name: "test-io")
        let (initial, stream, task) = start(sd, clock: clock, pool: pool)
        defer { task.cancel() }
        var reports = stream.makeAsyncIterator()
        #expect(initial.flatMap(\.addresses) == ["a:1"])

        try dir.write("t.json", #"[{"targets": ["a:1", "b:2"]}]"#)
        await poll(clock)
        let second = await reports.next()
        #expect(second?.flatMap(\.addresses) == ["a:1", "b:2"])
        #expect(second?.first?.source == "\(file):0")

        let added = try dir.write("u.json", #"[{"targets": ["c:3"]}]"#)
        await poll(clock)
        let third = await reports.next()
        #expect(third?.map(\.source) == ["\(file):0", "\(added):0"])

        try dir.remove("t.json")
        await poll(clock)
        let fourth = await reports.next()
        #expect(fourth?.flatMap(\.addresses) == ["c:3"])

        task.cancel()
        #expect(await reports.next() == nil, "run returns when cancelled")
        await pool.shutdown()
    }

    @Test func runDoesNotReportWhenNothingChanged() async throws {
        let dir = try TempDirectory()
        try dir.write("t.json", #"[{"targets": ["a:1"]}]"#)
        // Full re-reads every poll: they find the same groups, so nothing is reported.
        let sd = discovery(["\(dir.path)/t.json"], refreshInterval: .milliseconds(1))
        let clock = ManualClock()
        let pool = try BlockingIOPool(threads: 1, name: "test-io")
        let reported = Mutex(0)
        let task = Task {
            await sd.run(initial: sd.refresh(), clock: clock, pool: pool) { _ in reported.withLock { $0 += 1 } }
        }
        for _ in 0..<5 { await poll(clock) }
        #expect(await clock.waitForSleepers(1))
        #expect(reported.withLock { $0 } == 0, "the same groups again are not reported")

        try dir.write("t.json", "broken")
        for _ in 0..<5 { await poll(clock) }
        #expect(await clock.waitForSleepers(1))
        #expect(reported.withLock { $0 } == 0, "a broken file keeps its groups: no change")
        #expect(log.errors.count == 1, "logged once although re-read every poll")
        task.cancel()
        await task.value
        await pool.shutdown()
    }
}
