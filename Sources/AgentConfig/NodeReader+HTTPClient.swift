import Foundation
import Yams

/// Prometheus's `http_config`, shared by scrape configs, remote write and SD configs.
extension NodeReader {
    static let httpClientKeys: Set<String> = [
        "tls_config", "basic_auth", "authorization", "bearer_token", "bearer_token_file", "proxy_url", "follow_redirects", "oauth2",
    ]

    /// Prometheus's `http_config` keys in a scrape config or remote write endpoint.
    mutating func httpClient(_ map: [String: Node], _ node: Node, _ path: String) -> HTTPClientConfig {
        var client = HTTPClientConfig()
        if let n = map["tls_config"] {
            let tlsPath = "\(path).tls_config"
            let tls = mapping(n, tlsPath, known: ["ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", "min_version", "ca", "cert", "key"])
            for key in ["ca", "cert", "key"] where tls[key] != nil {
                fail(tls[key], "\(tlsPath).\(key)", "inline certificates are not supported; use \(key)_file")
            }
            client.tls.caFile = tls["ca_file"].flatMap { string($0, "\(tlsPath).ca_file") }
            client.tls.certFile = tls["cert_file"].flatMap { string($0, "\(tlsPath).cert_file") }
            client.tls.keyFile = tls["key_file"].flatMap { string($0, "\(tlsPath).key_file") }
            client.tls.serverName = tls["server_name"].flatMap { string($0, "\(tlsPath).server_name") }
            if let v = tls["insecure_skip_verify"], let value = bool(v, "\(tlsPath).insecure_skip_verify") { client.tls.insecureSkipVerify = value }
            if let v = tls["min_version"], let value = string(v, "\(tlsPath).min_version") {
                if ["TLS10", "TLS11", "TLS12", "TLS13"].contains(value) {
                    client.tls.minVersion = value
                } else {
                    fail(v, "\(tlsPath).min_version", "unknown TLS version \"\(value)\" (TLS10, TLS11, TLS12 or TLS13)")
                }
            }
            if (client.tls.certFile == nil) != (client.tls.keyFile == nil) {
                fail(n, tlsPath, "cert_file and key_file must be given together")
            }
        }
        if let n = map["basic_auth"] {
            let authPath = "\(path).basic_auth"
            let auth = mapping(n, authPath, known: ["username", "password", "password_file", "username_file"])
            if auth["username_file"] != nil { fail(auth["username_file"], "\(authPath).username_file", "not supported; use username") }
            let username = auth["username"].flatMap { string($0, "\(authPath).username") } ?? ""
            let password = secret(auth, inline: "password", file: "password_file", authPath)
            client.basicAuth = BasicAuth(username: username, password: password)
        }
        if let n = map["authorization"] {
            let authPath = "\(path).authorization"
            let auth = mapping(n, authPath, known: ["type", "credentials", "credentials_file"])
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
        return client
    }

    /// A secret given inline under `inline` or in a file under `file`, not both.
    mutating func secret(_ map: [String: Node], inline: String, file: String, _ path: String) -> Secret? {
        switch (map[inline], map[file]) {
        case (let value?, nil): return string(value, "\(path).\(inline)").map(Secret.inline)
        case (nil, let value?): return string(value, "\(path).\(file)").map(Secret.file)
        case (_?, let second?):
            fail(second, "\(path).\(file)", "at most one of \(inline) and \(file) may be set")
            return nil
        case (nil, nil): return nil
        }
    }
}
