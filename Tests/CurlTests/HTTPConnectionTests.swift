import Curl
import NIOPosix
import Testing

/// Runs the blocking `perform` on NIO's thread pool, as production callers should.
func perform(_ connection: HTTPConnection, _ request: HTTPRequest) async throws -> HTTPResponse {
    try await NIOThreadPool.singleton.runIfActive { try connection.perform(request) }
}

/// Runs `perform` and returns the `CurlError` it throws (failing the test if it succeeds).
func performError(_ connection: HTTPConnection, _ request: HTTPRequest) async -> CurlError? {
    do {
        let response = try await perform(connection, request)
        Issue.record("expected an error, got status \(response.status)")
        return nil
    } catch let error as CurlError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

func withServer(_ body: (TestHTTPServer) async throws -> Void) async throws {
    let server = try await TestHTTPServer()
    do {
        try await body(server)
    } catch {
        try? await server.shutdown()
        throw error
    }
    try await server.shutdown()
}

@Suite struct HTTPConnectionTests {
    @Test func versionIsReported() {
        #expect(Curl.version.hasPrefix("libcurl/"))
    }

    @Test func getReturnsStatusAndBody() async throws {
        try await withServer { server in
            let response = try await perform(HTTPConnection(), HTTPRequest(url: server.url("/hello")))
            #expect(response.status == 200)
            #expect(response.body == Array("hello world".utf8))
        }
    }

    @Test func responseHeadersParsed() async throws {
        try await withServer { server in
            let response = try await perform(HTTPConnection(), HTTPRequest(url: server.url("/hello")))
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
            let payload = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // binary, > 64 KiB
            var request = HTTPRequest(method: .post, url: server.url("/echo"),
                                      headers: [("Content-Type", "application/x-protobuf")], body: payload)
            var response = try await perform(HTTPConnection(), request)
            #expect(response.status == 200)
            #expect(response.body == payload)
            #expect(response.header("x-request-content-type") == "application/x-protobuf")

            request.body = []
            request.headers = []
            response = try await perform(HTTPConnection(), request)
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
            #expect(response.header("x-request-content-type") == "<none>")
        }
    }

    @Test func requestHeadersReceived() async throws {
        try await withServer { server in
            let request = HTTPRequest(method: .post, url: server.url("/headers"), headers: [
                ("User-Agent", "metrics-agent/test"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ("X-Empty", ""),
            ], body: Array("x".utf8))
            let response = try await perform(HTTPConnection(), request)
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
        let error = await performError(HTTPConnection(), request)
        #expect(error?.kind == .other)
    }

    @Test(arguments: [404, 500, 503])
    func errorStatusIsAResponse(status: Int) async throws {
        try await withServer { server in
            let response = try await perform(HTTPConnection(), HTTPRequest(url: server.url("/status/\(status)")))
            #expect(response.status == status)
            #expect(response.body == Array("status \(status)".utf8))
        }
    }

    @Test func redirectsFollowedAndOnlyFinalHeadersKept() async throws {
        try await withServer { server in
            let connection = HTTPConnection()
            var request = HTTPRequest(url: server.url("/redirect"))
            let followed = try await perform(connection, request)
            #expect(followed.status == 200)
            #expect(followed.body == Array("hello world".utf8))
            #expect(followed.header("x-redirect") == nil)
            #expect(followed.header("x-test") == "yes")

            request.followRedirects = false
            let notFollowed = try await perform(connection, request)
            #expect(notFollowed.status == 302)
            #expect(notFollowed.header("location") == "/hello")
        }
    }

    @Test func connectionRefused() async throws {
        let server = try await TestHTTPServer()
        let url = server.url("/hello")
        try await server.shutdown()
        let error = await performError(HTTPConnection(), HTTPRequest(url: url))
        #expect(error?.kind == .connection)
        #expect(error?.code == 7)  // CURLE_COULDNT_CONNECT
        #expect(error?.message.isEmpty == false)
    }

    @Test func unresolvableHostIsConnectionError() async throws {
        let error = await performError(HTTPConnection(), HTTPRequest(url: "http://nonexistent.invalid/", timeout: .seconds(10)))
        #expect(error?.kind == .connection)
    }

    @Test func unsupportedSchemeRejected() async throws {
        let error = await performError(HTTPConnection(), HTTPRequest(url: "file:///etc/hostname"))
        #expect(error?.kind == .other)
    }

    @Test func slowHandlerTimesOut() async throws {
        try await withServer { server in
            let connection = HTTPConnection()
            let clock = ContinuousClock()
            let start = clock.now
            let error = await performError(connection, HTTPRequest(url: server.url("/slow?ms=30000"), timeout: .milliseconds(300)))
            #expect(error?.kind == .timeout)
            #expect(error?.code == 28)  // CURLE_OPERATION_TIMEDOUT
            // Far less than the 30 s the server would take (generous: CI runs tests in parallel on 2 cores).
            #expect(clock.now - start < .seconds(10))

            // The handle is usable again after a failed transfer.
            let response = try await perform(connection, HTTPRequest(url: server.url("/slow?ms=10"), timeout: .seconds(5)))
            #expect(response.body == Array("finally".utf8))
        }
    }

    @Test func oversizeBodyAborted() async throws {
        try await withServer { server in
            let connection = HTTPConnection()
            var request = HTTPRequest(url: server.url("/big?n=200000"))
            request.maxResponseBytes = 1000
            let error = await performError(connection, request)
            #expect(error?.kind == .responseTooLarge)

            request.url = server.url("/big?n=1000")
            let exact = try await perform(connection, request)
            #expect(exact.body.count == 1000)

            request.url = server.url("/big?n=200000")
            request.maxResponseBytes = nil
            #expect(try await perform(connection, request).body.count == 200_000)
        }
    }

    @Test func gzipDecodedWhenAcceptEncodingEmpty() async throws {
        try await withServer { server in
            let connection = HTTPConnection()
            var request = HTTPRequest(url: server.url("/gzip"))
            let raw = try await perform(connection, request)
            #expect(raw.body == TestHTTPServer.gzipBody)

            request.acceptEncoding = ""
            let decoded = try await perform(connection, request)
            #expect(decoded.status == 200)
            #expect(decoded.body == TestHTTPServer.gzipPlain)
            #expect(decoded.header("content-encoding") == "gzip")
        }
    }

    @Test func acceptEncodingHeaderSent() async throws {
        try await withServer { server in
            var request = HTTPRequest(url: server.url("/headers"))
            request.acceptEncoding = ""
            let response = try await perform(HTTPConnection(), request)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("accept-encoding: ") && text.contains("gzip"))
        }
    }

    @Test func connectionReusedAcrossRequests() async throws {
        try await withServer { server in
            let connection = HTTPConnection()
            let first = try await perform(connection, HTTPRequest(url: server.url("/port")))
            let post = try await perform(connection, HTTPRequest(method: .post, url: server.url("/echo"), body: [1, 2, 3]))
            let second = try await perform(connection, HTTPRequest(url: server.url("/port")))
            #expect(post.body == [1, 2, 3])
            #expect(first.status == 200 && second.status == 200)
            #expect(first.body == second.body, "same client port: the connection was kept alive")

            let other = try await perform(HTTPConnection(), HTTPRequest(url: server.url("/port")))
            #expect(other.body != first.body)
        }
    }

    @Test func concurrentCallersAreSerialized() async throws {
        try await withServer { server in
            let connection = HTTPConnection()
            try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await perform(connection, HTTPRequest(url: server.url("/hello"))) }
                }
                for try await response in group {
                    #expect(response.status == 200)
                    #expect(response.body == Array("hello world".utf8))
                }
            }
        }
    }
}
