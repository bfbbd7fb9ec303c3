import Foundation
import Model
import WAL

/// A storage directory that cannot be inspected: it or its `wal` folder is missing or unreadable.
public struct InspectionError: Error, Equatable, CustomStringConvertible {
    /// The whole message, naming the path.
    public let message: String

    /// An error with this message.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// Reads an agent's storage directory (`STORAGE/wal`, `STORAGE/remote/*.json`) without changing
/// anything in it: the engine of `agent wal dump`.
///
/// Only ``WALReader`` and ``EndpointProgressFile/loadAll(directory:)`` touch the files, both
/// read-only, so an inspection may run while the agent writes. It reads the WAL as it was when
/// the inspection started (see ``WALScan``).
public struct WALInspector: Sendable {
    /// What to print.
    public struct Options: Sendable {
        /// Text lines or JSON objects.
        public var format: OutputFormat
        /// `--match`, `--from`, `--to`.
        public var selection: Selection
        /// Print each selected record entry (the default when neither `stats` nor `lag` is set).
        public var records: Bool
        /// Print ``WALStats`` after the records.
        public var stats: Bool
        /// Print an ``EndpointLag`` per progress file.
        public var lag: Bool

        /// By default: every record, as text.
        public init(format: OutputFormat = .text, selection: Selection = .all, records: Bool = true, stats: Bool = false, lag: Bool = false) {
            self.format = format
            self.selection = selection
            self.records = records
            self.stats = stats
            self.lag = lag
        }
    }

    /// What an inspection found besides what it printed.
    public struct Report: Sendable {
        /// The figures `--stats` prints (computed whether or not they were printed).
        public var stats: WALStats
        /// One per progress file, by name; empty unless ``Options/lag`` was set.
        public var lag: [EndpointLag]
        /// Corrupt records met (each ended the reading of its segment).
        public var corruptions: [WALCorruptionError]
        /// Progress files (`--lag`) that could not be read or decoded, by path.
        public var unreadableProgressFiles: [String] = []

        /// True when nothing was corrupt or unreadable.
        public var isClean: Bool { corruptions.isEmpty && unreadableProgressFiles.isEmpty }
    }

    /// The agent's `--storage.path`.
    public let storagePath: String

    /// `STORAGE/wal`.
    public var walDirectory: String { storagePath + "/wal" }
    /// `STORAGE/remote`, where the endpoints' progress files are.
    public var remoteDirectory: String { storagePath + "/remote" }

    /// - Throws: ``InspectionError`` naming the path when `storagePath` or its `wal` folder does
    ///   not exist or is not a directory.
    public init(storagePath: String) throws(InspectionError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: storagePath, isDirectory: &isDirectory) else {
            throw InspectionError("storage directory \(storagePath) does not exist")
        }
        guard isDirectory.boolValue else { throw InspectionError("storage path \(storagePath) is not a directory") }
        let wal = storagePath + "/wal"
        guard FileManager.default.fileExists(atPath: wal, isDirectory: &isDirectory) else {
            throw InspectionError("no WAL in \(storagePath): \(wal) does not exist")
        }
        guard isDirectory.boolValue else { throw InspectionError("\(wal) is not a directory") }
        self.storagePath = storagePath
    }

