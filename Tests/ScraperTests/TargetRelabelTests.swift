import Discovery
import Model
import AgentConfig
import Relabel
import Testing
import WAL

@testable import Scraper

/// Prometheus's `PopulateLabels`: what discovery plus `relabel_configs` make of targets.
@Suite struct TargetRelabelTests {
    func config(_ relabel: [RelabelConfig] = [], params: [(name: String, values: [String])] = []) -> ScrapeConfig {
        var config = ScrapeConfig(jobName: "pods", scrapeInterval: .seconds(30), scrapeTimeout: .seconds(10))
        config.relabelConfigs = relabel
        config.params = params
        return config
    }

    func outcomes(_ config: ScrapeConfig, labels: Labels = .empty, targets: [String] = ["10.0.0.1:8080"]) -> [Target.Outcome] {
        Target.targets(for: config, groups: [TargetGroup(source: "test/0", addresses: targets, labels: labels)])
    }

    func active(_ outcomes: [Target.Outcome]) -> [Target] {
        outcomes.compactMap { if case .active(let target) = $0 { return target } else { return nil } }
    }

    @Test func discoveredLabelsGetTheConfigDefaultsAndMetaLabelsAreRemoved() throws {
        let target = try #require(active(outcomes(config(), labels: Labels(["__meta_pod": "web-1", "team": "a"]))).first)
        #expect(target.discoveredLabels == Labels([
            "__address__": "10.0.0.1:8080", "__meta_pod": "web-1", "__metrics_path__": "/metrics", "__scheme__": "http",
            "__scrape_interval__": "30s", "__scrape_timeout__": "10s", "job": "pods", "team": "a",
        ]))
        #expect(target.labels == Labels(["instance": "10.0.0.1:8080", "job": "pods", "team": "a"]))
        #expect(target.url == "http://10.0.0.1:8080/metrics")
    }

    @Test func relabelingSetsAddressSchemePathParamsIntervalAndInstance() throws {
        let relabel = [
            try RelabelConfig(sourceLabels: ["__meta_port"], regex: "(.+)", targetLabel: "__address__", replacement: "10.0.0.9:$1"),
            try RelabelConfig(targetLabel: "__scheme__", replacement: "https"),
            try RelabelConfig(targetLabel: "__metrics_path__", replacement: "/federate"),
            try RelabelConfig(targetLabel: "__param_other", replacement: "{a=\"b\"}"),
            try RelabelConfig(targetLabel: "__param_added", replacement: "z"),
            try RelabelConfig(targetLabel: "__scrape_interval__", replacement: "1m"),
            try RelabelConfig(sourceLabels: ["__meta_pod"], targetLabel: "instance"),
            try RelabelConfig(sourceLabels: ["__meta_pod"], targetLabel: "__tmp_pod"),
        ]
        let target = try #require(active(outcomes(config(relabel, params: [("match[]", ["x"]), ("other", ["y"])]), labels: Labels(["__meta_port": "9100", "__meta_pod": "web-1"]))).first)
        #expect(target.url == "https://10.0.0.9:9100/federate?added=z&match%5B%5D=x&other=%7Ba%3D%22b%22%7D")
        #expect(target.interval == .seconds(60) && target.timeout == .seconds(10))
        #expect(target.labels == Labels(["instance": "web-1", "job": "pods"]), "__tmp and __meta labels are gone")
    }

    @Test func droppedTargetsAndTargetsWithoutAnAddressAreReportedAsDropped() throws {
        let drop = [try RelabelConfig(sourceLabels: ["team"], regex: "b", action: .drop)]
        let results = outcomes(config(drop), labels: Labels(["team": "b"]))
        guard case .dropped(let dropped) = results.first else { Issue.record("not dropped"); return }
        let labels = dropped.discoveredLabels
        #expect(labels["team"] == "b" && labels["__address__"] == "10.0.0.1:8080")
        let noAddress = [try RelabelConfig(targetLabel: "__address__", replacement: "")]
        #expect(active(outcomes(config(noAddress))).isEmpty)
    }

    @Test func anAddressWithoutAPortGetsTheSchemesDefault() {
        #expect(active(outcomes(config(), targets: ["web"])).first?.labels["instance"] == "web:80")
        var https = config()
        https.scheme = "https"
        #expect(active(outcomes(https, targets: ["web"])).first?.url == "https://web:443/metrics")
        #expect(active(outcomes(config(), targets: ["[::1]"])).first?.address == "[::1]:80")
        #expect(active(outcomes(config(), targets: ["[::1]:9"])).first?.address == "[::1]:9")
    }
}
