@testable import Curl
import TestSupport
import Testing

/// Runs `perform` and returns the `CurlError` it throws (failing the test if it succeeds).
func performError(_ transport: HTTPTransport, _ request: HTTPRequest) async -> CurlError? {
    do {
        let response = try await transport.perform(request)
        Issue.record("expected an error, got status \(response.status)")
        return nil
    } catch let error as CurlError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// Runs `body` with a server (on the standard routes unless `handler` is given), stopping it
/// afterwards.
func withServer(
    _ handler: (@Sendable (ReceivedRequest) -> CannedResponse)? = nil, _ body: (TestHTTPServer) async throws -> Void
) async throws {
    let server = if let handler { try await TestHTTPServer(handler: handler) } else { try await TestHTTPServer() }
    do {
        try await body(server)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}

/// Request and response semantics of ``HTTPTransport/perform(_:)``.
@Suite struct HTTPTransportTests {
    @Test func versionIsReported() {
        #expect(Curl.version.hasPrefix("libcurl/"))
    }

    @Test func getReturnsStatusAndBody() async throws {
        try await withServer { server in
            let response = try await HTTPTransport().perform(HTTPRequest(url: server.url("/hello")))
            #expect(response.status == 200)
            #expect(response.body == Array("hello world".utf8))
        }
    }

    @Test func responseHeadersParsed() async throws {
        try await withServer { server in
            let response = try await HTTPTransport().perform(HTTPRequest(url: server.url("/hello")))
            #expect(response.header("x-test") == "yes")
            #expect(response.header("X-TEST") == "yes")
            #expect(response.header("Content-Length") == "11")
            #expect(response.header("missing") == nil)
            #expect(response.headers.filter { $0.name == "x-multi" }.map(\.value) == ["a", "b"])
            #expect(response.headers.allSatisfy { $0.name == $0.name.lowercased() })
        }
    }

    @Test func postBodyEchoed() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let payload = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // binary, > 64 KiB
            var request = HTTPRequest(method: .post, url: server.url("/echo"),
                                      headers: [("Content-Type", "application/x-protobuf")], body: payload)
            var response = try await transport.perform(request)
            #expect(response.status == 200)
            #expect(response.body == payload)
            #expect(response.header("x-request-content-type") == "application/x-protobuf")

            request.body = []
            request.headers = []
            response = try await transport.perform(request)
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
            #expect(response.header("x-request-content-type") == "<none>")
        }
    }

    @Test func postBodyIsSentAgainAfterA307Redirect() async throws {
        let handler: @Sendable (ReceivedRequest) -> CannedResponse = { request in
            request.path == "/old"
                ? CannedResponse(status: 307, headers: [("Location", "/new")])
                : CannedResponse(body: Array("\(request.method) \(request.path) \(request.body.count)".utf8))
        }
        try await withServer(handler) { server in
            let body = [UInt8](repeating: 7, count: 100_000)
            let response = try await HTTPTransport().perform(HTTPRequest(method: .post, url: server.url("/old"), body: body))
            #expect(String(decoding: response.body, as: UTF8.self) == "POST /new 100000")
        }
    }

    @Test func requestHeadersReceived() async throws {
        try await withServer { server in
            let request = HTTPRequest(method: .post, url: server.url("/headers"), headers: [
                ("User-Agent", "metrics-agent/test"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ("X-Empty", ""),
            ], body: Array("x".utf8))
            let response = try await HTTPTransport().perform(request)
            let lines = Set(String(decoding: response.body, as: UTF8.self).split(separator: "\n").map(String.init))
            #expect(lines.contains("user-agent: metrics-agent/test"))
            #expect(lines.contains("x-prometheus-remote-write-version: 0.1.0"))
            #expect(lines.contains("x-empty: "))
            #expect(lines.contains("content-length: 1"))
            #expect(!lines.contains { $0.hasPrefix("expect:") })
            #expect(!lines.contains { $0.hasPrefix("content-type:") })
            #expect(!lines.contains { $0.hasPrefix("accept-encoding:") })
        }
    }

    @Test func invalidRequestHeaderRejected() async throws {
        let request = HTTPRequest(url: "http://127.0.0.1:1/", headers: [("X-Bad", "a\r\nInjected: yes")])
        let error = await performError(HTTPTransport(), request)
        #expect(error?.kind == .other)
    }

    @Test(arguments: [404, 500, 503])
    func errorStatusIsAResponse(status: Int) async throws {
        try await withServer { server in
            let response = try await HTTPTransport().perform(HTTPRequest(url: server.url("/status/\(status)")))
            #expect(response.status == status)
            #expect(response.body == Array("status \(status)".utf8))
        }
    }

    @Test func redirectsFollowedAndOnlyFinalHeadersKept() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            var request = HTTPRequest(url: server.url("/redirect"))
            let followed = try await transport.perform(request)
            #expect(followed.status == 200)
            #expect(followed.body == Array("hello world".utf8))
            #expect(followed.header("x-redirect") == nil)
            #expect(followed.header("x-test") == "yes")

            request.followRedirects = false
            let notFollowed = try await transport.perform(request)
            #expect(notFollowed.status == 302)
            #expect(notFollowed.header("location") == "/hello")
        }
    }

    @Test func connectionRefused() async throws {
        let server = try await TestHTTPServer()
        let url = server.url("/hello")
        try await server.stop()
        let error = await performError(HTTPTransport(), HTTPRequest(url: url))
        #expect(error?.kind == .connection)
        #expect(error?.code == 7)  // CURLE_COULDNT_CONNECT
        #expect(error?.message.isEmpty == false)
    }

    @Test func unresolvableHostIsConnectionError() async throws {
        let error = await performError(HTTPTransport(), HTTPRequest(url: "http://nonexistent.invalid/", timeout: .seconds(10)))
        #expect(error?.kind == .connection)
    }

    @Test func unsupportedSchemeRejected() async throws {
        let error = await performError(HTTPTransport(), HTTPRequest(url: "file:///etc/hostname"))
        #expect(error?.kind == .other)
    }

    @Test func slowHandlerTimesOut() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let start = ContinuousClock.now
            let error = await performError(transport, HTTPRequest(url: server.url("/slow?ms=30000"), timeout: .milliseconds(300)))
            #expect(error?.kind == .timeout)
            #expect(error?.code == 28)  // CURLE_OPERATION_TIMEDOUT
            // Far less than the 30 s the server would take (generous: CI runs tests in parallel on 2 cores).
            #expect(ContinuousClock.now - start < .seconds(10))

            // The transport is usable again after a failed transfer.
            let response = try await transport.perform(HTTPRequest(url: server.url("/slow?ms=10"), timeout: .seconds(5)))
            #expect(response.body == Array("finally".utf8))
        }
    }

    @Test func oversizeBodyAborted() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            var request = HTTPRequest(url: server.url("/big?n=200000"))
            request.maxResponseBytes = 1000
            let error = await performError(transport, request)
            #expect(error?.kind == .responseTooLarge)

            request.url = server.url("/big?n=1000")
            let exact = try await transport.perform(request)
            #expect(exact.body.count == 1000)

            request.url = server.url("/big?n=200000")
            request.maxResponseBytes = nil
            #expect(try await transport.perform(request).body.count == 200_000)
        }
    }

    @Test func gzipDecodedWhenAcceptEncodingEmpty() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            var request = HTTPRequest(url: server.url("/gzip"))
            let raw = try await transport.perform(request)
            #expect(raw.body == TestHTTPServer.gzipBody)

            request.acceptEncoding = ""
            let decoded = try await transport.perform(request)
            #expect(decoded.status == 200)
            #expect(decoded.body == TestHTTPServer.gzipPlain)
            #expect(decoded.header("content-encoding") == "gzip")
        }
    }

    @Test func acceptEncodingHeaderSent() async throws {
        try await withServer { server in
            var request = HTTPRequest(url: server.url("/headers"))
            request.acceptEncoding = ""
            let response = try await HTTPTransport().perform(request)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("accept-encoding: ") && text.contains("gzip"))
        }
    }

    @Test func connectionReusedAcrossRequests() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let first = try await transport.perform(HTTPRequest(url: server.url("/port")))
            let post = try await transport.perform(HTTPRequest(method: .post, url: server.url("/echo"), body: [1, 2, 3]))
            let second = try await transport.perform(HTTPRequest(url: server.url("/port")))
            #expect(post.body == [1, 2, 3])
            #expect(first.status == 200 && second.status == 200)
            #expect(first.body == second.body, "same client port: the connection was kept alive")
            #expect(server.connectionsOpened == 1)

            let other = try await HTTPTransport().perform(HTTPRequest(url: server.url("/port")))
            #expect(other.body != first.body, "another transport has a pool of its own")
        }
    }

    @Test func requestsAfterShutdownFail() async throws {
        let transport = HTTPTransport()
        transport.shutdown()
        transport.shutdown()
        let error = await performError(transport, HTTPRequest(url: "http://127.0.0.1:1/"))
        #expect(error?.kind == .other)
        #expect(error?.message.contains("shut down") == true)
    }

    @Test func shutdownFailsTransfersInFlight() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            async let outcome = performError(transport, HTTPRequest(url: server.url("/never")))
            #expect(await eventually(timeout: .seconds(10)) { transport.activeTransfers == 1 })
            transport.shutdown()
            let error = await outcome
            #expect(error?.message.contains("shut down") == true)
            #expect(transport.activeTransfers == 0)
        }
    }

    @Test func droppingTheTransportStopsItsThread() async throws {
        weak var core: TransportCore?
        do {
            let transport = HTTPTransport()
            core = transport.core
            _ = await performError(transport, HTTPRequest(url: "http://127.0.0.1:1/"))
        }
        // The I/O thread held the core until it exited; deinit waited for that.
        #expect(core == nil)
    }

    @Test func streamsKeepTheirTransportRunning() async throws {
        try await withServer { server in
            let stream = try await HTTPTransport().stream(HTTPRequest(url: server.url("/pieces?n=3&ms=50")))
            var bytes: [UInt8] = []
            for try await chunk in stream.body { bytes += chunk }
            #expect(String(decoding: bytes, as: UTF8.self) == "piece 0\npiece 1\npiece 2\n")
        }
    }
}
