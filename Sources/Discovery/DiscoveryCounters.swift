/// What the HTTP and DNS providers count, as callbacks the owner wires to its registry
/// (Prometheus's names in parentheses). Every callback must return quickly.
public struct DiscoveryCounters: Sendable {
    /// A failed HTTP SD refresh (`prometheus_sd_http_failures_total`).
    public var httpFailure: @Sendable () -> Void
    /// A DNS SD lookup of one name, failed or not (`prometheus_sd_dns_lookups_total`).
    public var dnsLookup: @Sendable () -> Void
    /// A DNS SD lookup that failed (`prometheus_sd_dns_lookup_failures_total`).
    public var dnsLookupFailure: @Sendable () -> Void

    public init(
        httpFailure: @escaping @Sendable () -> Void = {}, dnsLookup: @escaping @Sendable () -> Void = {},
        dnsLookupFailure: @escaping @Sendable () -> Void = {}
    ) {
        self.httpFailure = httpFailure
        self.dnsLookup = dnsLookup
        self.dnsLookupFailure = dnsLookupFailure
    }
}
