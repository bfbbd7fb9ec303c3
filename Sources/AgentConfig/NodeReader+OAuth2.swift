import Foundation
import Yams

/// `oauth2` in an `http_config` (scrape configs, remote write, Kubernetes SD).
extension NodeReader {
    /// The `oauth2` keys the agent honours.
    static let oauth2Keys: Set<String> = [
        "client_id", "client_secret", "client_secret_file", "scopes", "token_url", "endpoint_params", "tls_config",
        "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header", "grant_type",
    ]

    /// Prometheus's `oauth2` keys the agent cannot honour, each with the reason given at load.
    static let oauth2UnsupportedKeys: [String: String] = {
        var keys: [String: String] = [:]
        for key in [
            "client_certificate_key", "client_certificate_key_file", "client_certificate_key_id", "signature_algorithm",
            "iss", "audience", "claims",
        ] {
            keys[key] = "not supported: it belongs to the jwt-bearer grant, and only client_credentials is supported"
        }
        return keys
    }()

    /// The `oauth2` section of `map` (an `http_config` at `path`), or `nil` when there is none.
    /// `client` holds the section's other authentication, which must be unset.
    mutating func oauth2(_ map: [String: Node], _ path: String, _ client: HTTPClientConfig) -> OAuth2Config? {
        guard let node = map["oauth2"] else { return nil }
        let oauthPath = "\(path).oauth2"
        let o = mapping(node, oauthPath, known: Self.oauth2Keys.union(Self.oauth2UnsupportedKeys.keys))
        for (key, reason) in Self.oauth2UnsupportedKeys.sorted(by: { $0.key < $1.key }) where o[key] != nil {
            fail(o[key], "\(oauthPath).\(key)", reason)
        }
        if client.basicAuth != nil || client.authorization != nil {
            fail(node, oauthPath, "at most one of basic_auth, oauth2, authorization, bearer_token and bearer_token_file may be set")
        }
        if let n = o["grant_type"], let grant = string(n, "\(oauthPath).grant_type"), grant != "client_credentials" {
            fail(n, "\(oauthPath).grant_type", "grant type \"\(grant)\" is not supported (only client_credentials)")
        }
        let clientID = o["client_id"].flatMap { string($0, "\(oauthPath).client_id") } ?? ""
        if clientID.isEmpty { fail(o["client_id"] ?? node, "\(oauthPath).client_id", "oauth2 client_id must be configured") }
        var tokenURL = ""
        if let n = o["token_url"], let value = string(n, "\(oauthPath).token_url") {
            if let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil {
                tokenURL = value
            } else {
                fail(n, "\(oauthPath).token_url", "invalid token URL \"\(value)\" (expected http(s)://host[:port]/path)")
            }
        } else if o["token_url"] == nil {
            fail(node, "\(oauthPath).token_url", "oauth2 token_url must be configured")
        }
        var config = OAuth2Config(
            clientID: clientID, clientSecret: secret(o, inline: "client_secret", file: "client_secret_file", oauthPath),
            tokenURL: tokenURL)
        for (i, item) in optionalSequence(o["scopes"], "\(oauthPath).scopes").enumerated() {
            if let scope = string(item, "\(oauthPath).scopes[\(i)]") { config.scopes.append(scope) }
        }
        if let n = o["endpoint_params"] {
            if let params = n.mapping {
                for (keyNode, valueNode) in params {
                    guard let key = keyNode.scalar?.string else { continue }
                    if let value = string(valueNode, "\(oauthPath).endpoint_params.\(key)") { config.endpointParams[key] = value }
                }
            } else {
                fail(n, "\(oauthPath).endpoint_params", "expected a mapping of parameter names to values")
            }
            if !config.scopes.isEmpty, config.endpointParams["scope"] != nil {
                fail(n, "\(oauthPath).endpoint_params.scope", "scope cannot be set both in scopes and in endpoint_params")
            }
        }
        // The token request's own TLS and proxy, read as an http_config of those keys alone.
        let transportKeys: Set<String> = ["tls_config", "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header"]
        let transport = httpClient(o.filter { transportKeys.contains($0.key) }, node, oauthPath)
        config.tls = transport.tls
        config.proxyURL = transport.proxyURL
        config.noProxy = transport.noProxy
        config.proxyFromEnvironment = transport.proxyFromEnvironment
        config.proxyConnectHeaders = transport.proxyConnectHeaders
        return config
    }
}