    /// Reads the WAL once, calling `output` with each line to print (records, then stats, then
    /// lag, as `options` ask) and `problem` with a message for each corrupt record (naming the
    /// segment and offset; the rest of that segment is skipped and reading goes on with the next)
    /// and, with `lag`, for each progress file that cannot be read.
    ///
    /// - Throws: I/O errors that stop the reading (a segment that cannot be opened, the WAL
    ///   directory that cannot be listed).
    public func run(_ options: Options, output: (String) -> Void, problem: (String) -> Void) throws -> Report {
        let segments: [SegmentFile]
        do {
            segments = try SegmentFile.list(walDirectory)
        } catch {
            throw InspectionError("cannot list \(walDirectory): \(error.localizedDescription)")
        }
        let selection = options.selection
        var printer = RecordPrinter(format: options.format)
        var table = SeriesTable(selection: selection)
        var stats = WALStats()
        stats.segments = segments.map(\.number)
        stats.bytes = segments.reduce(0) { $0 + $1.size }
        stats.filtered = selection.isFiltering
        var selectedRefs = Set<SeriesRef>()
        var lags: [EndpointLag] = []
        var unreadableProgressFiles: [String] = []
        if options.lag {
            let loaded = EndpointProgressFile.loadAll(directory: remoteDirectory)
            lags = loaded.map { EndpointLag(name: $0.key, progress: $0.value) }.sorted { $0.name < $1.name }
            // loadAll leaves out files it cannot read; say which, and why.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: remoteDirectory)) ?? []
            for name in names.sorted() where name.hasSuffix(".json") && loaded[String(name.dropLast(5))] == nil {
                let path = remoteDirectory + "/" + name
                let reason: String
                do {
                    let data = try Data(contentsOf: URL(fileURLWithPath: path))
                    _ = try JSONDecoder().decode(EndpointProgress.self, from: data)
                    reason = "unknown error"
                } catch {
                    reason = "\(error)"
                }
                unreadableProgressFiles.append(path)
                problem("cannot read progress file \(path): \(reason)")
            }
        }

        let scan = WALScan(directory: walDirectory, segments: segments)
        let outcome = try scan.run(
            record: { position, record in
                switch record {
                case .series(let entries):
                    for series in entries where table.add(series) {
                        selectedRefs.insert(series.ref)
                        if options.records { output(printer.series(series, at: position)) }
                    }
                case .samples(let samples):
                    stats.allSamples += samples.count
                    for (index, sample) in samples.enumerated()
                    where table.selects(sample.ref) && selection.selects(timestamp: sample.timestamp) {
                        stats.samples += 1
                        if PrometheusFormat.isStaleMarker(sample.value) { stats.staleMarkers += 1 }
                        stats.oldestSample = min(stats.oldestSample ?? sample.timestamp, sample.timestamp)
                        stats.newestSample = max(stats.newestSample ?? sample.timestamp, sample.timestamp)
                        if !lags.isEmpty {
                            let place = Cursor(position: position, samplesDone: index)
                            for i in lags.indices { lags[i].observe(ref: sample.ref, timestamp: sample.timestamp, at: place) }
                        }
                        if options.records {
                            let series = table.rendered(sample.ref, printer.render)
                            output(printer.sample(sample, index: index, renderedLabels: series, at: position))
                        }
                    }
                case .exemplars(let exemplars):
                    for (index, exemplar) in exemplars.enumerated()
                    where table.selects(exemplar.ref) && selection.selects(timestamp: exemplar.timestamp) {
                        stats.exemplars += 1
                        if options.records {
                            let series = table.rendered(exemplar.ref, printer.render)
                            output(printer.exemplar(exemplar, index: index, renderedLabels: series, at: position))
                        }
                    }
                case .metadata(let entries):
                    for entry in entries where selection.selects(family: entry.family) {
                        stats.metadata += 1
                        if options.records { output(printer.metadata(entry, at: position)) }
                    }
                default:
                    // Record kinds added to the WAL later are not printed until this learns them.
                    break
                }
            },
            corruption: { error, skipped in
                problem(
                    "\(error) (file \(walDirectory)/\(SegmentFile.name(error.segment))); "
                        + "skipped the rest of that segment (\(skipped) bytes)")
            })

        stats.series = selectedRefs.count
        stats.unreadableTail = outcome.unreadableTail
        stats.corruptSegments = outcome.corruptions.map(\.error.segment)
        if options.stats { stats.lines(format: options.format).forEach(output) }
        if options.lag {
            for i in lags.indices { lags[i].measure(segments: segments) }
            if lags.isEmpty, options.format == .text {
                output("no remote endpoints: no progress files in \(remoteDirectory)")
            }
            for lag in lags { lag.lines(format: options.format).forEach(output) }
        }
        return Report(
            stats: stats, lag: lags, corruptions: outcome.corruptions.map(\.error),
            unreadableProgressFiles: unreadableProgressFiles)
    }
}
