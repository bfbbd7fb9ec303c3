import Foundation
import Testing
@testable import WAL

@Suite struct SegmentInfoTests {
    let log = LogCapture()

    @Test func segmentInfoListsEverySegmentWithItsSizeAndTime() async throws {
        let dir = TempDir()
        let start = Date()
        let wal = try WriteAheadLog(directory: dir.path, segmentSize: 1024, logger: log.logger)
        for t in 0..<60 {
            var b = AppendBatch()
            for k in 0..<5 { b.append(labels: labels("m\(k)"), timestamp: Int64(t), value: 1) }
            _ = try await wal.commit(b)
        }
        let info = try wal.segmentInfo()
        #expect(info.map(\.number) == (try wal.segments()))
        #expect(info.count >= 4)
        for i in info { #expect(i.size == fileBytes(dir.segmentPath(i.number)).count) }
        #expect(info.last?.size == wal.head.offset)
        #expect(wal.sizeOnDisk == info.reduce(0) { $0 + $1.size })
        // Modification times: within this test's run, never decreasing with the number.
        #expect(info.allSatisfy { $0.modified >= start.addingTimeInterval(-2) && $0.modified <= Date().addingTimeInterval(2) })
        #expect(zip(info, info.dropFirst()).allSatisfy { $0.modified <= $1.modified })

        try wal.removeSegments(before: info[3].number)
        let after = try wal.segmentInfo()
        #expect(after.map(\.number) == info.dropFirst(3).map(\.number))
        #expect(wal.sizeOnDisk == after.reduce(0) { $0 + $1.size })
        // Never the segment being written.
        try wal.removeSegments(before: Int.max)
        #expect(try wal.segmentInfo().map(\.number) == [wal.head.segment])
        try await wal.close()
    }
}
