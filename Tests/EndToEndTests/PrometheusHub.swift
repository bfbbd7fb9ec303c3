import Curl
import Foundation

/// Debian's Prometheus as a remote-write receiver on a free loopback port, data in a temp dir.
final class PrometheusHub: @unchecked Sendable {
    let port: Int
    let directory: URL
    private(set) var process: ChildProcess?

    init(directory: URL) throws {
        self.directory = directory
        port = try freePort()
        try "global:\n  scrape_interval: 1m\n".write(to: directory.appendingPathComponent("hub.yml"), atomically: true, encoding: .utf8)
    }

    var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }

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
            (try? HTTPConnection().perform(HTTPRequest(url: "http://127.0.0.1:\(port)/-/ready", timeout: .seconds(2))).status) == 200
        }
        guard ready else { throw HubError("prometheus did not become ready:\n\(process?.log ?? "")") }
    }

    func stop() async {
        await process?.stop()
    }

    /// The `data.result` array of an instant query.
    func query(_ promql: String) throws -> [[String: Any]] {
        var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: promql)]
        let response = try HTTPConnection().perform(HTTPRequest(url: components.url!.absoluteString, timeout: .seconds(10)))
        guard response.status == 200,
            let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else {
            throw HubError("query \(promql) failed: HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return result
    }

    /// The values of an instant vector query's results, by their series' labels.
    func vector(_ promql: String) throws -> [(labels: [String: String], value: Double)] {
        try query(promql).map { entry in
            let labels = entry["metric"] as? [String: String] ?? [:]
            let pair = entry["value"] as? [Any] ?? []
            return (labels, Double(pair.last as? String ?? "") ?? .nan)
        }
    }

    /// Every raw sample of a range-vector selector like `metric[10m]`, per series.
    func samples(_ selector: String) throws -> [(labels: [String: String], values: [(time: Double, value: Double)])] {
        try query(selector).map { entry in
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
