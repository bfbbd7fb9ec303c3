/// A `dns_sd_configs` entry (Prometheus's `discovery/dns`): the records of `names`, looked up
/// every `refreshInterval`.
public struct DNSSDConfig: Sendable, Equatable {
    /// The record types Prometheus queries. The YAML value is case-insensitive.
    public enum RecordType: String, Sendable, CaseIterable {
        case srv = "SRV"
        case a = "A"
        case aaaa = "AAAA"
        case mx = "MX"
        case ns = "NS"
    }

    /// At least one (checked at load time). Relative names go through resolv.conf's search list.
    public var names: [String]
    /// Prometheus's default: SRV.
    public var type: RecordType = .srv
    /// The port of every target; required (1…65535) for every type but SRV, whose records
    /// carry their own, and ignored for SRV.
    public var port: Int = 0
    /// Prometheus's default: 30s.
    public var refreshInterval: Duration = .seconds(30)

    public init(names: [String]) {
        self.names = names
    }
}
