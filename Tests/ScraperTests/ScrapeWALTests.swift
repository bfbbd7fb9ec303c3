#if canImport(Glibc)
import Model
import Glibc
#endif
import AgentConfig
import Foundation
import TestSupport
import Testing
import WAL

@testable import Scraper

/// What the scrape loop hands the WAL besides samples: metadata, releases of forgotten series,
/// and what it does when the WAL cannot write.
@Suite struct ScrapeWALTests {
    static let body = """
        # HELP a_total Requests served.
        # TYPE a_total counter
        a_total 1
        # HELP g Temperature.
        # TYPE g gauge
        g{x="1"} 2

        """

    @Test func metadataIsPassedOnOnlyWhenNewOrChangedAndReannouncedPeriodically() async throws {
        let body = Locked(Self.body)
        let h = try await LoopHarness { _ in text(body.value) }
        _ = try await h.scrape()
        let first = [
            MetricMetadata(family: "a_total", type: .counter, help: "Requests served."),
            MetricMetadata(family: "g", type: .gauge, help: "Temperature."),
        ]
        #expect(h.metadata == first)
        _ = try await h.scrape()
        _ = try await h.scrape()
        #expect(h.metadata == first, "unchanged: nothing more")
        #expect(h.metric(#"agent_scrape_metadata_appended_total{scrape_job="test"}"#) == 2)

        body.withLock { $0 = $0.replacingOccurrences(of: "Temperature.", with: "Temperature in °C.") }
        _ = try await h.scrape()
        #expect(h.metadata == first + [MetricMetadata(family: "g", type: .gauge, help: "Temperature in °C.")])
        // And back: changed again.
        body.withLock { $0 = $0.replacingOccurrences(of: "Temperature in °C.", with: "Temperature.") }
        _ = try await h.scrape()
        #expect(h.metadata.count == 4 && h.metadata.last == first[1])
        body.withLock { $0 = $0.replacingOccurrences(of: "Temperature.", with: "Temperature in °C.") }
        _ = try await h.scrape()
        #expect(h.metadata.count == 5)

        // A new family is passed on; a comment that is not HELP/TYPE changes nothing in the WAL.
        body.withLock { $0 += "# just a comment\n# TYPE u untyped\nu 3\n" }
        _ = try await h.scrape()
        #expect(h.metadata.last == MetricMetadata(family: "u", type: .unknown))
        #expect(h.metadata.count == 6)

        // Re-announcement due: everything again (the WAL writes nothing for unchanged entries,
        // but keeps them alive).
        let countBefore = h.metric(#"agent_scrape_metadata_appended_total{scrape_job="test"}"#) ?? 0
        h.state.metadata.reannounceInterval = .zero
        _ = try await h.scrape()
        #expect(h.metric(#"agent_scrape_metadata_appended_total{scrape_job="test"}"#) == countBefore + 3)
        #expect(h.metadata.count == 6)
        #expect(h.wal.metadataCount == 3)
    }

    @Test func seriesTheCacheForgetsAreReleasedAndTheWALDropsThem() async throws {
        let body = Locked("a 1\nb 2\n")
        let h = try await LoopHarness(segmentSize: 800) { _ in text(body.value) }
        _ = try await h.scrape()
        #expect(h.wal.seriesCount == 7)  // a, b and the five synthetic series
        body.withLock { $0 = "a 1\n" }
        var staleness = 0
        for _ in 0..<30 {
            let samples = try await h.scrape()
            if isStale(samples[h.series("b")]?.value) { staleness += 1 }
        }
        #expect(staleness == 1)
        #expect(h.state.cache.count == 1, "the cache forgot b")
        #expect(try h.wal.segments().count > 3)
        #expect(h.wal.seriesCount == 6, "the WAL forgot b at a segment start after its release")
        let head = try readHead(h.wal)
        #expect(!head.contains(h.series("b")))
        #expect(head.contains(h.series("a")))

        // b comes back: new series, new ref, stored as usual.
        body.withLock { $0 = "a 1\nb 5\n" }
        let back = try await h.scrape()
        #expect(back[h.series("b")]?.value == 5)
        #expect(h.wal.seriesCount == 7)
    }

    @Test func aRemovedTargetReleasesAllItsSeries() async throws {
        let h = try await LoopHarness(segmentSize: 600) { _ in text("a 1\nb 2\n") }
        _ = try await h.scrape()
        #expect(h.wal.seriesCount == 7)
        await h.loop.markEverythingStale(state: &h.state)
        let markers = try h.readNewRecords()
        #expect(markers.count == 7 && markers.values.allSatisfy { isStale($0.value) })
        // Another appender keeps writing; at the next segment start the target's series are gone.
        var filler = AppendBatch()
        filler.append(labels: Labels([Label("__name__", "filler")]), timestamp: 1, value: 1)
        let ref = try await h.wal.commit(filler)[0]
        let segment = h.wal.head.segment
        var t: Int64 = 2
        while h.wal.head.segment == segment {
            var b = AppendBatch()
            b.append(ref: ref, timestamp: t, value: 1)
            _ = try await h.wal.commit(b)
            t += 1
        }
        #expect(h.wal.seriesCount == 1)
    }

    @Test(.enabled(if: TinyTmpfs.available, "needs the right to mount a tmpfs"))
    func aFullDiskDropsSamplesCountsThemAndScrapingRecovers() async throws {
        guard let fs = TinyTmpfs(kilobytes: 256) else { Issue.record("cannot mount"); return }
        let body = Locked("a 1\n")
        let h = try await LoopHarness(walDirectory: fs.path + "/wal") { _ in text(body.value) }
        _ = try await h.scrape()
        let filler = fs.fill()
        // New series while the disk is full: nothing stored, no refs kept, samples counted.
        body.withLock { $0 = "a 1\n" + (0..<300).map { "new_series_with_a_long_name_\($0) \($0)\n" }.joined() }
        let failed = try await h.scrape()
        #expect(failed.isEmpty)
        #expect(h.metric(#"agent_wal_samples_dropped_total{scrape_job="test",reason="write_failed"}"#) == 306)
        #expect(h.metric(#"agent_scrape_append_failures_total{scrape_job="test"}"#) == 1)
        #expect(h.state.walFailing)
        #expect(h.state.cache.count == 1, "no entries from the failed commit")
        _ = try await h.scrape()
        #expect(h.metric(#"agent_wal_samples_dropped_total{scrape_job="test",reason="write_failed"}"#) == 612)

        try FileManager.default.removeItem(atPath: filler)
        let recovered = try await h.scrape()
        #expect(!h.state.walFailing)
        #expect(recovered[h.series("new_series_with_a_long_name_299")]?.value == 299)
        #expect(recovered[h.series("scrape_series_added")]?.value == 300)
        #expect(h.state.cache.count == 301)
        let next = try await h.scrape()
        #expect(next[h.series("new_series_with_a_long_name_7")]?.value == 7)
        try await h.wal.close()
        _ = fs.path
    }

    /// The series (as text) listed in the head of the WAL's current segment.
    private func readHead(_ wal: WriteAheadLog) throws -> Set<String> {
        var reader = try WALReader(directory: wal.directory, from: WALPosition(segment: wal.head.segment, offset: 0))
        var out = Set<String>()
        while let r = try reader.next() {
            if case .series(let s) = r.record { out.formUnion(s.map(\.labels.description)) } else { break }
        }
        return out
    }
}

/// A real, tiny tmpfs (mounting needs root: skipped where it is not allowed).
struct TinyTmpfs: ~Copyable {
    let path: String

    static let available: Bool = {
        guard let fs = TinyTmpfs(kilobytes: 64) else { return false }
        _ = fs
        return true
    }()

    init?(kilobytes: Int) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scrape-tinyfs-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)) != nil,
            Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path])
        else { return nil }
        self.path = path
    }

    deinit {
        Self.run("/bin/umount", [path])
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Fills the filesystem with a file of zeros until ENOSPC; returns its path.
    func fill() -> String {
        let file = path + "/filler"
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        return file
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: executable) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }
}
