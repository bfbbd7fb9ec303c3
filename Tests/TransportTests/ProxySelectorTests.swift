import Testing
@testable import Transport

/// Cases from Go's `golang.org/x/net/http/httpproxy` tests (`proxy_test.go`), which Prometheus's
/// `proxy_from_environment` and `no_proxy` use.
@Suite struct ProxySelectorTests {
    /// Go's `noProxy` test value.
    static let noProxy = "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64"

    /// Go's `UseProxyTests`: host (requested on port 80) → whether the proxy is used.
    @Test(arguments: [
        ("localhost", false), ("127.0.0.1", false), ("127.0.0.2", false), ("[::1]", false), ("[::2]", true),
        ("192.168.1.1", false), ("192.168.1.2", true), ("192.168.1.3", false), ("192.168.1.4", true), ("10.0.0.2", false),
        ("[2001:db8::52:0:1]", false), ("[2001:db8::52:0:2]", true), ("[2001:db8::52:0:3]", false),
        ("[2002:db8:a::123]", false), ("[fe80::424b:c8be:1643:a1b6]", true),
        ("barbaz.net", true), ("www.barbaz.net", false), ("foobar.com", false), ("www.foobar.com", false),
        ("foofoobar.com", true), ("baz.com", true), ("localhost.net", true), ("local.localhost", true),
        ("barbarbaz.net", true), ("wildcard.io", true), ("nested.wildcard.io", false), ("awildcard.io", true),
    ])
    func noProxyMatchesAsGo(host: String, proxied: Bool) throws {
        let selector = ProxySelector(environment: ["HTTP_PROXY": "http://proxy:3128", "NO_PROXY": Self.noProxy])
        #expect(try selector.proxy(for: "http://\(host):80/metrics") == (proxied ? "http://proxy:3128" : nil))
        let everything = ProxySelector(environment: ["HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "*"])
        #expect(try everything.proxy(for: "http://\(host):80/metrics") == nil)
    }

    @Test func environmentValuesAsGoReadsThem() throws {
        let upper = ProxySelector(environment: [
            "HTTP_PROXY": "cache.corp.example.com:1234", "http_proxy": "ignored:1", "https_proxy": "https://secure.proxy.tld",
        ])
        #expect(try upper.proxy(for: "http://insecure.tld/") == "http://cache.corp.example.com:1234", "a bare host:port means http://")
        #expect(try upper.proxy(for: "https://secure.tld/") == "https://secure.proxy.tld", "https URLs use HTTPS_PROXY")
        #expect(try upper.proxy(for: "ftp://insecure.tld/") == nil)
        let emptyUpper = ProxySelector(environment: ["HTTP_PROXY": "", "http_proxy": "lower:1"])
        #expect(try emptyUpper.proxy(for: "http://x/") == "http://lower:1", "an empty upper-case value does not hide the lower-case one")
        #expect(try ProxySelector(environment: ["HTTP_PROXY": "http.proxy.tld"]).proxy(for: "https://secure.tld/") == nil)
        #expect(try ProxySelector(environment: [:]).proxy(for: "http://x/") == nil)
    }

    @Test func cgiEnvironmentRefusesHTTPProxyButKeepsHTTPSProxy() throws {
        let selector = ProxySelector(environment: [
            "HTTP_PROXY": "http://10.1.2.3:8080", "HTTPS_PROXY": "https://secure.proxy.tld", "REQUEST_METHOD": "GET",
        ])
        #expect(throws: ProxySelectionError.self) { try selector.proxy(for: "http://host.tld/") }
        #expect(try selector.proxy(for: "https://secure.tld/") == "https://secure.proxy.tld")
    }

    @Test func bareProxyURLProxiesEverythingLoopbackIncluded() throws {
        let selector = ProxySelector(proxyURL: "http://proxy:3128")
        #expect(try selector.proxy(for: "http://127.0.0.1:9100/metrics") == "http://proxy:3128", "Go's http.ProxyURL has no exceptions")
        #expect(try selector.proxy(for: "https://localhost/") == "http://proxy:3128")
    }

    @Test func proxyURLWithNoProxyFollowsHTTPProxyRules() throws {
        let selector = ProxySelector(proxyURL: "http://proxy:3128", noProxy: "10.0.0.0/8,.svc,db:5432")
        #expect(try selector.proxy(for: "http://127.0.0.1:9100/") == nil, "loopback is never proxied once no_proxy is set")
        #expect(try selector.proxy(for: "http://10.1.2.3:9100/") == nil)
        #expect(try selector.proxy(for: "https://api.default.svc/") == nil)
        #expect(try selector.proxy(for: "http://db:5432/") == nil)
        #expect(try selector.proxy(for: "http://db:5433/") == "http://proxy:3128")
        #expect(try selector.proxy(for: "https://user:pw@example.com/x") == "http://proxy:3128", "both schemes use proxy_url")
    }

    @Test func requestAddressesDefaultThePortFromTheScheme() {
        #expect(RequestAddress("https://Example.com/x") == RequestAddress(scheme: "https", host: "Example.com", port: "443"))
        #expect(RequestAddress("http://u:p@[::1]:9090/x?y") == RequestAddress(scheme: "http", host: "::1", port: "9090"))
        #expect(RequestAddress("http://[::1]") == RequestAddress(scheme: "http", host: "::1", port: "80"))
        #expect(RequestAddress("no-scheme") == nil)
    }

    @Test func socks5ProxiesResolveNamesAtTheProxyAsGoDoes() {
        #expect(HTTPClient.curlProxyURL("socks5://127.0.0.1:1080") == "socks5h://127.0.0.1:1080")
        #expect(HTTPClient.curlProxyURL("http://p:1") == "http://p:1")
    }
}
