import Foundation

/// One request a ``TestProxy`` received: a `CONNECT` or a forwarded plain HTTP request.
public struct ProxiedRequest: Sendable {
    /// `CONNECT`, `GET`, `POST`, …
    public var method: String
    /// The request target as sent: `host:port` for `CONNECT`, an absolute URL otherwise.
    public var target: String
    /// In arrival order, names as sent.
    public var headers: [(name: String, value: String)]

    /// Every value of header `name`, compared case-insensitively.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}

/// A small HTTP proxy (Python 3 in a child process, on 127.0.0.1 and an ephemeral port) that
/// records the head of every request it gets and then relays the connection: `CONNECT
/// host:port` is answered `200` and tunnelled, a request for an absolute `http://` URL is
/// forwarded as is. Whatever host is asked for, it connects to that port on 127.0.0.1, so
/// names such as `target.test` reach the local test servers and nothing leaves the machine.
///
/// The process ends when ``stop()`` is called, when the test process exits (its stdin reaches
/// EOF) or after 5 minutes.
public final class TestProxy: @unchecked Sendable {
    public let port: Int
    private let process: Process
    private let stdin: Pipe
    private let logPath: String
    private let lock = NSLock()
    private var stopped = false

    private static let script = #"""
        import json, os, signal, socket, socketserver, sys, threading

        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        log_path = sys.argv[1]
        lock = threading.Lock()

        def relay(source, destination):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    destination.sendall(data)
            except OSError:
                pass
            finally:
                for s in (source, destination):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                client = self.request
                client.settimeout(30)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, rest = data.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [[k, v.strip()] for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)]
                with lock:
                    with open(log_path, "a") as f:
                        f.write(json.dumps({"method": method, "target": target, "headers": headers}) + "\n")
                if method == "CONNECT":
                    port = int(target.rsplit(":", 1)[1])
                    upstream = socket.create_connection(("127.0.0.1", port))
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if rest:
                        upstream.sendall(rest)
                else:
                    authority = target.split("://", 1)[1].split("/", 1)[0]
                    port = int(authority.rsplit(":", 1)[1]) if ":" in authority else 80
                    upstream = socket.create_connection(("127.0.0.1", port))
                    upstream.sendall(data)
                client.settimeout(None)
                threading.Thread(target=relay, args=(upstream, client), daemon=True).start()
                relay(client, upstream)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        def exit_when_parent_goes_away():
            sys.stdin.buffer.read()
            os._exit(0)

        threading.Thread(target=exit_when_parent_goes_away, daemon=True).start()
        watchdog = threading.Timer(300, lambda: os._exit(0))
        watchdog.daemon = True
        watchdog.start()

        server = Server(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Starts the proxy; its script and request log go into `directory`, which must exist.
    public init(directory: String) throws {
        let scriptPath = directory + "/proxy.py"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        logPath = directory + "/proxy-\(UUID().uuidString).jsonl"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", scriptPath, logPath]
        let stdout = Pipe()
        stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw TestFailure("test proxy did not start")
        }
        self.port = port
    }

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Every request head received so far, in arrival order.
    public func requests() -> [ProxiedRequest] {
        guard let data = FileManager.default.contents(atPath: logPath) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
            let headers = (object["headers"] as? [[String]] ?? []).compactMap { pair in
                pair.count == 2 ? (name: pair[0], value: pair[1]) : nil
            }
            return ProxiedRequest(
                method: object["method"] as? String ?? "", target: object["target"] as? String ?? "", headers: headers)
        }
    }

    /// Kills the process and waits for it. Idempotent.
    public func stop() {
        let alreadyStopped = lock.withLock {
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
    }

    deinit { stop() }
}

/// Starts a ``TestProxy`` in a new temporary directory, runs `body`, then stops the proxy and
/// deletes the directory, also when `body` throws.
public func withTestProxy(_ body: (TestProxy) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("test-proxy-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Starting it blocks until the port is printed: keep that off the cooperative pool.
    let proxy = try await onOwnThread { try TestProxy(directory: directory) }
    defer { proxy.stop() }
    try await body(proxy)
}
