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

    /// Stops the server: SIGKILL (dnsmasq inherits the test runner's mask, which blocks SIGTERM),
    /// then waits until it has exited, its sockets closed (Foundation may reap it later).
    public func stop() async {
        guard let child = self.child.withLock({ $0 }) else { return }
        await Self.kill(child)
        self.child.withLock { $0 = nil }
    }

    private static func kill(_ child: ChildProcess) async {
        let pid = child.pid
        _ = Foundation.kill(pid, SIGKILL)
        _ = await eventually(timeout: .seconds(30)) { !child.isRunning || isZombie(pid) }
    }

    /// Whether `pid` has exited but not been reaped (state `Z` in /proc/PID/stat).
    private static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[close...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    deinit {
        Paths.removeUnlessKept(directory)
    }

    /// The running server, or `nil` if it exited (a port in use) before saying it started.
    private static func start(configFile: String, port: Int, directory: URL) async throws -> ChildProcess? {
        let child = try ChildProcess(
            name: "dnsmasq-\(port)-\(UInt32.random(in: 0...UInt32.max))", executable: executable,
            arguments: [
                "--keep-in-foreground", "--log-facility=-", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--pid-file=", "--conf-file=\(configFile)",
            ],
            logDirectory: directory)
        // dnsmasq binds its sockets before it logs "started", and exits if it cannot.
        let settled = await eventually(timeout: .seconds(20)) { child.log.contains("started, version") || !child.isRunning }
        guard settled, child.isRunning else {
            await kill(child)
            return nil
        }
        return child
    }
}
