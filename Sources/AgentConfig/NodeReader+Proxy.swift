import Yams

/// The proxy keys of an HTTP client config: `no_proxy`, `proxy_from_environment` and
/// `proxy_connect_header` (`proxy_url` is read with the rest of the client).
extension NodeReader {
    /// Reads the keys into `client` (whose ``HTTPClientConfig/proxyURL`` is already set) and
    /// checks them against each other as Prometheus's `ProxyConfig.Validate` does.
    mutating func proxyOptions(_ map: [String: Node], _ path: String, into client: inout HTTPClientConfig) {
        if let n = map["proxy_from_environment"], let value = bool(n, "\(path).proxy_from_environment") {
            client.proxyFromEnvironment = value
        }
        if let n = map["no_proxy"], let value = string(n, "\(path).no_proxy"), !value.isEmpty {
            client.noProxy = value
        }
        if let n = map["proxy_connect_header"], !isNull(n) {
            client.proxyConnectHeaders = proxyConnectHeaders(n, "\(path).proxy_connect_header")
        }
        if client.proxyFromEnvironment, client.proxyURL != nil {
            fail(map["proxy_url"], "\(path).proxy_url", "if proxy_from_environment is configured, proxy_url must not be configured")
        }
        if client.proxyFromEnvironment, client.noProxy != nil {
            fail(map["no_proxy"], "\(path).no_proxy", "if proxy_from_environment is configured, no_proxy must not be configured")
        }
        if client.noProxy != nil, client.proxyURL == nil, !client.proxyFromEnvironment {
            fail(map["no_proxy"], "\(path).no_proxy", "if no_proxy is configured, proxy_url must also be configured")
        }
        if !client.proxyConnectHeaders.isEmpty, client.proxyURL == nil, !client.proxyFromEnvironment {
            fail(map["proxy_connect_header"], "\(path).proxy_connect_header",
                 "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured")
        }
    }

    /// `proxy_connect_header`: header name → list of (secret) values.
    private mutating func proxyConnectHeaders(_ node: Node, _ path: String) -> [ProxyConnectHeader] {
        headerEntries(node, path, expected: "lists of values").map { name, _, valueNode, headerPath in
            ProxyConnectHeader(name: name, values: headerValues(valueNode, headerPath, secret: true))
        }
    }
}
