import Curl
import Foundation

/// Debian's Prometheus as a remote-write receiver on a free loopback port, data in a temp dir.
/// Given `scrapeConfigs`, it also scrapes targets itself (normal server mode), so the same
/// Prometheus can be the reference and the receiver, or the source of a federation.
final class PrometheusHub: @unchecked Sendable {
    let port: Int
    let directory: URL
    private(set) var process: ChildProcess?

    /// - Parameters:
    ///   - scrapeInterval: `global.scrape_interval` (and `scrape_timeout`, when at most 10s).
    ///   - scrapeConfigs: YAML appended to the config as is, e.g. a whole `scrape_configs:` section.
    init(directory: URL, scrapeInterval: String = "1m", scrapeConfigs: String = "") throws {
        self.directory = directory
        port = try freePort()
        var config = "global:\n  scrape_interval: \(scrapeInterval)\n"
        if !scrapeConfigs.isEmpty {
            if let seconds = Int(scrapeInterval.dropLast()), scrapeInterval.hasSuffix("s"), seconds <= 10 {
                config += "  scrape_timeout: \(scrapeInterval)\n"
            }
            config += scrapeConfigs.hasSuffix("\n") ? scrapeConfigs : scrapeConfigs + "\n"
        }
        try config.write(to: directory.appendingPathComponent("hub.yml"), atomically: true, encoding: .utf8)
    }

    var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }
    var address: String { "127.0.0.1:\(port)" }

    /// Starts (or restarts, on the same data) and waits until it is ready.
    func start() async throws {
        process = try ChildProcess(
            name: "prometheus-\(Int(Date().timeIntervalSince1970 * 1000))",
            executable: "/usr/bin/prometheus",
            arguments: [
                "--config.file=\(directory.path)/hub.yml",
                "--storage.tsdb.path=\(directory.path)/hub-data",
                "--web.listen-address=127.0.0.1:\(port)",
                "--web.enable-remote-write-receiver",
            ],
            logDirectory: directory)
        let ready = await eventually(timeout: .seconds(30)) {
            await TestClient.status("http://127.0.0.1:\(port)/-/ready") == 200
        }
        guard ready else { throw HubError("prometheus did not become ready:\n\(process?.log ?? "")") }
    }

    func stop() async {
        await process?.stop()
    }

    /// The `data.result` array of an instant query, evaluated now or at `time` (Unix seconds).
    func query(_ promql: String, time: Double? = nil) async throws -> [[String: Any]] {
        var items = [URLQueryItem(name: "query", value: promql)]
        if let time { items.append(URLQueryItem(name: "time", value: String(format: "%.3f", time))) }
        guard let result = try await api("query", items)["result"] as? [[String: Any]] else {
            throw HubError("query \(promql): no result array")
        }
        return result
    }

    /// The values of an instant vector query as the API renders them ("NaN", "+Inf", "-0", …),
    /// by their series' labels (`__name__` included).
    func vectorStrings(_ promql: String, time: Double? = nil) async throws -> [(labels: [String: String], value: String)] {
        try await query(promql, time: time).map { entry in
            let labels = entry["metric"] as? [String: String] ?? [:]
            let pair = entry["value"] as? [Any] ?? []
            return (labels, pair.last as? String ?? "")
        }
    }

    /// The label sets (`__name__` included) of every series matching `match` with a sample
    /// between `start` and `end` (Unix seconds), from `/api/v1/series`.
    func series(match: String, start: Double? = nil, end: Double? = nil) async throws -> [[String: String]] {
        var items = [URLQueryItem(name: "match[]", value: match)]
        if let start { items.append(URLQueryItem(name: "start", value: String(format: "%.3f", start))) }
        if let end { items.append(URLQueryItem(name: "end", value: String(format: "%.3f", end))) }
        guard let result = try await api("series", items)["data"] as? [[String: String]] else {
            throw HubError("series \(match): no data array")
        }
        return result
    }

    /// GET `/api/v1/NAME` with `items`; the response's `data` object, or for `series`, the
    /// whole response (whose `data` is an array).
    private func api(_ name: String, _ items: [URLQueryItem]) async throws -> [String: Any] {
        var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/\(name)")!
        components.queryItems = items
        // URLComponents leaves `+` alone, which a Go server would read as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let response = try await TestClient.get(components.url!.absoluteString, timeout: .seconds(10))
        guard response.status == 200,
            let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        else {
            throw HubError("\(name) \(items) failed: HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        if name == "series" { return json }
        guard let data = json["data"] as? [String: Any] else {
            throw HubError("\(name) \(items): no data in \(String(decoding: response.body, as: UTF8.self))")
        }
        return data
    }

    /// The values of an instant vector query's results, by their series' labels.
    func vector(_ promql: String) async throws -> [(labels: [String: String], value: Double)] {
        try await query(promql).map { entry in
            let labels = entry["metric"] as? [String: String] ?? [:]
            let pair = entry["value"] as? [Any] ?? []
            return (labels, Double(pair.last as? String ?? "") ?? .nan)
        }
    }

    /// Every raw sample of a range-vector selector like `metric[10m]`, per series.
    func samples(_ selector: String) async throws -> [(labels: [String: String], values: [(time: Double, value: Double)])] {
        try await query(selector).map { entry in
            let labels = entry["metric"] as? [String: String] ?? [:]
            let values = (entry["values"] as? [[Any]] ?? []).map { pair in
                ((pair.first as? Double) ?? 0, Double(pair.last as? String ?? "") ?? .nan)
            }
            return (labels, values)
        }
    }
}

struct HubError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
