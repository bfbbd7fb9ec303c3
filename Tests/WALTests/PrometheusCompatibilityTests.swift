import Model
import Foundation
import Testing
@testable import WAL

/// A segment written by Prometheus itself (agent mode, snappy-compressed records, zero-padded last
/// page): our reader and our replay read it. See Fixtures/prometheus-agent-2.42/README.md.
@Suite struct PrometheusCompatibilityTests {
    let log = LogCapture()

    private func fixture() throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/prometheus-agent-2.42/00000000", withExtension: nil))
        return [UInt8](try Data(contentsOf: url))
    }

    @Test func readsASnappyCompressedSegmentWrittenByPrometheus() throws {
        let bytes = try fixture()
        let types = fragmentTypes(bytes)
        #expect(types.contains(WALSegment.FragmentType.full.rawValue | WALSegment.snappyFlag))
        let dir = TempDir()
        writeBytes(bytes, to: dir.segmentPath(0))
        writeBytes([], to: dir.segmentPath(1))  // segment 0 is complete: its padding is read as such
        var reader = try WALReader(directory: dir.path, from: WALPosition(segment: 0, offset: 0))
        var labelsByRef: [SeriesRef: Labels] = [:]
        var samples: [SampleRecord] = []
        while let r = try reader.next() {
            switch r.record {
            case .series(let s): for e in s { labelsByRef[e.ref] = e.labels }
            case .samples(let s): samples += s
            case .exemplars, .metadata: break
            }
        }
        #expect(reader.position == WALPosition(segment: 1, offset: 0))
        #expect(labelsByRef.count > 100)
        #expect(labelsByRef.values.allSatisfy { $0["job"] == "prometheus" && $0["instance"] == "127.0.0.1:19387" && !$0.metricName.isEmpty })
        #expect(samples.count > labelsByRef.count)
        #expect(samples.allSatisfy { labelsByRef[$0.ref] != nil })
        // `up` was 1 in every scrape, at increasing times.
        let upRef = try #require(labelsByRef.first { $0.value.metricName == "up" }?.key)
        let up = samples.filter { $0.ref == upRef }
        #expect(up.count >= 5)
        #expect(up.allSatisfy { $0.value == 1 })
        #expect(up.map(\.timestamp) == up.map(\.timestamp).sorted())
    }

    @Test func replaysASegmentWrittenByPrometheus() async throws {
        let bytes = try fixture()
        let dir = TempDir()
        writeBytes(bytes, to: dir.segmentPath(0))
        let wal = try WriteAheadLog(directory: dir.path, logger: log.logger)
        #expect(wal.openReport.corruptions == 0)
        #expect(wal.seriesCount > 100)
        #expect(fileBytes(dir.segmentPath(0)) == bytes, "nothing repaired")
        try await wal.close()
    }
}
