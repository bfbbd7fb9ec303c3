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

/// What a ``TLSTestServer`` answers; it may be changed while the server runs
/// (``TLSTestServer/setBehaviour(_:)``), and is re-read for every request.
public struct TestServerBehaviour: Sendable, Equatable {
    /// The status of a `POST` that passed authentication and is not redirected.
    public var postStatus: Int
    /// Statuses answered first, one per such `POST`, before ``postStatus`` (e.g. `[503, 503]`).
    /// Setting a new behaviour starts the list over.
    public var postStatuses: [Int]
    /// "user:password": every request without these Basic credentials gets 401.
    public var basicAuth: String?
    /// The exact `Authorization` value every request must carry (e.g. `"Bearer t0k3n"`), or 401.
    public var authorization: String?
    /// Request path → path to send a `307 Temporary Redirect` to (a `Location` on the same
    /// server). Checked after authentication.
    public var redirects: [String: String]

    public init(
        postStatus: Int = 204, postStatuses: [Int] = [], basicAuth: String? = nil, authorization: String? = nil,
        redirects: [String: String] = [:]
    ) {
        self.postStatus = postStatus
        self.postStatuses = postStatuses
        self.basicAuth = basicAuth
        self.authorization = authorization
        self.redirects = redirects
    }
}

/// One request a ``TLSTestServer`` received (authenticated or not), with what it answered.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The request target as sent: a path, or an absolute URL when the client used the server
    /// as an HTTP proxy.
    public var path: String
    /// In arrival order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The CN of the client certificate, nil without one (or over plain HTTP).
    public var clientCN: String?
    /// The TLS server name the client sent, nil without SNI (or over plain HTTP).
    public var sni: String?
    /// The negotiated TLS version (e.g. `TLSv1.3`), nil over plain HTTP.
    public var tlsVersion: String?
    /// The protocol agreed by ALPN (`h2`, `http/1.1`), nil without ALPN. Only a server started
    /// with `offerHTTP2` takes part in ALPN; an `h2` connection is recorded as one request
    /// with method `PRI` (HTTP/2's connection preface), no path and no headers.
    public var alpn: String?
    public var body: [UInt8]
    /// The status the server answered.
    public var status: Int

    public var bodyLength: Int { body.count }

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? { headerValues(name).first }

    /// Every value of header `name`, compared case-insensitively.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}

/// A real HTTPS (or, with `plainHTTP`, HTTP) server: Python 3's `http.server` and `ssl` in a
/// child process, on 127.0.0.1 and an ephemeral port.
///
/// `GET <any path>` answers 200 with a `text/plain` body of `key=value` lines: `path`,
/// `host` (the Host header), `sni` (the TLS server name the client sent, or `None`),
/// `version` (the negotiated TLS version, e.g. `TLSv1.3`) and `client` (the client
/// certificate's CN, or `None`). `GET /exposition` answers the same facts as a Prometheus text
/// exposition (`tls_target_info{sni=…,version=…,client=…} 1`), for scraping it. With `basicAuth` ("user:password") it answers 401 unless
/// the request carries those credentials.
///
/// `POST <any path>` reads the body and answers as the ``TestServerBehaviour`` says (204 by
/// default): 401 without the expected credentials, 307 for a redirected path, else the next
/// status. Every request (GET and POST, whatever the answer) is recorded, before the answer is
/// sent, and can be read with ``requests()``. Used as an HTTP proxy (plain HTTP only), it
/// answers requests for absolute URLs itself and records them with the URL as ``RecordedRequest/path``.
///
/// `maxTLS12` and `minTLS13` limit the TLS versions it speaks. With `offerHTTP2` it offers
/// `h2` and `http/1.1` by ALPN; a client that picks `h2` gets a bare HTTP/2 `200` without a body
/// (and the connection is recorded with ``RecordedRequest/alpn`` `h2`).
///
/// The process ends when ``stop()`` is called, when the test process exits (its stdin
/// reaches EOF) or after 5 minutes, whichever comes first.
public final class TLSTestServer: @unchecked Sendable {
    public let port: Int
    /// `https`, or `http` for a plain HTTP server.
    public let scheme: String
    private let process: Process
    private let stdin: Pipe
    private let controlPath: String
    private let logPath: String
    private let lock = NSLock()
    private var stopped = false
    private var epoch = 0

    private static let script = #"""
        import argparse, base64, http.server, json, os, signal, ssl, sys, threading

        # The mask is inherited from the (thread-pool) thread that spawned us, which may
        # block SIGTERM and friends.
        signal.pthread_sigmask(signal.SIG_SETMASK, [])

        parser = argparse.ArgumentParser()
        parser.add_argument("--cert")
        parser.add_argument("--key")
        parser.add_argument("--plain", action="store_true")
        parser.add_argument("--client-ca")
        parser.add_argument("--max-tls12", action="store_true")
        parser.add_argument("--min-tls13", action="store_true")
        parser.add_argument("--h2", action="store_true")
        parser.add_argument("--basic-auth")
        parser.add_argument("--control")
        parser.add_argument("--log")
        args = parser.parse_args()

