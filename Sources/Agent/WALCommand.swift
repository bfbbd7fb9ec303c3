import ArgumentParser
import Foundation
import WALInspect

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `agent wal …`: look at the write-ahead log.
struct WALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal", abstract: "Inspect the write-ahead log.", subcommands: [Dump.self])

    /// `agent wal dump`: prints the WAL's records, or statistics, or each remote endpoint's lag.
    /// Read-only; safe while the agent runs. Exit status 1 when the WAL cannot be read or a corrupt
    /// record was met (everything readable is printed anyway).
    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the WAL's records (read-only; works while the agent runs).",
            discussion: """
                Lines start with the record's position, SEGMENT@OFFSET (+INDEX for a sample or \
                exemplar within its record). A corrupt record in a finished segment is reported on \
                stderr, the rest of that segment is skipped, and the exit status is 1.
                """)

        @Option(name: .customLong("storage.path"), help: "Base path for the WAL and remote-write cursors (as for agent run).")
        var storagePath: String = "data-agent"

        @Option(help: "Output format: text or json (one JSON object per line).")
        var format: String = "text"

        @Option(name: .customLong("match"), help: ArgumentHelp(
            "Only series matching this selector, e.g. 'up{job=\"node\"}' or '{__name__=~\"node_cpu.*\"}'. Repeat for OR.",
            valueName: "selector"))
        var matches: [String] = []

        @Option(help: ArgumentHelp("Only samples and exemplars at or after this time (RFC 3339 or Unix seconds).", valueName: "time"))
        var from: String?

        @Option(help: ArgumentHelp("Only samples and exemplars at or before this time (RFC 3339 or Unix seconds).", valueName: "time"))
        var to: String?

        @Flag(help: "Print statistics instead of records: segments, bytes, series, samples, exemplars, time range, bytes per sample.")
        var stats = false

        @Flag(help: "Print each remote endpoint's cursor and what it has not acknowledged yet, instead of records.")
        var lag = false

        func run() throws {
            let options: WALInspector.Options
            let inspector: WALInspector
            do {
                options = try makeOptions()
                inspector = try WALInspector(storagePath: storagePath)
            } catch {
                Self.printError("\(error)")
                throw ExitCode(1)
            }
            var out = BufferedOutput()
            let report: WALInspector.Report
            do {
                report = try inspector.run(options, output: { out.write($0) }, problem: { problem in
                    out.flush()
                    Self.printError(problem)
                })
            } catch {
                out.flush()
                Self.printError("\(error)")
                throw ExitCode(1)
            }
            out.flush()
            if !report.isClean { throw ExitCode(1) }
        }

        func makeOptions() throws -> WALInspector.Options {
            guard let format = OutputFormat(rawValue: format) else {
                throw InspectionError("--format must be text or json; got \"\(format)\"")
            }
            let selectors = try matches.map { text in
                do { return try SeriesSelector(parsing: text) } catch { throw InspectionError("--match: \(error)") }
            }
            func time(_ flag: String, _ text: String?) throws -> Int64? {
                guard let text else { return nil }
                do { return try TimeArgument.milliseconds(text) } catch { throw InspectionError("--\(flag): \(error)") }
            }
            let from = try time("from", from)
            let to = try time("to", to)
            if let from, let to, from > to {
                throw InspectionError(
                    "--from (\(PrometheusFormat.time(milliseconds: from))) is after --to (\(PrometheusFormat.time(milliseconds: to)))")
            }
            return WALInspector.Options(
                format: format, selection: Selection(selectors: selectors, from: from, to: to),
                records: !stats && !lag, stats: stats, lag: lag)
        }

        static func printError(_ message: String) {
            FileHandle.standardError.write(Data("agent wal dump: \(message)\n".utf8))
        }
    }
}

/// Collects lines for stdout and writes them in large chunks (a dump may be millions of lines).
struct BufferedOutput {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        var done = 0
        while done < buffer.count {
            let n = buffer[done...].withUnsafeBytes { writeToStandardOutput($0) }
            if n < 0 {
                if errno == EINTR { continue }
                break  // stdout closed (e.g. `| head`): nothing more to do with the output
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

private func writeToStandardOutput(_ bytes: UnsafeRawBufferPointer) -> Int {
    write(1, bytes.baseAddress, bytes.count)
}
