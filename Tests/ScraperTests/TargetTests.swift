import Model
import AgentConfig
import Testing
import WAL

@testable import Scraper

@Suite struct TargetTests {
    func target(honorLabels: Bool) -> Target {
        var config = ScrapeConfig(jobName: "node", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        config.honorLabels = honorLabels
        config.staticConfigs = [StaticConfig(targets: ["10.0.0.1:9100"], labels: Labels(["env": "prod"]))]
        return Target.targets(for: config)[0]
    }

    @Test func staticTargetsGetJobInstanceAndGroupLabels() {
        let target = target(honorLabels: false)
        #expect(target.url == "http://10.0.0.1:9100/metrics")
        #expect(target.labels == Labels(["env": "prod", "instance": "10.0.0.1:9100", "job": "node"]))
    }

    @Test func clashingExposedLabelsBecomeExportedWhenNotHonored() {
        let exposed = Labels(["__name__": "up_total", "job": "exposed-job", "exported_job": "taken", "mode": "idle"])
        let labels = target(honorLabels: false).seriesLabels(exposed: exposed)
        #expect(labels["job"] == "node")
        #expect(labels["exported_exported_job"] == "exposed-job", "prefixed again while exported_job is taken")
        #expect(labels["exported_job"] == "taken")
        #expect(labels["mode"] == "idle" && labels["instance"] == "10.0.0.1:9100" && labels["env"] == "prod")
    }

    @Test func exposedLabelsWinWhenHonored() {
        let exposed = Labels(["__name__": "up_total", "job": "exposed-job"])
        let labels = target(honorLabels: true).seriesLabels(exposed: exposed)
        #expect(labels["job"] == "exposed-job")
        #expect(labels["exported_job"] == nil)
        #expect(labels["instance"] == "10.0.0.1:9100")
    }

    @Test func exposedAndTargetLabelsWithoutClashAreMergedInNameOrder() {
        let exposed = Labels(["__name__": "m", "a": "1", "fs": "2", "zone": "3"])
        for honor in [false, true] {
            let labels = target(honorLabels: honor).seriesLabels(exposed: exposed)
            #expect(labels == Labels(exposed.pairs + target(honorLabels: honor).labels.pairs))
            #expect(labels.pairs.map(\.name) == ["__name__", "a", "env", "fs", "instance", "job", "zone"])
        }
    }

    @Test func offsetsAreStableAndWithinTheInterval() {
        let a = target(honorLabels: false)
        #expect(a.offset == a.offset)
        #expect(a.offset >= .zero && a.offset < a.interval)
    }
}
