import Yams

extension NodeReader {
    /// A `dns_sd_configs` entry: `names` (at least one), `type` (default SRV, case-insensitive),
    /// `port` (required for every type but SRV) and `refresh_interval`, validated as Prometheus's
    /// `discovery/dns` does.
    mutating func dnsSD(_ node: Node, _ path: String) -> DNSSDConfig? {
        let map = mapping(node, path, known: ["names", "type", "port", "refresh_interval"])
        let names = optionalSequence(map["names"], "\(path).names").enumerated().compactMap { index, nameNode in
            string(nameNode, "\(path).names[\(index)]")
        }
        guard !names.isEmpty else {
            fail(map["names"] ?? node, "\(path).names", "DNS-SD config must contain at least one SRV record name")
            return nil
        }
        for (index, name) in names.enumerated() where name.isEmpty {
            fail(map["names"], "\(path).names[\(index)]", "a name must not be empty")
        }
        var sd = DNSSDConfig(names: names)
        if let n = map["type"], let text = string(n, "\(path).type") {
            guard let type = DNSSDConfig.RecordType(rawValue: text.uppercased()) else {
                fail(n, "\(path).type", "invalid DNS-SD records type \(text) (one of SRV, A, AAAA, MX, NS)")
                return nil
            }
            sd.type = type
        }
        if let n = map["port"], let port = int(n, "\(path).port") {
            if (0...65535).contains(port) { sd.port = port } else { fail(n, "\(path).port", "port \(port) is out of range (1-65535)") }
        }
        if sd.type != .srv, sd.port == 0 {
            fail(map["port"] ?? node, "\(path).port", "a port is required in DNS-SD configs for all record types except SRV")
        }
        if let n = map["refresh_interval"], let value = duration(n, "\(path).refresh_interval") {
            if value > .zero { sd.refreshInterval = value } else { fail(n, "\(path).refresh_interval", "must be greater than 0") }
        }
        return sd
    }
}
