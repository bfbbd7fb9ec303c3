import Model
import Foundation
import Logging
import Testing
import WAL
@testable import WALInspect

/// A storage directory (`wal/`, `remote/`) in the temporary folder, removed when the value goes.
final class TestStorage {
    let path: String
    var wal: String { path + "/wal" }
    var remote: String { path + "/remote" }

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("walinspect-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/wal", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func segmentPath(_ n: Int) -> String { wal + "/" + SegmentFile.name(n) }

    func storeProgress(_ name: String, _ progress: EndpointProgress) throws {
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true)
        try EndpointProgressFile(directory: remote, endpointName: name).store(progress, durable: false)
    }

    /// Runs an inspection and returns what it printed and reported.
    func inspect(_ options: WALInspector.Options) throws -> (lines: [String], problems: [String], report: WALInspector.Report) {
        var lines: [String] = []
        var problems: [String] = []
        let report = try WALInspector(storagePath: path).run(options, output: { lines.append($0) }, problem: { problems.append($0) })
        return (lines, problems, report)
    }

    func dump(
        _ format: OutputFormat = .text, match: [String] = [], from: Int64? = nil, to: Int64? = nil
    ) throws -> [String] {
        let selection = Selection(selectors: try match.map { try SeriesSelector(parsing: $0) }, from: from, to: to)
        let result = try inspect(.init(format: format, selection: selection))
        #expect(result.problems.isEmpty, "\(result.problems)")
        return result.lines
    }
}

let quietLogger = Logger(label: "walinspect-test") { _ in SwiftLogNoOpLogHandler() }

func labels(_ name: String, _ pairs: (String, String)...) -> Labels {
    Labels([Label("__name__", name)] + pairs.map { Label($0.0, $0.1) })
}

/// 2024-01-02T03:04:05.000Z.
let t0: Int64 = 1_704_164_645_000

/// Where the fixture WAL's commits went, for cursors in lag tests.
struct FixturePositions {
    /// The first record of each commit (its series record when it has new series, else its samples record).
    var commits: [WALPosition] = []
    /// Each commit's samples record.
    var samples: [WALPosition] = []
    var head: WALPosition = WALPosition(segment: 0, offset: 0)
}

/// Writes the fixture WAL every golden file is made from, with fixed labels, timestamps and values:
///
/// * segment 0: a `node` scrape at t0 (up, two CPU counters with an exemplar, a gauge, the CPU
///   family's metadata); a `prom` scrape at t0+0.5s with odd values (NaN, ±Inf, tiny, huge, -0,
///   an escaped label value); a `node` scrape at t0+15s by ref, where the gauge went stale;
/// * segment 1 (the log reopened): its series head, then a `node` scrape at t0+30s.
@discardableResult
func writeFixtureWAL(_ storage: TestStorage) async throws -> FixturePositions {
    var positions = FixturePositions()
    var wal = try WriteAheadLog(directory: storage.wal, logger: quietLogger)

    @discardableResult
    func commit(_ batch: AppendBatch) async throws -> [SeriesRef] {
        let before = wal.head
        let refs = try await wal.commit(batch)
        positions.commits.append(before)
        // A samples record follows the series record when the commit had new series.
        var reader = try WALReader(directory: storage.wal, from: before)
        while let (record, _) = try reader.next() {
            if case .samples = record { positions.samples.append(reader.lastRecordStart); break }
        }
        return refs
    }

    var batch = AppendBatch()
    let node = [("instance", "a:9100"), ("job", "node")]
    func nodeLabels(_ name: String, _ extra: (String, String)...) -> Labels {
        Labels([Label("__name__", name)] + (node + extra).map { Label($0.0, $0.1) })
    }
    batch.append(labels: nodeLabels("up"), timestamp: t0, value: 1)
    let idle = batch.append(labels: nodeLabels("node_cpu_seconds_total", ("cpu", "0"), ("mode", "idle")), timestamp: t0, value: 12345.5)
    batch.append(labels: nodeLabels("node_cpu_seconds_total", ("cpu", "0"), ("mode", "user")), timestamp: t0, value: 42.25)
    batch.append(labels: nodeLabels("node_load1"), timestamp: t0, value: 0.75)
    batch.appendExemplar(newSeries: idle, timestamp: t0 - 250, value: 12345, labels: Labels(["trace_id": "4bf92f3577b34da6"]))
    batch.appendMetadata(MetricMetadata(family: "node_cpu_seconds", type: .counter, help: "Seconds the CPUs spent in each mode.", unit: "seconds"))
    let nodeRefs = try await commit(batch)

    batch.removeAll()
    let prom = [("instance", "b:9090"), ("job", "prom")]
    func promLabels(_ name: String, _ extra: (String, String)...) -> Labels {
        Labels([Label("__name__", name)] + (prom + extra).map { Label($0.0, $0.1) })
    }
    batch.append(labels: promLabels("up"), timestamp: t0 + 500, value: 1)
    let odd: [(String, Double)] = [
        ("nan", .nan), ("pos_inf", .infinity), ("neg_inf", -.infinity), ("tiny", 1e-7), ("small", 0.000001),
        ("huge", 1.5e21), ("big", 123456789012345680), ("neg_zero", -0.0), ("third", 1.0 / 3),
    ]
    for (kind, value) in odd {
        batch.append(labels: promLabels("odd_value", ("kind", kind)), timestamp: t0 + 500, value: value)
    }
    batch.append(labels: promLabels("build_info", ("path", "C:\\agent \"x\"\nnext")), timestamp: t0 + 500, value: 1)
    try await commit(batch)

    batch.removeAll()
    batch.append(ref: nodeRefs[0], timestamp: t0 + 15_000, value: 1)
    batch.append(ref: nodeRefs[1], timestamp: t0 + 15_000, value: 12360.75)
    batch.append(ref: nodeRefs[2], timestamp: t0 + 15_000, value: 43)
    batch.append(ref: nodeRefs[3], timestamp: t0 + 15_000, value: Double(bitPattern: PrometheusFormat.staleMarkerBits))
    batch.appendExemplar(ref: nodeRefs[1], timestamp: t0 + 14_900, value: 12360, labels: Labels(["trace_id": "00f067aa0ba902b7"]))
    try await commit(batch)
    try await wal.close()

    wal = try WriteAheadLog(directory: storage.wal, logger: quietLogger)
    batch.removeAll()
    batch.append(ref: nodeRefs[0], timestamp: t0 + 30_000, value: 1)
    batch.append(ref: nodeRefs[1], timestamp: t0 + 30_000, value: 12375)
    batch.append(ref: nodeRefs[2], timestamp: t0 + 30_000, value: 43.5)
    try await commit(batch)
    positions.head = wal.head
    try await wal.close()
    return positions
}

/// Compares `lines` with the golden file `Fixtures/NAME`. With `WALINSPECT_UPDATE_GOLDEN=1`,
/// writes the file instead (and fails, so that an update is never mistaken for a pass).
func expectGolden(_ lines: [String], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let text = lines.map { $0 + "\n" }.joined()
    if ProcessInfo.processInfo.environment["WALINSPECT_UPDATE_GOLDEN"] == "1" {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        Issue.record("wrote golden file \(name); check it by hand and run again without WALINSPECT_UPDATE_GOLDEN", sourceLocation: sourceLocation)
        return
    }
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "missing golden file \(name)", sourceLocation: sourceLocation)
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(text == expected, "output differs from Fixtures/\(name):\n\(text)", sourceLocation: sourceLocation)
}
