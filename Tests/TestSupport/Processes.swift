import Foundation

/// A child process started by a test, its output in a log file, stopped by PID.
///
/// Standard output and standard error go to `NAME.log` in `logDirectory` (with
/// `separateStandardError`, standard error goes to `NAME.err` instead). A `ChildProcess` that is
/// released while its process still runs kills it (SIGKILL), so a test that fails half-way
/// leaves nothing behind.
public final class ChildProcess: @unchecked Sendable {
    public let name: String
    public let process = Process()
    public let logFile: URL
    /// Where standard error goes when it is kept apart, else `nil`.
    public let errorFile: URL?

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: Variables added to (or replacing those of) the test's environment.
    ///   - currentDirectory: The working directory, or the test's.
    ///   - separateStandardError: Standard error to `NAME.err` rather than into the log.
    public init(
        name: String, executable: String, arguments: [String], logDirectory: URL,
        environment: [String: String] = [:], currentDirectory: URL? = nil, separateStandardError: Bool = false
    ) throws {
        self.name = name
        logFile = logDirectory.appendingPathComponent("\(name).log")
        errorFile = separateStandardError ? logDirectory.appendingPathComponent("\(name).err") : nil
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        if let errorFile {
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errorFile)
        } else {
            process.standardError = log
        }
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `timeout`). Returns the exit status
    /// (for a process that SIGKILL ended, the signal number: see `Process.terminationStatus`).
    @discardableResult
    public func stop(timeout: Duration = .seconds(60)) async -> Int32 {
        if process.isRunning { process.terminate() }
        return await waitForExit(killAfter: timeout)
    }

    /// Waits until the process has exited, SIGKILLing it once `killAfter` has passed. Returns the
    /// exit status.
    @discardableResult
    public func waitForExit(killAfter timeout: Duration) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// What the process wrote to its log (standard output, and standard error unless kept apart).
    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// What the process wrote to standard error when it is kept apart, else "".
    public var errors: String { errorFile.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }

    /// How a process run by ``run(_:_:name:environment:currentDirectory:separateStandardError:timeout:)`` ended.
    public struct Finished: Sendable {
        /// The exit status; -1 when it did not finish within the timeout (it was killed).
        public var status: Int32
        /// Its log: standard output, and standard error unless kept apart.
        public var output: String
        /// Standard error when kept apart, else "".
        public var errors: String
    }

    /// Runs `executable arguments` to completion in a temporary directory of its own (removed
    /// afterwards unless kept, see ``Paths/removeUnlessKept(_:)``); a process still running after
    /// `timeout` is killed and reported with status -1.
    public static func run(
        _ executable: String, _ arguments: [String], name: String = "child", environment: [String: String] = [:],
        currentDirectory: URL? = nil, separateStandardError: Bool = false, timeout: Duration = .seconds(60)
    ) async throws -> Finished {
        let directory = try Paths.temporaryDirectory(name)
        defer { Paths.removeUnlessKept(directory) }
        let child = try ChildProcess(
            name: name, executable: executable, arguments: arguments, logDirectory: directory, environment: environment,
            currentDirectory: currentDirectory, separateStandardError: separateStandardError)
        let finished = await eventually(timeout: timeout) { !child.isRunning }
        if !finished { await child.waitForExit(killAfter: .zero) }
        return Finished(status: finished ? child.process.terminationStatus : -1, output: child.log, errors: child.errors)
    }
}

/// Where things are for tests that run the built agent: the package root, the binary, and
/// temporary directories.
public enum Paths {
    /// The package root (this file is `Tests/TestSupport/Processes.swift`).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `AGENT_BINARY` if set, otherwise the debug build `swift build` made.
    public static var agentBinary: String {
        if let path = ProcessInfo.processInfo.environment["AGENT_BINARY"] { return path }
        return packageRoot.appendingPathComponent(".build/debug/agent").path
    }

    /// A new empty directory `metrics-agent-NAME-UUID` under the system's temporary directory.
    public static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-agent-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Removes a test's directory, unless `E2E_KEEP=1` asks to keep it for a post-mortem.
    public static func removeUnlessKept(_ directory: URL) {
        if ProcessInfo.processInfo.environment["E2E_KEEP"] == "1" {
            print("kept \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
public func eventually(timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// The number of OS threads of process `pid` (entries of `/proc/PID/task`), or `nil` when it is
/// gone or there is no `/proc`.
public func threadCount(ofProcess pid: Int32) -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"))?.count
}
