import Curl
import TestSupport
import Testing

/// The `key=value` lines of a ``TLSTestServer`` response body.
private func fields(_ response: HTTPResponse) -> [String: String] {
    var result: [String: String] = [:]
    for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return result
}

private func request(_ url: String, _ tls: TLSOptions = TLSOptions()) -> HTTPRequest {
    var request = HTTPRequest(url: url, timeout: .seconds(10))
    request.tls = tls
    return request
}

/// Real TLS against a Python `ssl` server with certificates made by `openssl`.
@Suite struct TLSTests {
    @Test func verifiedAgainstGeneratedCA() async throws {
        try await withTLSServer { server, pki in
            let response = try await HTTPTransport().perform(request(server.url("/metrics"), TLSOptions(caFile: pki.caFile)))
            #expect(response.status == 200)
            let seen = fields(response)
            #expect(seen["path"] == "/metrics")
            #expect(seen["host"] == "127.0.0.1:\(server.port)")
            #expect(seen["sni"] == "None", "no SNI for an IP address")
            #expect(seen["client"] == "None")
        }
    }

    @Test func untrustedWithoutCAButAcceptedWhenSkippingVerification() async throws {
        try await withTLSServer { server, _ in
            let transport = HTTPTransport()
            let error = await performError(transport, request(server.url("/metrics")))
            #expect(error?.kind == .tls)
            #expect(error?.code == 60)  // CURLE_PEER_FAILED_VERIFICATION
            #expect(error?.message.contains("certificate") == true, "\(String(describing: error))")

            let insecure = try await transport.perform(request(server.url("/metrics"), TLSOptions(insecureSkipVerify: true)))
            #expect(insecure.status == 200)

            // The unverified connection must not be reused for a verifying request.
            let again = await performError(transport, request(server.url("/metrics")))
            #expect(again?.kind == .tls)
        }
    }

