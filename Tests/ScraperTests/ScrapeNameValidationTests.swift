import AgentConfig
import Exposition
import Model
import Relabel
import Testing

@testable import Scraper
@testable import WAL

/// `metric_name_validation_scheme` at scrape time: each new series' final labels (target labels
/// and metric relabeling applied) are checked as Prometheus 3's `labels.IsValid(scheme)`; one
/// invalid series fails the whole scrape.
@Suite struct ScrapeNameValidationTests {
    func loop(_ validation: NameValidationScheme, relabel: [RelabelConfig] = [], labels: Labels = .empty) -> ScrapeAppenderTests.Loop {
        var config = ScrapeConfig(jobName: "otel", scrapeInterval: .seconds(15), scrapeTimeout: .seconds(10))
        config.nameSchemes = MetricNameSchemes(validation: validation)
        config.metricRelabelConfigs = relabel
        config.staticConfigs = [StaticConfig(targets: ["h:1"], labels: labels)]
        return ScrapeAppenderTests.Loop(Target.targets(for: config)[0])
    }

    static let body = "plain 1\n{\"http.server.duration\",\"http.method\"=\"GET\"} 2\n"

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func utf8ValidationKeepsUTF8Names(format: ExpositionFormat) throws {
        var loop = loop(.utf8)
        let (batch, counts, _) = try loop.scrape(Self.body + (format == .openMetrics ? "# EOF\n" : ""), format: format)
        #expect(counts.appended == 2)
        #expect(batch.newSeries[1] == Labels(["__name__": "http.server.duration", "http.method": "GET", "instance": "h:1", "job": "otel"]))
    }

    @Test func legacyValidationFailsTheScrapeOnTheFirstUTF8Name() throws {
        var loop = loop(.legacy)
        #expect(throws: ScrapeFailure.self) { try loop.scrape(Self.body) }
        do {
            _ = try loop.scrape(Self.body)
        } catch {
            #expect("\(error)".hasPrefix("invalid metric name or label names: "), "\(error)")
        }
        // Legacy names alone pass, and a cached series is not checked again.
        _ = try loop.scrape("plain 1\n")
        #expect(try loop.scrape("plain 2\n").1.appended == 1)
    }

    @Test func theCheckComesAfterMetricRelabeling() throws {
        // Renaming the UTF-8 names to legacy ones lets a legacy job keep the series.
        let relabel = [
            try RelabelConfig(sourceLabels: ["__name__"], regex: "http\\.server\\.duration", targetLabel: "__name__",
                              replacement: "http_server_duration", nameValidation: .legacy),
            try RelabelConfig(regex: "http\\.(.+)", replacement: "http_$1", action: .labelmap, nameValidation: .legacy),
            try RelabelConfig(regex: "http\\..+", action: .labeldrop, nameValidation: .legacy),
        ]
        var loop = loop(.legacy, relabel: relabel)
        let (batch, _, _) = try loop.scrape(Self.body)
        #expect(batch.newSeries[1] == Labels(["__name__": "http_server_duration", "http_method": "GET", "instance": "h:1", "job": "otel"]))
    }

    @Test func aTargetLabelInvalidUnderLegacyFailsEveryScrape() throws {
        // Static labels load as UTF-8 names whatever the scheme (Prometheus 3), then fail here.
        var loop = loop(.legacy, labels: Labels(["service.name": "checkout"]))
        #expect(throws: ScrapeFailure.self) { try loop.scrape("plain 1\n") }
        var utf8 = self.loop(.utf8, labels: Labels(["service.name": "checkout"]))
        #expect(try utf8.scrape("plain 1\n").0.newSeries == [Labels(["__name__": "plain", "service.name": "checkout", "instance": "h:1", "job": "otel"])])
    }
}
