import AgentConfig
import Testing

/// `http_sd_configs`, `dns_sd_configs`, and the `*_sd_configs` the agent does not implement.
@Suite struct ServiceDiscoveryConfigTests {
    static func scrape(_ yaml: String) throws -> ScrapeConfig {
        let config = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
        return try #require(config.scrapeConfigs.first)
    }

    @Test func httpSDReadsURLRefreshIntervalAndHTTPClientKeys() throws {
        let scrape = try Self.scrape("""
            scrape_configs:
              - job_name: j
                http_sd_configs:
                  - url: https://sd.example/targets
                  - url: http://sd.example:8080/t
                    refresh_interval: 15s
                    bearer_token: secret
                    tls_config:
                      insecure_skip_verify: true
            """)
        #expect(scrape.httpSDConfigs.count == 2)
        #expect(scrape.httpSDConfigs[0].url == "https://sd.example/targets")
        #expect(scrape.httpSDConfigs[0].refreshInterval == .seconds(60), "Prometheus's default")
        #expect(scrape.httpSDConfigs[0].httpClient == HTTPClientConfig())
        #expect(scrape.httpSDConfigs[1].refreshInterval == .seconds(15))
        #expect(scrape.httpSDConfigs[1].httpClient.authorization == Authorization(credentials: .inline("secret")))
        #expect(scrape.httpSDConfigs[1].httpClient.tls.insecureSkipVerify)
    }

    @Test(arguments: [
        ("refresh_interval: 1m", "URL is missing"),
        ("url: ftp://sd.example/t", "URL scheme must be 'http' or 'https'"),
        ("url: http:///t", "host is missing in URL"),
        ("url: http://sd.example/t\n        refresh_interval: 0s", "must be greater than 0"),
        ("url: http://sd.example/t\n        names: [a]", "unknown key \"names\""),
    ])
    func httpSDErrors(_ entry: String, _ message: String) {
        expectRejected("""
            scrape_configs:
              - job_name: j
                http_sd_configs:
                  - \(entry)
            """, message: message, fromLine: 4)
    }

    @Test func dnsSDReadsNamesTypePortAndRefreshInterval() throws {
        let scrape = try Self.scrape("""
            scrape_configs:
              - job_name: j
                dns_sd_configs:
                  - names: [_prometheus._tcp.example.com]
                  - names: [web.example.com, api]
                    type: aaaa
                    port: 9100
                    refresh_interval: 10s
            """)
        let srv = scrape.dnsSDConfigs[0]
        #expect(srv.names == ["_prometheus._tcp.example.com"] && srv.type == .srv && srv.port == 0)
        #expect(srv.refreshInterval == .seconds(30), "Prometheus's default")
        let aaaa = scrape.dnsSDConfigs[1]
        #expect(aaaa.names == ["web.example.com", "api"] && aaaa.type == .aaaa && aaaa.port == 9100)
        #expect(aaaa.refreshInterval == .seconds(10))
    }

    @Test(arguments: [
        ("names: []", "DNS-SD config must contain at least one SRV record name"),
        ("type: A", "DNS-SD config must contain at least one SRV record name"),
        ("names: [a]\n        type: A", "a port is required in DNS-SD configs for all record types except SRV"),
        ("names: [a]\n        type: MX", "a port is required"),
        ("names: [a]\n        type: TXT", "invalid DNS-SD records type TXT"),
        ("names: [a]\n        type: A\n        port: 70000", "out of range"),
        ("names: [a]\n        url: http://x", "unknown key \"url\""),
    ])
    func dnsSDErrors(_ entry: String, _ message: String) {
        expectRejected("""
            scrape_configs:
              - job_name: j
                dns_sd_configs:
                  - \(entry)
            """, message: message, fromLine: 4)
    }

    @Test(arguments: [
        "aws", "azure", "consul", "digitalocean", "docker", "dockerswarm", "ec2", "ecs", "elasticache", "eureka", "gce",
        "hetzner", "ionos", "kuma", "lightsail", "linode", "marathon", "msk", "nerve", "nomad", "oci", "openstack", "outscale",
        "ovhcloud", "puppetdb", "rds", "scaleway", "serverset", "stackit", "triton", "uyuni", "vultr",
    ])
    func everyOtherPrometheusSDIsAnErrorAtItsLine(_ mechanism: String) throws {
        do {
            _ = try ConfigLoader.parse(yaml: """
                scrape_configs:
                  - job_name: j
                    static_configs:
                      - targets: [a:1]
                    \(mechanism)_sd_configs:
                      - server: x
                """, file: "prometheus.yml")
            Issue.record("accepted \(mechanism)_sd_configs")
        } catch {
            #expect(error.errors.count == 1, "\(error)")
            let problem = try #require(error.errors.first)
            #expect(problem.file == "prometheus.yml" && problem.line == 5)
            #expect(problem.key == "scrape_configs[0].\(mechanism)_sd_configs")
            #expect(problem.message.hasPrefix("\(mechanism) service discovery is not supported"))
            #expect(problem.description.hasPrefix("prometheus.yml:5:"))
        }
    }
}
