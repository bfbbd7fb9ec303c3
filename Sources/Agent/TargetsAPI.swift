import AgentConfig
import Foundation
import Scraper
import WAL
import Model

typealias WALLabel = Model.Label

/// `GET /api/v1/targets` in Prometheus's JSON shape.
enum TargetsAPI {
    struct Response: Encodable {
        var status = "success"
        var data: TargetsData
    }

    struct TargetsData: Encodable {
        var activeTargets: [ActiveTarget]
        var droppedTargets: [DroppedTarget]
    }

    struct ActiveTarget: Encodable {
        var discoveredLabels: [String: String]
        var labels: [String: String]
        var scrapePool: String
        var scrapeUrl: String
        var globalUrl: String
        var lastError: String
        var lastScrape: String
        var lastScrapeDuration: Double
        var health: String
        var scrapeInterval: String
        var scrapeTimeout: String
    }

    struct DroppedTarget: Encodable {
        var discoveredLabels: [String: String]
    }

    /// The response body for `query` (`state=active|dropped|any`, `scrapePool=NAME`).
    static func body(
        for status: [(target: Target, lastScrape: ScrapeReport?)], dropped: [(job: String, discoveredLabels: Labels)],
        query: [String: String]
    ) -> [UInt8] {
        let state = query["state"] ?? "any"
        let pool = query["scrapePool"]
        let active: [ActiveTarget] =
            state == "dropped"
            ? []
            : status.filter { pool == nil || $0.target.job == pool }.map { entry in
                let report = entry.lastScrape
                return ActiveTarget(
                    discoveredLabels: dictionary(entry.target.discoveredLabels.pairs),
                    labels: dictionary(entry.target.labels.pairs),
                    scrapePool: entry.target.job,
                    scrapeUrl: entry.target.url,
                    globalUrl: globalURL(entry.target.url),
                    lastError: report?.error ?? "",
                    lastScrape: report.map { rfc3339(milliseconds: $0.timestamp) } ?? "0001-01-01T00:00:00Z",
                    lastScrapeDuration: report?.duration.seconds ?? 0,
                    health: report == nil ? "unknown" : (report?.error == nil ? "up" : "down"),
                    scrapeInterval: PrometheusDuration.format(entry.target.interval),
                    scrapeTimeout: PrometheusDuration.format(entry.target.timeout))
            }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let droppedList: [DroppedTarget] =
            state == "active"
            ? []
            : dropped.filter { pool == nil || $0.job == pool }.map { DroppedTarget(discoveredLabels: dictionary($0.discoveredLabels.pairs)) }
        let response = Response(data: TargetsData(activeTargets: active, droppedTargets: droppedList))
        return Array((try? encoder.encode(response)) ?? Data())
    }

    private static func dictionary(_ labels: [WALLabel]) -> [String: String] {
        Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// The URL as another machine would reach it: a loopback host becomes this host's name.
    static func globalURL(_ url: String) -> String {
        guard var components = URLComponents(string: url), let host = components.host,
            ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host)
        else { return url }
        components.host = ProcessInfo.processInfo.hostName
        return components.string ?? url
    }

    static func rfc3339(milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
