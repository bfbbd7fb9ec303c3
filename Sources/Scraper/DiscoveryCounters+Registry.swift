import Discovery
import Prometheus

extension DiscoveryCounters {
    /// The HTTP and DNS discovery counters, under Prometheus's names, in `registry`.
    init(registry: PrometheusCollectorRegistry) {
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: [])
        }
        let httpFailures = counter("prometheus_sd_http_failures_total", "Number of HTTP service discovery refresh failures.")
        let dnsLookups = counter("prometheus_sd_dns_lookups_total", "The number of DNS-SD lookups.")
        let dnsFailures = counter("prometheus_sd_dns_lookup_failures_total", "The number of DNS-SD lookup failures.")
        self.init(
            httpFailure: { httpFailures.increment() }, dnsLookup: { dnsLookups.increment() },
            dnsLookupFailure: { dnsFailures.increment() })
    }
}
