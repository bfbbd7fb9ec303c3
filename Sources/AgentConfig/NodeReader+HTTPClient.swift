import Foundation
import Yams

/// Prometheus's `http_config`, shared by scrape configs, remote write and SD configs.
extension NodeReader {
    static let httpClientKeys: Set<String> = [
        "tls_config", "basic_auth", "authorization", "bearer_token", "bearer_token_file", "proxy_url", "follow_redirects", "oauth2",
        "enable_http2", "http_headers", "proxy_from_environment", "no_proxy", "proxy_connect_header",
    ]

    /// Prometheus's `http_config` keys in a scrape config or remote write endpoint.
    mutating func httpClient(_ map: [String: Node], _ node: Node, _ path: String) -> HTTPClientConfig {
        var client = HTTPClientConfig()
        if let n = map["tls_config"] { client.tls = tlsConfig(n, "\(path).tls_config") }
        if let n = map["basic_auth"] {
            let authPath = "\(path).basic_auth"
            let auth = mapping(n, authPath, known: ["username", "password", "password_file", "username_file", "username_ref", "password_ref"])
            rejectSecretReferences(auth, ["username_ref", "password_ref"], authPath)
            let username = secret(auth, inline: "username", file: "username_file", authPath)
            let password = secret(auth, inline: "password", file: "password_file", authPath)
            switch username {
            case .file(let file)?: client.basicAuth = BasicAuth(username: "", usernameFile: file, password: password)
            case .inline(let name)?: client.basicAuth = BasicAuth(username: name, password: password)
            case nil: client.basicAuth = BasicAuth(username: "", password: password)
            }
        }
        if let n = map["authorization"] {
            let authPath = "\(path).authorization"
            let auth = mapping(n, authPath, known: ["type", "credentials", "credentials_file", "credentials_ref"])
            rejectSecretReferences(auth, ["credentials_ref"], authPath)
            let type = auth["type"].flatMap { string($0, "\(authPath).type") } ?? "Bearer"
            if type.lowercased() == "basic" { fail(auth["type"], "\(authPath).type", "use basic_auth for Basic authorization") }
            client.authorization = Authorization(type: type, credentials: secret(auth, inline: "credentials", file: "credentials_file", authPath))
        }
        let bearer = secret(map, inline: "bearer_token", file: "bearer_token_file", path)
        if let bearer {
            if client.authorization != nil {
                fail(map["bearer_token"] ?? map["bearer_token_file"], path, "at most one of authorization, bearer_token and bearer_token_file may be set")
            }
            client.authorization = Authorization(credentials: bearer)
        }
        if client.basicAuth != nil, client.authorization != nil {
            fail(map["basic_auth"], "\(path).basic_auth", "at most one of basic_auth, authorization, bearer_token and bearer_token_file may be set")
        }
        client.oauth2 = oauth2(map, path, client)
        if let n = map["proxy_url"], let value = string(n, "\(path).proxy_url") {
            if let url = URL(string: value), url.scheme != nil, url.host != nil {
                client.proxyURL = value
            } else {
                fail(n, "\(path).proxy_url", "invalid proxy URL \"\(value)\"")
            }
        }
        if let n = map["follow_redirects"], let value = bool(n, "\(path).follow_redirects") { client.followRedirects = value }
        if let n = map["enable_http2"], let value = bool(n, "\(path).enable_http2") { client.enableHTTP2 = value }
        if let n = map["http_headers"] { client.httpHeaders = httpHeaders(n, "\(path).http_headers") }
        proxyOptions(map, path, into: &client)
        return client
    }

    /// A secret given inline under `inline` or in a file under `file`, not both. An empty
    /// string counts as unset, as in Prometheus (whose dumps leave such keys out).
    mutating func secret(_ map: [String: Node], inline: String, file: String, _ path: String) -> Secret? {
        func given(_ key: String) -> Node? { map[key].flatMap { $0.scalar?.string == "" ? nil : $0 } }
        switch (given(inline), given(file)) {
        case (let value?, nil): return string(value, "\(path).\(inline)").map(Secret.inline)
        case (nil, let value?): return string(value, "\(path).\(file)").map(Secret.file)
        case (_?, let second?):
            fail(second, "\(path).\(file)", "at most one of \(inline) and \(file) may be set")
            return nil
        case (nil, nil): return nil
        }
    }

    /// `*_ref` keys name secrets in a secret manager, which Prometheus itself only has when a
    /// program embeds its libraries with one (Prometheus's own client then fails with "cannot
    /// use secret ref without manager"): refused at load.
    mutating func rejectSecretReferences(_ map: [String: Node], _ keys: [String], _ path: String) {
        for key in keys {
            guard let node = map[key], node.scalar?.string != "" else { continue }
            fail(node, "\(path).\(key)", "not supported: secret manager references are not available; use the inline or _file form")
        }
    }
}
