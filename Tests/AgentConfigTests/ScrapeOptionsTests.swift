import AgentConfig
import Foundation
import Testing

@Suite struct ScrapeOptionsTests {
    func load() throws -> Configuration {
        let path = try #require(Bundle.module.path(forResource: "scrape-options", ofType: "yaml", inDirectory: "Fixtures"))
        return try ConfigLoader.load(file: path)
    }

    @Test func scrapeOptionsAndHTTPClientConfigAreRead() throws {
        let config = try load()
        #expect(config.global.limits.bodySizeLimit == 10 << 20)
        let federate = config.scrapeConfigs[0]
        #expect(federate.honorLabels && !federate.honorTimestamps && federate.trackTimestampsStaleness && !federate.enableCompression)
        #expect(federate.params.map(\.name) == ["match[]"])
        #expect(federate.params.first?.values == [#"{job="node"}"#, #"{__name__=~"job:.*"}"#])
        #expect(federate.limits.sampleLimit == 100, "the job's own limit wins")
        #expect(federate.limits.bodySizeLimit == 10 << 20, "inherited from global")
        #expect(federate.limits.labelLimit == 30 && federate.limits.labelNameLengthLimit == 100 && federate.limits.labelValueLengthLimit == 200)
        let client = federate.httpClient
        #expect(client.tls.caFile == "/etc/ca.pem" && client.tls.certFile == "/etc/client.pem" && client.tls.keyFile == "/etc/client-key.pem")
        #expect(client.tls.serverName == "hub.internal" && client.tls.minVersion == "TLS12" && !client.tls.insecureSkipVerify)
        #expect(client.basicAuth == BasicAuth(username: "agent", password: .file("/run/secrets/password")))
        #expect(client.proxyURL == "http://proxy.internal:3128" && !client.followRedirects)

        let kubelet = config.scrapeConfigs[1]
        #expect(kubelet.httpClient.authorization == Authorization(type: "Bearer", credentials: .file("/var/run/secrets/kubernetes.io/serviceaccount/token")))
        #expect(kubelet.limits.sampleLimit == 5000 && kubelet.enableCompression && kubelet.honorTimestamps && kubelet.httpClient.followRedirects)
        #expect(config.scrapeConfigs[2].httpClient.authorization == Authorization(type: "Token", credentials: .inline("s3cret")))
    }

    @Test(arguments: [
        ("body_size_limit: 10 MB", "invalid size"),
        ("sample_limit: -1", "must not be negative"),
        ("params: [a]", "expected a mapping"),
        ("tls_config: {min_version: TLS14}", "unknown TLS version"),
        ("tls_config: {cert_file: a.pem}", "needs a key"),
        ("basic_auth: {username: a, password: b, password_file: c}", "at most one of password and password_file"),
        ("authorization: {credentials: a}\n    bearer_token: b", "at most one of authorization"),
        ("basic_auth: {username: a}\n    bearer_token_file: b", "at most one of basic_auth"),
        ("proxy_url: not-a-url", "invalid proxy URL"),
        ("tls_config: {ca: inline-pem, ca_file: ca.pem}", "at most one of ca and ca_file"),
    ])
    func invalidScrapeOptionsAreErrors(option: String, message: String) {
        expectRejected("scrape_configs:\n  - job_name: a\n    \(option)\n", message: message)
    }

    @Test(arguments: [("0", 0), ("512", 512), ("100KB", 102_400), ("10MB", 10_485_760), ("1GiB", 1_073_741_824), ("3B", 3)])
    func byteSizes(text: String, bytes: Int) {
        #expect(ByteSize.parse(text) == bytes)
    }
}

/// Prometheus 3's native-histogram keys: what the agent does anyway loads, what it cannot do is
/// an error naming the line.
@Suite struct HistogramKeysTests {
    @Test(arguments: ["global", "job"])
    func valuesTheAgentHonoursLoad(_ place: String) throws {
        let settings = "scrape_native_histograms: false\n    convert_classic_histograms_to_nhcb: false\n    always_scrape_classic_histograms: true\n    extra_scrape_metrics: false"
        let yaml = place == "global"
            ? "global:\n    \(settings)\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"a:1\"]}]\n"
            : "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"a:1\"]}]\n    native_histogram_bucket_limit: 160\n    native_histogram_min_bucket_factor: 1.1\n    \(settings)\n"
        let config = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    @Test(arguments: [
        ("scrape_native_histograms", "protobuf exposition format"),
        ("convert_classic_histograms_to_nhcb", "does not make native histograms"),
        ("extra_scrape_metrics", "scrape_timeout_seconds"),
    ])
    func askingForWhatTheAgentCannotDoIsAnError(key: String, reason: String) {
        let yaml = "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"a:1\"]}]\n    \(key): true\n"
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
            Issue.record("accepted \(key): true")
        } catch {
            let found = error.errors.first { $0.key == "scrape_configs[0].\(key)" }
            #expect(found?.line == 4 && found?.message.hasPrefix("not supported") == true && found?.message.contains(reason) == true, "\(error)")
        }
    }
}