        context = None
        if not args.plain:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(args.cert, args.key)
            if args.client_ca:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(args.client_ca)
            if args.max_tls12:
                context.maximum_version = ssl.TLSVersion.TLSv1_2
            if args.min_tls13:
                context.minimum_version = ssl.TLSVersion.TLSv1_3
            if args.h2:
                context.set_alpn_protocols(["h2", "http/1.1"])

            def remember_sni(tls_socket, name, _context):
                tls_socket.sni_name = name
            context.sni_callback = remember_sni

        lock = threading.Lock()
        posts = {"epoch": None, "count": 0}

        def control():
            if not args.control:
                return {"basic_auth": args.basic_auth}
            try:
                with open(args.control) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return {"basic_auth": args.basic_auth}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def facts(self):
                conn = self.connection
                peer = conn.getpeercert() if hasattr(conn, "getpeercert") else None
                client = dict(pair[0] for pair in peer["subject"]).get("commonName") if peer else None
                version = conn.version() if hasattr(conn, "version") else None
                return client, getattr(conn, "sni_name", None), version

            def alpn(self):
                conn = self.connection
                return conn.selected_alpn_protocol() if hasattr(conn, "selected_alpn_protocol") else None

            def authorized(self, c):
                got = self.headers.get("Authorization")
                if c.get("basic_auth"):
                    if got != "Basic " + base64.b64encode(c["basic_auth"].encode()).decode():
                        return False
                if c.get("authorization"):
                    if got != c["authorization"]:
                        return False
                return True

            def record(self, status, body):
                if not args.log:
                    return
                client, sni, version = self.facts()
                line = json.dumps({
                    "method": self.command, "path": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "client": client, "sni": sni, "tls_version": version, "alpn": self.alpn(),
                    "body": base64.b64encode(body).decode(), "status": status,
                })
                with lock:
                    with open(args.log, "a") as f:
                        f.write(line + "\n")

            def do_GET(self):
                c = control()
                if not self.authorized(c):
                    self.record(401, b"")
                    return self.reply(401, "unauthorized\n", [("WWW-Authenticate", 'Basic realm="test"')])
                client, sni, version = self.facts()
                self.record(200, b"")
                if self.path.startswith("/exposition"):
                    return self.reply(200, f'tls_target_info{{sni="{sni}",'
                                           f'version="{version}",client="{client}"}} 1\n')
                self.reply(200, f"path={self.path}\nhost={self.headers.get('Host')}\n"
                                f"sni={sni}\nversion={version}\nclient={client}\n")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
                c = control()
                if not self.authorized(c):
                    self.record(401, body)
                    return self.reply(401, "unauthorized\n", [("WWW-Authenticate", 'Basic realm="test"')])
                target = (c.get("redirects") or {}).get(self.path)
                if target is not None:
                    self.record(307, body)
                    return self.reply(307, "", [("Location", target)])
                with lock:
                    if posts["epoch"] != c.get("epoch"):
                        posts["epoch"] = c.get("epoch")
                        posts["count"] = 0
                    sequence = c.get("post_statuses") or []
                    if posts["count"] < len(sequence):
                        status = sequence[posts["count"]]
                    else:
                        status = c.get("post_status") or 204
                    posts["count"] += 1
                self.record(status, body)
                self.reply(status, "" if status < 300 else f"simulated {status}\n")

            def reply(self, status, body, headers=()):
                data = body.encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if status != 204:
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if status != 204:
                    self.wfile.write(data)

        def read_exactly(sock, count):
            data = b""
            while len(data) < count:
                chunk = sock.recv(count - len(data))
                if not chunk:
                    raise OSError("closed")
                data += chunk
            return data

