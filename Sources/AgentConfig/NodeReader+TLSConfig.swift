import Yams

/// `tls_config`, in every HTTP client config (and wherever else Prometheus has one).
extension NodeReader {
    static let tlsVersions = ["TLS10", "TLS11", "TLS12", "TLS13"]

    /// A `tls_config` mapping, validated as Prometheus's `TLSConfig.Validate` and
    /// `NewTLSConfig` do: each of the CA, the client certificate and the client key comes from
    /// at most one of the inline text and the file; a client certificate needs a key and the
    /// other way round; `max_version` is not below `min_version`.
    mutating func tlsConfig(_ node: Node, _ path: String) -> TLSConfig {
        var tls = TLSConfig()
        let map = mapping(
            node, path,
            known: [
                "ca_file", "cert_file", "key_file", "ca", "cert", "key", "ca_ref", "cert_ref", "key_ref", "server_name",
                "insecure_skip_verify", "min_version", "max_version",
            ])
        rejectSecretReferences(map, ["ca_ref", "cert_ref", "key_ref"], path)
        /// A string value; empty counts as unset, as in Prometheus.
        func text(_ key: String) -> String? {
            guard let n = map[key], let value = string(n, "\(path).\(key)"), !value.isEmpty else { return nil }
            return value
        }
        for (inline, file) in [("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")] {
            if text(inline) != nil, text(file) != nil {
                fail(map[file], "\(path).\(file)", "at most one of \(inline) and \(file) may be set")
            }
        }
        tls.ca = text("ca")
        tls.cert = text("cert")
        tls.key = text("key")
        tls.caFile = text("ca_file")
        tls.certFile = text("cert_file")
        tls.keyFile = text("key_file")
        tls.serverName = text("server_name")
        if let v = map["insecure_skip_verify"], let value = bool(v, "\(path).insecure_skip_verify") { tls.insecureSkipVerify = value }
        tls.minVersion = tlsVersion(map, "min_version", path)
        tls.maxVersion = tlsVersion(map, "max_version", path)
        if let min = tls.minVersion, let max = tls.maxVersion,
            let minIndex = Self.tlsVersions.firstIndex(of: min), let maxIndex = Self.tlsVersions.firstIndex(of: max), maxIndex < minIndex
        {
            fail(map["max_version"], "\(path).max_version", "max_version must be greater than or equal to min_version")
        }
        let hasCert = tls.cert != nil || tls.certFile != nil
        let hasKey = tls.key != nil || tls.keyFile != nil
        if hasCert, !hasKey {
            fail(node, path, "a client certificate (cert or cert_file) needs a key (key or key_file)")
        } else if hasKey, !hasCert {
            fail(node, path, "a client key (key or key_file) needs a certificate (cert or cert_file)")
        }
        return tls
    }

    /// Go's numeric TLS version constants, which Prometheus 2.x's `/api/v1/status/config`
    /// printed instead of the names (`min_version: 771`), so that such dumps load.
    static let numericTLSVersions = ["769": "TLS10", "770": "TLS11", "771": "TLS12", "772": "TLS13"]

    private mutating func tlsVersion(_ map: [String: Node], _ key: String, _ path: String) -> String? {
        guard let n = map[key], let text = string(n, "\(path).\(key)") else { return nil }
        let value = Self.numericTLSVersions[text] ?? text
        guard Self.tlsVersions.contains(value) else {
            fail(n, "\(path).\(key)", "unknown TLS version \"\(value)\" (TLS10, TLS11, TLS12 or TLS13)")
            return nil
        }
        return value
    }
}
