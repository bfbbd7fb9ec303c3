import Yams

extension NodeReader {
    /// The `*_sd_configs` keys Prometheus has (`discovery/install`) that the agent does not
    /// implement. Each is a load-time error naming the key's line, never a silent ignore.
    static let unsupportedSDKeys: Set<String> = Set(
        [
            "aws", "azure", "consul", "digitalocean", "docker", "dockerswarm", "ec2", "ecs", "elasticache", "eureka", "gce",
            "hetzner", "ionos", "kuma", "lightsail", "linode", "marathon", "msk", "nerve", "nomad", "oci", "openstack",
            "outscale", "ovhcloud", "puppetdb", "rds", "scaleway", "serverset", "stackit", "triton", "uyuni", "vultr",
        ].map { "\($0)_sd_configs" })

    /// Fails for every key of ``unsupportedSDKeys`` in the mapping `node` (a scrape config).
    mutating func rejectUnsupportedSD(_ node: Node, _ path: String) {
        guard let entries = node.mapping else { return }
        for (keyNode, _) in entries {
            guard let key = keyNode.scalar?.string, Self.unsupportedSDKeys.contains(key) else { continue }
            let mechanism = key.dropLast("_sd_configs".count)
            fail(
                keyNode, "\(path).\(key)",
                "\(mechanism) service discovery is not supported by the agent (supported: static_configs, file_sd_configs, "
                    + "kubernetes_sd_configs, http_sd_configs, dns_sd_configs)")
        }
    }
}
