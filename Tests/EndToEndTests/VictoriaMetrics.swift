import Curl
import Foundation

/// Debian's VictoriaMetrics (single node) as a remote-write receiver on a free loopback port,
/// data in a temp dir. `stop()` and `start()` again keep the port and the data, as a receiver
/// that restarts would.
final class VictoriaMetrics: @unchecked Sendable {
    static let binary = "/usr/bin/victoria-metrics"

    let port: Int
    let directory: URL
    private(set) var process: ChildProcess?
    private var starts = 0

    init(directory: URL) throws {
        self.directory = directory
        port = try freePort()
    }

    var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }
    var address: String { "127.0.0.1:\(port)" }
    var dataPath: String { "\(directory.path)/vm-data" }

    /// Starts (or restarts, on the same data and port) and waits until `/health` answers.
    func start() async throws {
        starts += 1
        process = try ChildProcess(
            name: "victoria-metrics-\(starts)",
            executable: Self.binary,
            arguments: [
                "-httpListenAddr=127.0.0.1:\(port)",
                "-storageDataPath=\(dataPath)",
                "-retentionPeriod=100y",
                // Fresh samples are visible to queries at once (default: 30 s later).
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-loggerLevel=WARN",
            ],
            logDirectory: directory)
        let ready = await eventually(timeout: .seconds(30)) {
            await TestClient.status("http://127.0.0.1:\(port)/health") == 200
        }
        guard ready else { throw HubError("victoria-metrics did not become ready:\n\(process?.log ?? "")") }
    }

    /// SIGTERM (VictoriaMetrics flushes what it buffers) and wait.
    func stop() async {
        await process?.stop()
    }

    var log: String { process?.log ?? "" }

    /// Makes samples received so far searchable (they sit in in-memory buffers for about a
    /// second otherwise). Best effort.
    func flush() async {
        _ = try? await TestClient.get("http://127.0.0.1:\(port)/internal/force_flush", timeout: .seconds(10))
    }

    /// Every raw sample of the series matching `selector`, from `/api/v1/export` (JSON lines),
    /// each series' samples in timestamp order (duplicates kept, as stored).
    func export(_ selector: String) async throws -> [(labels: [String: String], samples: [(time: Double, value: Double)])] {
        await flush()
        var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/export")!
        components.queryItems = [URLQueryItem(name: "match[]", value: selector), URLQueryItem(name: "start", value: "0")]
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let response = try await TestClient.get(components.url!.absoluteString, timeout: .seconds(30))
        guard response.status == 200 else {
            throw HubError("export \(selector): HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        var result: [(labels: [String: String], samples: [(time: Double, value: Double)])] = []
        for line in response.body.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw HubError("export \(selector): not a JSON object: \(String(decoding: line, as: UTF8.self))")
            }
            let labels = object["metric"] as? [String: String] ?? [:]
            let values = (object["values"] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue ?? .nan }
            let timestamps = (object["timestamps"] as? [Any] ?? []).map { (($0 as? NSNumber)?.doubleValue ?? 0) / 1000 }
            let samples = zip(timestamps, values).map { (time: $0, value: $1) }.sorted { $0.time < $1.time }
            result.append((labels, samples))
        }
        return result
    }
}