        def answer_h2(tls):
            # Just enough HTTP/2 for one response: read the preface and frames up to the first
            # HEADERS frame, answer with empty SETTINGS, a SETTINGS ack and a HEADERS frame
            # carrying ":status 200" (HPACK static index 8) that ends the stream.
            if read_exactly(tls, 24) != b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":
                return
            while True:
                head = read_exactly(tls, 9)
                length = int.from_bytes(head[0:3], "big")
                read_exactly(tls, length)
                if head[3] == 1:
                    stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                    break
            client, sni, version = None, getattr(tls, "sni_name", None), tls.version()
            if args.log:
                line = json.dumps({"method": "PRI", "path": "", "headers": [], "client": client, "sni": sni,
                                   "tls_version": version, "alpn": "h2", "body": "", "status": 200})
                with lock:
                    with open(args.log, "a") as f:
                        f.write(line + "\n")
            tls.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
                        + b"\x00\x00\x01\x01\x05" + stream.to_bytes(4, "big") + b"\x88")
            try:
                while tls.recv(65536):
                    pass
            except (ssl.SSLError, OSError):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            # The handshake runs in the connection's thread, not in the accept loop.
            def finish_request(self, request, client_address):
                request.settimeout(10)
                if context is None:
                    try:
                        self.RequestHandlerClass(request, client_address, self)
                    except OSError:
                        pass
                    return
                try:
                    tls = context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                try:
                    if tls.selected_alpn_protocol() == "h2":
                        answer_h2(tls)
                    else:
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

    /// Starts the server with `pki`'s server certificate (or, with `plainHTTP`, without TLS);
    /// the script, its stderr log, its behaviour and its request log go into `directory`.
    /// `basicAuth`, when given, replaces `behaviour.basicAuth`.
    public init(
        pki: TestPKI, directory: String, requireClientCert: Bool = false, maxTLS12: Bool = false,
        minTLS13: Bool = false, offerHTTP2: Bool = false,
        basicAuth: String? = nil, plainHTTP: Bool = false, behaviour: TestServerBehaviour = TestServerBehaviour()
    ) throws {
        let scriptPath = directory + "/server.py"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let logPath = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let id = UUID().uuidString
        controlPath = directory + "/server-\(id).control.json"
        self.logPath = directory + "/server-\(id).requests.jsonl"
        _ = FileManager.default.createFile(atPath: self.logPath, contents: nil)
        scheme = plainHTTP ? "http" : "https"
        var initial = behaviour
        if let basicAuth { initial.basicAuth = basicAuth }
        try Self.writeControl(initial, epoch: 0, to: controlPath)

        var arguments = ["python3", "-u", scriptPath, "--control", controlPath, "--log", self.logPath]
        if plainHTTP {
            arguments.append("--plain")
        } else {
            arguments += ["--cert", pki.serverCert, "--key", pki.serverKey]
        }
        if requireClientCert { arguments += ["--client-ca", pki.clientCAFile] }
        if maxTLS12 { arguments.append("--max-tls12") }
        if minTLS13 { arguments.append("--min-tls13") }
        if offerHTTP2 { arguments.append("--h2") }

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

    /// `<scheme>://127.0.0.1:<port><path>`.
    public func url(_ path: String) -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

    /// Changes what the server answers from the next request on (the file is replaced
    /// atomically). ``TestServerBehaviour/postStatuses`` starts over.
    public func setBehaviour(_ behaviour: TestServerBehaviour) throws {
        let next = lock.withLock {
            epoch += 1
            return epoch
        }
        try Self.writeControl(behaviour, epoch: next, to: controlPath)
    }

    private static func writeControl(_ behaviour: TestServerBehaviour, epoch: Int, to path: String) throws {
        var object: [String: Any] = [
            "epoch": epoch, "post_status": behaviour.postStatus, "post_statuses": behaviour.postStatuses,
            "redirects": behaviour.redirects,
        ]
        if let basic = behaviour.basicAuth { object["basic_auth"] = basic }
        if let authorization = behaviour.authorization { object["authorization"] = authorization }
        let data = try JSONSerialization.data(withJSONObject: object)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Every request received so far, in the order they were answered.
    public func requests() -> [RecordedRequest] {
        guard let data = FileManager.default.contents(atPath: logPath) else { return [] }
        var result: [RecordedRequest] = []
        // Only complete lines: a line being appended is read next time.
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
            let headers = (object["headers"] as? [[String]] ?? []).compactMap { pair in
                pair.count == 2 ? (name: pair[0], value: pair[1]) : nil
            }
            result.append(RecordedRequest(
                method: object["method"] as? String ?? "", path: object["path"] as? String ?? "", headers: headers,
                clientCN: object["client"] as? String, sni: object["sni"] as? String,
                tlsVersion: object["tls_version"] as? String, alpn: object["alpn"] as? String,
                body: (object["body"] as? String).flatMap { Data(base64Encoded: $0) }.map { Array($0) } ?? [],
                status: object["status"] as? Int ?? 0))
        }
        return result
    }

    /// Polls ``requests()`` until `condition` holds; false when `timeout` passed first.
    @discardableResult
    public func waitForRequests(
        timeout: Duration = .seconds(15), until condition: ([RecordedRequest]) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(requests()) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(requests())
    }

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
    requireClientCert: Bool = false, maxTLS12: Bool = false, minTLS13: Bool = false, offerHTTP2: Bool = false,
    basicAuth: String? = nil, plainHTTP: Bool = false,
    behaviour: TestServerBehaviour = TestServerBehaviour(),
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
            minTLS13: minTLS13, offerHTTP2: offerHTTP2, basicAuth: basicAuth, plainHTTP: plainHTTP, behaviour: behaviour)
        return (pki, server)
    }
    defer { server.stop() }
    try await body(server, pki)
}

/// Runs blocking `work` on a new thread and returns its result.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
