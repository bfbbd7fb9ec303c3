import Foundation

/// Certificates generated with the `openssl` command-line tool into a private temporary
/// directory: a server CA and a server certificate for `localhost`, `target.test` and
/// `127.0.0.1`, and a separate client CA with a client certificate (CN `scraper`).
/// All keys are unencrypted EC P-256.
public struct TestPKI: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.crt" }
    public var serverCert: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCAFile: String { directory + "/client-ca.crt" }
    public var clientCert: String { directory + "/client.crt" }
    public var clientKey: String { directory + "/client.key" }

    private static let config = """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = placeholder
        [ca_ext]
        basicConstraints = critical, CA:TRUE
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        [server_ext]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:localhost, DNS:target.test, IP:127.0.0.1
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid
        [client_ext]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = clientAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        """

    /// Generates everything into `directory`, which must exist.
    public static func generate(in directory: String) throws -> TestPKI {
        let pki = TestPKI(directory: directory)
        let config = directory + "/openssl.cnf"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func ca(_ name: String, _ subject: String) throws {
            try run(["openssl", "req", "-config", config, "-x509"] + newKey + [
                "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt",
                "-days", "2", "-subj", subject, "-extensions", "ca_ext",
            ])
        }
        func leaf(_ name: String, _ subject: String, ca: String, extensions: String, serial: Int) throws {
            try run(["openssl", "req", "-config", config, "-new"] + newKey + [
                "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr", "-subj", subject,
            ])
            try run([
                "openssl", "x509", "-req", "-in", "\(directory)/\(name).csr",
                "-CA", "\(directory)/\(ca).crt", "-CAkey", "\(directory)/\(ca).key", "-set_serial", "\(serial)",
                "-days", "2", "-extfile", config, "-extensions", extensions, "-out", "\(directory)/\(name).crt",
            ])
        }
        try ca("ca", "/CN=metrics-agent test CA")
        try leaf("server", "/CN=localhost", ca: "ca", extensions: "server_ext", serial: 2)
        try ca("client-ca", "/CN=metrics-agent test client CA")
        try leaf("client", "/CN=scraper", ca: "client-ca", extensions: "client_ext", serial: 3)
        return pki
    }
}

/// Runs a command found on `PATH` and waits for it; throws with its output if it fails.
private func run(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("\(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): "
            + String(decoding: data, as: UTF8.self))
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A real HTTPS server: Python 3's `http.server` and `ssl` in a child process, on 127.0.0.1
/// and an ephemeral port.
///
/// `GET <any path>` answers 200 with a `text/plain` body of `key=value` lines: `path`,
/// `host` (the Host header), `sni` (the TLS server name the client sent, or `None`),
/// `version` (the negotiated TLS version, e.g. `TLSv1.3`) and `client` (the client
/// certificate's CN, or `None`). `GET /exposition` answers the same facts as a Prometheus text
/// exposition (`tls_target_info{sni=…,version=…,client=…} 1`), for scraping it. With `basicAuth` ("user:password") it answers 401 unless
/// the request carries those credentials.
///
/// The process ends when ``stop()`` is called, when the test process exits (its stdin
/// reaches EOF) or after 5 minutes, whichever comes first.
public final class TLSTestServer: @unchecked Sendable {
    public let port: Int
    private let process: Process
    private let stdin: Pipe
    private let lock = NSLock()
    private var stopped = false

    private static let script = #"""
        import argparse, base64, http.server, os, signal, ssl, sys, threading

        # The mask is inherited from the (thread-pool) thread that spawned us, which may
        # block SIGTERM and friends.
        signal.pthread_sigmask(signal.SIG_SETMASK, [])

        parser = argparse.ArgumentParser()
        parser.add_argument("--cert", required=True)
        parser.add_argument("--key", required=True)
        parser.add_argument("--client-ca")
        parser.add_argument("--max-tls12", action="store_true")
        parser.add_argument("--basic-auth")
        args = parser.parse_args()

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        if args.max_tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2

        def remember_sni(tls_socket, name, _context):
            tls_socket.sni_name = name
        context.sni_callback = remember_sni

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if args.basic_auth:
                    expected = "Basic " + base64.b64encode(args.basic_auth.encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        return self.reply(401, "unauthorized\n", [("WWW-Authenticate", 'Basic realm="test"')])
                tls = self.connection
                peer = tls.getpeercert()
                client = dict(pair[0] for pair in peer["subject"]).get("commonName") if peer else None
                if self.path.startswith("/exposition"):
                    return self.reply(200, f'tls_target_info{{sni="{getattr(tls, "sni_name", None)}",'
                                           f'version="{tls.version()}",client="{client}"}} 1\n')
                self.reply(200, f"path={self.path}\nhost={self.headers.get('Host')}\n"
                                f"sni={getattr(tls, 'sni_name', None)}\nversion={tls.version()}\nclient={client}\n")

            def reply(self, status, body, headers=()):
                data = body.encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            # The handshake runs in the connection's thread, not in the accept loop.
            def finish_request(self, request, client_address):
                request.settimeout(10)
                try:
                    tls = context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                try:
                    self.RequestHandlerClass(tls, client_address, self)
                except (ssl.SSLError, OSError):
                    pass
                finally:
                    tls.close()

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

    /// Starts the server with `pki`'s server certificate; the script and its stderr log go
    /// into `directory`.
    public init(
        pki: TestPKI, directory: String, requireClientCert: Bool = false, maxTLS12: Bool = false,
        basicAuth: String? = nil
    ) throws {
        let scriptPath = directory + "/server.py"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let logPath = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)

        var arguments = ["python3", "-u", scriptPath, "--cert", pki.serverCert, "--key", pki.serverKey]
        if requireClientCert { arguments += ["--client-ca", pki.clientCAFile] }
        if maxTLS12 { arguments.append("--max-tls12") }
        if let basicAuth { arguments += ["--basic-auth", basicAuth] }

        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdout = Pipe()
        stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardInput = stdin
        try process.run()

        // The first line of stdout is the port.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // EOF: the script failed
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw TestFailure("TLS test server did not start: \(log)")
        }
        self.port = port
    }

    /// `https://127.0.0.1:<port><path>`.
    public func url(_ path: String) -> String { "https://127.0.0.1:\(port)\(path)" }

    /// Kills the process and waits for it. Idempotent.
    public func stop() {
        let alreadyStopped = lock.withLock {
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        // SIGKILL: it cannot be blocked or ignored (a child inherits the spawning thread's
        // signal mask, and thread-pool threads block SIGTERM).
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
    }

    deinit { stop() }
}

/// Generates a fresh PKI and starts a ``TLSTestServer`` in a new temporary directory, runs
/// `body`, then stops the server and deletes the directory, also when `body` throws. Each
/// call is independent, so tests may run in parallel.
public func withTLSServer(
    requireClientCert: Bool = false, maxTLS12: Bool = false, basicAuth: String? = nil,
    _ body: (TLSTestServer, TestPKI) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("curl-tls-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }

    // openssl and the server start block for a while: keep them off the cooperative pool, and
    // off NIO's small shared thread pool that the requests themselves use.
    let (pki, server) = try await onOwnThread {
        let pki = try TestPKI.generate(in: directory)
        let server = try TLSTestServer(
            pki: pki, directory: directory, requireClientCert: requireClientCert, maxTLS12: maxTLS12,
            basicAuth: basicAuth)
        return (pki, server)
    }
    defer { server.stop() }
    try await body(server, pki)
}

/// Runs blocking `work` on a new thread and returns its result.
private func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