    @Test func caFileReplacesTrustAndIsNotCachedAcrossRequests() async throws {
        try await withTLSServer { server, pki in
            let transport = HTTPTransport()
            let first = try await transport.perform(request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(first.status == 200)
            // The client CA did not sign the server certificate: a new connection, verified
            // against that file only.
            let error = await performError(transport, request(server.url("/"), TLSOptions(caFile: pki.clientCAFile)))
            #expect(error?.kind == .tls)
            let last = try await transport.perform(request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(last.status == 200)
        }
    }

    @Test func serverNameSetsSNIAndVerifiedNameButKeepsHostAndAddress() async throws {
        try await withTLSServer { server, pki in
            let transport = HTTPTransport()
            let tls = TLSOptions(caFile: pki.caFile, serverName: "target.test")
            let response = try await transport.perform(request(server.url("/metrics?x=1"), tls))
            #expect(response.status == 200)
            let seen = fields(response)
            #expect(seen["sni"] == "target.test")
            #expect(seen["host"] == "127.0.0.1:\(server.port)")
            #expect(seen["path"] == "/metrics?x=1")

            // A Host header given by the caller wins.
            var custom = request(server.url("/"), tls)
            custom.headers = [("Host", "custom.example")]
            let customResponse = try await transport.perform(custom)
            #expect(fields(customResponse)["host"] == "custom.example")
            #expect(fields(customResponse)["sni"] == "target.test")

            // `localhost` is in the certificate too, but SNI says target.test.
            let viaLocalhost = try await transport.perform(
                request("https://localhost:\(server.port)/", TLSOptions(caFile: pki.caFile, serverName: "target.test")))
            #expect(fields(viaLocalhost)["host"] == "localhost:\(server.port)")
            #expect(fields(viaLocalhost)["sni"] == "target.test")

            let error = await performError(transport, request(server.url("/"), TLSOptions(caFile: pki.caFile, serverName: "wrong.test")))
            #expect(error?.kind == .tls)
            #expect(error?.message.contains("wrong.test") == true, "\(String(describing: error))")

            // Back to no server name on the same transport: no SNI, Host from the URL.
            let plain = try await transport.perform(request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(fields(plain)["sni"] == "None")
        }
    }

    @Test func serverNameMustBeAHostName() async throws {
        let error = await performError(
            HTTPTransport(), request("https://127.0.0.1:1/", TLSOptions(serverName: "evil:1:other")))
        #expect(error?.kind == .other)
    }

    @Test func serverNameIgnoredForPlainHTTP() async throws {
        try await withServer { server in
            let response = try await HTTPTransport().perform(request(server.url("/headers"), TLSOptions(serverName: "target.test")))
            #expect(String(decoding: response.body, as: UTF8.self).contains("host: 127.0.0.1:\(server.port)"))
        }
    }

    @Test func mutualTLS() async throws {
        try await withTLSServer(requireClientCert: true) { server, pki in
            let transport = HTTPTransport()
            // TLS 1.3 clients learn of the rejection only after the handshake, so the kind is
            // .tls or .connection depending on timing; it must fail either way.
            let missing = await performError(transport, request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(missing != nil)

            let tls = TLSOptions(caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey)
            let response = try await transport.perform(request(server.url("/"), tls))
            #expect(response.status == 200)
            #expect(fields(response)["client"] == "scraper")

            // The client-authenticated connection (or TLS session) must not be reused without the certificate.
            let again = await performError(transport, request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(again != nil)
        }
    }

    @Test func clientKeyMustMatchCertificate() async throws {
        try await withTLSServer(requireClientCert: true) { server, pki in
            let tls = TLSOptions(caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.serverKey)
            let error = await performError(HTTPTransport(), request(server.url("/"), tls))
            #expect(error?.kind == .tls)
            #expect(error?.code == 58)  // CURLE_SSL_CERTPROBLEM
        }
    }

    @Test func keyWithoutCertificateRejected() async throws {
        let error = await performError(HTTPTransport(), request("https://127.0.0.1:1/", TLSOptions(keyFile: "/tmp/some.key")))
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("/tmp/some.key") == true)
    }

    @Test func minimumVersion() async throws {
        try await withTLSServer(maxTLS12: true) { server, pki in
            let transport = HTTPTransport()
            let error = await performError(transport, request(server.url("/"), TLSOptions(caFile: pki.caFile, minVersion: .tls13)))
            #expect(error?.kind == .tls)

            let response = try await transport.perform(request(server.url("/"), TLSOptions(caFile: pki.caFile, minVersion: .tls12)))
            #expect(response.status == 200)
            #expect(fields(response)["version"] == "TLSv1.2")
        }
        try await withTLSServer { server, pki in
            let response = try await HTTPTransport().perform(request(server.url("/"), TLSOptions(caFile: pki.caFile, minVersion: .tls13)))
            #expect(fields(response)["version"] == "TLSv1.3")
        }
    }

    @Test func tlsVersionNamesMatchPrometheus() {
        #expect(TLSVersion.allCases.map(\.rawValue) == ["TLS10", "TLS11", "TLS12", "TLS13"])
        #expect(TLSVersion(rawValue: "TLS12") == .tls12)
    }

    @Test func badFilesGiveClearTLSErrors() async throws {
        try await withTLSServer { server, pki in
            let transport = HTTPTransport()
            let missingCA = "/nonexistent/metrics-agent/ca.pem"
            let caError = await performError(transport, request(server.url("/"), TLSOptions(caFile: missingCA)))
            #expect(caError?.kind == .tls)
            #expect(caError?.code == 77)  // CURLE_SSL_CACERT_BADFILE
            #expect(caError?.message.contains(missingCA) == true, "\(String(describing: caError))")

            // A file that is not PEM at all.
            let garbageCA = pki.directory + "/openssl.cnf"
            let garbageError = await performError(transport, request(server.url("/"), TLSOptions(caFile: garbageCA)))
            #expect(garbageError?.kind == .tls)

            let missingCert = "/nonexistent/metrics-agent/client.crt"
            let certError = await performError(
                transport, request(server.url("/"), TLSOptions(caFile: pki.caFile, certFile: missingCert, keyFile: pki.clientKey)))
            #expect(certError?.kind == .tls)
            #expect(certError?.message.contains(missingCert) == true, "\(String(describing: certError))")

            let missingKey = "/nonexistent/metrics-agent/client.key"
            let keyError = await performError(
                transport, request(server.url("/"), TLSOptions(caFile: pki.caFile, certFile: pki.clientCert, keyFile: missingKey)))
            #expect(keyError?.kind == .tls)
            #expect(keyError?.message.contains(missingKey) == true, "\(String(describing: keyError))")

            // The transport still works afterwards.
            let response = try await transport.perform(request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(response.status == 200)
        }
    }

    @Test func basicAuthOverTLS() async throws {
        try await withTLSServer(basicAuth: "prom:secret") { server, pki in
            var authorized = request(server.url("/"), TLSOptions(caFile: pki.caFile))
            authorized.basicAuth = BasicAuth(username: "prom", password: "secret")
            let ok = try await HTTPTransport().perform(authorized)
            #expect(ok.status == 200)
            let anonymous = try await HTTPTransport().perform(request(server.url("/"), TLSOptions(caFile: pki.caFile)))
            #expect(anonymous.status == 401)
        }
    }
}

/// Basic auth and proxies against the in-process NIO server.
@Suite struct HTTPTransportOptionsTests {
    @Test func basicAuth() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            var request = HTTPRequest(url: server.url("/auth"))
            let missing = try await transport.perform(request)
            #expect(missing.status == 401)
            #expect(missing.header("www-authenticate")?.hasPrefix("Basic") == true)

            request.basicAuth = BasicAuth(username: TestHTTPServer.basicUser, password: "wrong")
            #expect(try await transport.perform(request).status == 401)

            request.basicAuth = BasicAuth(username: TestHTTPServer.basicUser, password: TestHTTPServer.basicPassword)
            let ok = try await transport.perform(request)
            #expect(ok.status == 200)
            #expect(ok.body == Array("authorized".utf8))

            // The header libcurl sent is exactly Basic base64(user:password), sent preemptively.
            request.url = server.url("/headers")
            let headers = String(decoding: try await transport.perform(request).body, as: UTF8.self)
            #expect(headers.contains("authorization: \(TestHTTPServer.basicAuthorization)\n"))

            // Nothing carries over to the next request on the same transport.
            let after = try await transport.perform(HTTPRequest(url: server.url("/auth")))
            #expect(after.status == 401)
        }
    }

    @Test func basicAuthPasswordHiddenFromDescriptions() {
        let auth = BasicAuth(username: "user", password: "hunter2")
        #expect(!auth.description.contains("hunter2"))
        #expect(!String(reflecting: auth).contains("hunter2"))
        var dumped = ""
        dump(auth, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }

    @Test func proxyReceivesAbsoluteURI() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            var request = HTTPRequest(url: "http://example.invalid/whatever?x=1", timeout: .seconds(10))
            request.proxyURL = "http://127.0.0.1:\(server.port)"
            let response = try await transport.perform(request)
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "proxied http://example.invalid/whatever?x=1")

            // Without the proxy (same transport) the name does not resolve.
            request.proxyURL = nil
            let error = await performError(transport, request)
            #expect(error?.kind == .connection)
        }
    }

    @Test func unreachableProxyIsConnectionError() async throws {
        // Port 1 (tcpmux) has no listener here. A port freed by a server this test stopped is not
        // safe: a test running in parallel may be given it at once (seen in CI: a 404 answer).
        var request = HTTPRequest(url: "http://example.invalid/", timeout: .seconds(10))
        request.proxyURL = "http://127.0.0.1:1"
        let error = await performError(HTTPTransport(), request)
        #expect(error?.kind == .connection)
    }
}
