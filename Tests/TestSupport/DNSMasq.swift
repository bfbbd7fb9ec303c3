import Foundation

/// A real DNS server for discovery tests: Debian's dnsmasq (package `dnsmasq-base`, installed by
/// `scripts/install-deps.sh test`), answering on 127.0.0.1 from a configuration file only
/// (`no-resolv`, `no-hosts` and the records belong in the file), in the foreground, stopped by PID.
///
/// A port is picked at random (dnsmasq cannot report one it chose); one that is taken is
/// replaced by another. ``restart(configFile:)`` serves another file on the same port: when it
/// returns, the new answers are the only ones.
public final class DNSMasq: Sendable {
    public static let executable = "/usr/sbin/dnsmasq"

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// UDP and TCP.
    public let port: Int
    private let directory: URL
    private let child: Locked<ChildProcess?>

    /// Starts dnsmasq serving `configFile`.
    public init(configFile: String) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw Unavailable(description: "\(Self.executable) is missing: run scripts/install-deps.sh test (it installs Debian's dnsmasq-base)")
        }
        directory = try Paths.temporaryDirectory("dnsmasq")
        for _ in 0..<20 {
            let port = Int.random(in: 20_000...60_000)
            if let child = try await Self.start(configFile: configFile, port: port, directory: directory) {
                self.port = port
                self.child = Locked(child)
                return
            }
        }
        throw Unavailable(description: "dnsmasq did not start on any of 20 random ports; see \(directory.path)")
    }

    /// Stops the server and starts it again on the same port, serving `configFile`.
    public func restart(configFile: String) async throws {
        await stop()
        for _ in 0..<50 {
            if let child = try await Self.start(configFile: configFile, port: port, directory: directory) {
                self.child.withLock { $0 = child }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Unavailable(description: "dnsmasq did not start again on port \(port); see \(directory.path)")
    }

    /// Stops the server: SIGKILL to dnsmasq (it inherits the test runner's signal mask, which
    /// blocks SIGTERM), then waits for its shell to exit.
    public func stop() async {
        guard let child = self.child.withLock({ $0 }) else { return }
        await Self.kill(child, pidFile: Self.pidFile(port: port, directory: directory))
        self.child.withLock { $0 = nil }
    }

    /// A server still running is killed (its shell then exits).
    deinit {
        if child.withLock({ $0 }) != nil, let pid = Self.pid(in: Self.pidFile(port: port, directory: directory)) {
            _ = Foundation.kill(pid, SIGKILL)
        }
        Paths.removeUnlessKept(directory)
    }

    private static func pidFile(port: Int, directory: URL) -> String {
        directory.appendingPathComponent("dnsmasq-\(port).pid").path
    }

    private static func pid(in file: String) -> pid_t? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private static func kill(_ child: ChildProcess, pidFile: String) async {
        if let pid = pid(in: pidFile) { _ = Foundation.kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: pidFile)
        await child.waitForExit(killAfter: .seconds(30))
    }

    /// The running server, or `nil` if it exited (a port in use) before saying it started.
    ///
    /// dnsmasq closes every file descriptor it inherits, among them the one by which Foundation
    /// learns that a child exited; Foundation would then wait for it, and no other child of the
    /// test process would be reaped meanwhile. So dnsmasq runs under a shell that keeps that
    /// descriptor and exits when dnsmasq does; dnsmasq is stopped by the PID in its pid file.
    private static func start(configFile: String, port: Int, directory: URL) async throws -> ChildProcess? {
        let pidFile = pidFile(port: port, directory: directory)
        try? FileManager.default.removeItem(atPath: pidFile)
        let child = try ChildProcess(
            name: "dnsmasq-\(port)-\(UInt32.random(in: 0...UInt32.max))", executable: "/bin/sh",
            arguments: [
                "-c", "\"$@\"; exit $?", "sh", executable,
                "--keep-in-foreground", "--log-facility=-", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--pid-file=\(pidFile)", "--conf-file=\(configFile)",
            ],
            logDirectory: directory)
        // dnsmasq binds its sockets before it logs "started", and exits if it cannot.
        let settled = await eventually(timeout: .seconds(20)) {
            (child.log.contains("started, version") && pid(in: pidFile) != nil) || !child.isRunning
        }
        guard settled, child.isRunning else {
            await kill(child, pidFile: pidFile)
            return nil
        }
        return child
    }
}
