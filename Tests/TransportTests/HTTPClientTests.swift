import AgentConfig
import Curl
import Foundation
import TestSupport
import Testing
import Transport

/// The `key=value` lines of a ``TLSTestServer`` GET response.
private func fields(_ response: HTTPResponse) -> [String: String] {
    var result: [String: String] = [:]
    for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return result
}

/// GETs `url` with `config` applied, as the scrape, remote write and discovery clients do.
private func get(
    _ url: String, _ config: HTTPClientConfig, environment: [String: String] = [:], transport: HTTPTransport = HTTPTransport()
) async throws -> HTTPResponse {
    var request = HTTPRequest(url: url, timeout: .seconds(10))
    try await HTTPClient(config: config, transport: transport, environment: environment).apply(to: &request)
    return try await transport.perform(request)
}

private func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

/// Every `http_config` key against real servers: a Python HTTP(S) server and a Python proxy.
@Suite struct HTTPClientTests {
    @Test func httpHeadersArriveWithValuesSecretsAndFileContentsInOrder() async throws {
        try await withTLSServer(plainHTTP: true) { server, pki in
            let file = pki.directory + "/tenant"
            try "from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
            var config = HTTPClientConfig()
            config.httpHeaders = [HTTPHeaderConfig(name: "X-Tenant", values: ["a", "b"], secrets: ["s"], files: [file])]
            #expect(try await get(server.url("/"), config).status == 200)
            // A rotated file is read again (its identity changed), without a restart.
            try "rotated".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await get(server.url("/"), config).status == 200)
            let seen = server.requests().map { $0.headerValues("X-Tenant") }
            #expect(seen == [["a", "b", "s", "from-file"], ["a", "b", "s", "rotated"]])
        }
    }

    @Test func unreadableHeaderFileFailsTheRequestNamingTheFileNotItsContents() async throws {
        var config = HTTPClientConfig()
        config.httpHeaders = [HTTPHeaderConfig(name: "X-Token", files: ["/nonexistent/token"])]
        var request = HTTPRequest(url: "http://127.0.0.1:1/")
        let client = HTTPClient(config: config, transport: HTTPTransport())
        #expect(client.canRefreshCredentials)
        let error = await #expect(throws: SecretError.self) { try await client.apply(to: &request) }
        #expect(error?.description.contains("header X-Token: cannot read secret file /nonexistent/token") == true)
    }

    @Test func basicAuthUsernameFile() async throws {
        try await withTLSServer(basicAuth: "alice:pw", plainHTTP: true) { server, pki in
            let file = pki.directory + "/user"
            try "alice\n".write(toFile: file, atomically: true, encoding: .utf8)
            var config = HTTPClientConfig()
            config.basicAuth = BasicAuth(username: "", usernameFile: file, password: .inline("pw"))
            #expect(try await get(server.url("/"), config).status == 200)
        }
    }

    @Test func enableHTTP2OffersH2AndFalseKeepsHTTP11() async throws {
        try await withTLSServer(offerHTTP2: true) { server, pki in
            var config = HTTPClientConfig()
            config.tls.caFile = pki.caFile
            // One transport, as jobs share it: the HTTP/2 connection is not reused for the
            // HTTP/1.1-only request.
            let transport = HTTPTransport()
            let h2 = try await get(server.url("/"), config, transport: transport)
            #expect(h2.status == 200)
            config.enableHTTP2 = false
            let h1 = try await get(server.url("/"), config, transport: transport)
            #expect(h1.status == 200 && fields(h1)["path"] == "/")
            #expect(server.requests().map(\.alpn) == ["h2", "http/1.1"])
        }
    }

    @Test func maxVersionBelowTheServersMinimumIsRefused() async throws {
        try await withTLSServer(minTLS13: true) { server, pki in
            var config = HTTPClientConfig()
            config.tls.caFile = pki.caFile
            config.tls.maxVersion = "TLS12"
            let transport = HTTPTransport()
            do {
                _ = try await get(server.url("/"), config, transport: transport)
                Issue.record("a TLS 1.2 client reached a TLS 1.3-only server")
            } catch let error as CurlError {
                #expect(error.kind == .tls, "\(error)")
            }
            config.tls.maxVersion = "TLS13"
            let newest = try await get(server.url("/"), config, transport: transport)
            #expect(fields(newest)["version"] == "TLSv1.3")
        }
        try await withTLSServer { server, pki in
            var config = HTTPClientConfig()
            config.tls.caFile = pki.caFile
            config.tls.maxVersion = "TLS12"
            let capped = try await get(server.url("/"), config)
            #expect(fields(capped)["version"] == "TLSv1.2", "a capped client still talks to a newer server")
        }
    }

    @Test func inlineCACertificateAndKeyWork() async throws {
        try await withTLSServer(requireClientCert: true) { server, pki in
            var config = HTTPClientConfig()
            config.tls.ca = try contents(pki.caFile)
            config.tls.cert = try contents(pki.clientCert)
            config.tls.key = try contents(pki.clientKey)
            let transport = HTTPTransport()
            let mutual = try await get(server.url("/"), config, transport: transport)
            #expect(fields(mutual)["client"] == "scraper")
            // The inline CA is the only trust: another CA's PEM does not verify the server.
            config.tls.ca = try contents(pki.clientCAFile)
            do {
                _ = try await get(server.url("/"), config, transport: transport)
                Issue.record("verified against the wrong inline CA")
            } catch let error as CurlError {
                #expect(error.kind == .tls, "\(error)")
            }
        }
    }

    @Test func proxyConnectHeadersReachTheProxyOnlyInCONNECT() async throws {
        try await withTestProxy { proxy in
            try await withTLSServer { server, pki in
                var config = HTTPClientConfig()
                config.tls.caFile = pki.caFile
                config.proxyURL = proxy.url
                config.proxyConnectHeaders = [ProxyConnectHeader(name: "X-Proxy-Token", values: ["t1", "t2"])]
                // target.test is in the server certificate; the proxy connects to 127.0.0.1.
                let response = try await get("https://target.test:\(server.port)/", config)
                #expect(fields(response)["host"] == "target.test:\(server.port)")
                let connect = try #require(proxy.requests().first)
                #expect(connect.method == "CONNECT" && connect.target == "target.test:\(server.port)")
                #expect(connect.headerValues("X-Proxy-Token") == ["t1", "t2"])
                #expect(server.requests().first?.headerValues("X-Proxy-Token") == [], "never sent to the server")
            }
            try await withTLSServer(plainHTTP: true) { server, _ in
                var config = HTTPClientConfig()
                config.proxyURL = proxy.url
                config.proxyConnectHeaders = [ProxyConnectHeader(name: "X-Proxy-Token", values: ["t1"])]
                let response = try await get("http://target.test:\(server.port)/", config)
                #expect(response.status == 200)
                let forwarded = try #require(proxy.requests().last)
                #expect(forwarded.method == "GET" && forwarded.target == "http://target.test:\(server.port)/")
                #expect(forwarded.headerValues("X-Proxy-Token") == [], "plain HTTP is forwarded without CONNECT, as in Go")
            }
        }
    }

    @Test func proxyFromEnvironmentAndNoProxyExemptLoopbackAsGoDoes() async throws {
        try await withTestProxy { proxy in
            try await withTLSServer { server, pki in
                var fromEnvironment = HTTPClientConfig()
                fromEnvironment.tls.caFile = pki.caFile
                fromEnvironment.proxyFromEnvironment = true
                let environment = ["HTTPS_PROXY": "127.0.0.1:\(proxy.port)", "NO_PROXY": "other.test"]
                let proxied = try await get("https://target.test:\(server.port)/", fromEnvironment, environment: environment)
                let direct = try await get(server.url("/"), fromEnvironment, environment: environment)
                #expect(proxied.status == 200 && direct.status == 200)

                var withNoProxy = HTTPClientConfig()
                withNoProxy.tls.caFile = pki.caFile
                withNoProxy.proxyURL = proxy.url
                withNoProxy.noProxy = "other.test"
                let loopback = try await get(server.url("/"), withNoProxy)
                let named = try await get("https://target.test:\(server.port)/", withNoProxy)
                #expect(loopback.status == 200 && named.status == 200)

                // Only the two requests for target.test went through the proxy; 127.0.0.1 is
                // never proxied once the environment or no_proxy decides.
                #expect(proxy.requests().map(\.target) == ["target.test:\(server.port)", "target.test:\(server.port)"])
                #expect(server.requests().count == 4)
            }
        }
    }
}
