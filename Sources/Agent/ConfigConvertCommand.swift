import AgentConfig
import ArgumentParser
import ConfigConversion
import Foundation

extension ConfigCommand {
    /// `agent config convert --from=grafana-agent FILE`: prints the equivalent configuration on
    /// stdout and, on stderr, what did not carry over.
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert another agent's configuration file to this agent's format.",
            discussion: """
                Prints the converted configuration on stdout and lists on stderr everything that has \
                no equivalent (dropped), what the agent does by itself (ignored), flags to pass to \
                `agent run` and notes on how settings were carried over. Exits 1 when something was \
                dropped (then nothing is printed) unless --allow-partial, or when the result does \
                not load. See docs/grafana-agent.md.
                """)

        enum Source: String, ExpressibleByArgument, CaseIterable {
            case grafanaAgent = "grafana-agent"
        }

        @Option(help: "The format of FILE: grafana-agent (a Grafana Agent static-mode file).")
        var from: Source

        @Argument(help: "The file to convert.")
        var file: String

        @Flag(help: "Print the converted configuration even when something had to be dropped, and exit 0 if it loads.")
        var allowPartial = false

        @Flag(
            name: .customLong("config.expand-env"),
            help: "FILE uses ${VAR} (Grafana Agent's -config.expand-env): keep them, and check the result with them expanded.")
        var expandEnvironment = false

        func run() throws {
            let input: String
            do {
                input = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                Self.printError("\(file): cannot read file: \(error.localizedDescription)")
                throw ExitCode(1)
            }
            let result: ConversionResult
            do {
                result = try GrafanaAgentConverter.convert(yaml: input, file: file)
            } catch {
                Self.printError("\(error)")
                throw ExitCode(1)
            }
            for finding in result.findings { Self.printError(finding.description) }
            var flags = result.flags
            if expandEnvironment { flags.insert("--config.expand-env", at: 0) }
            if !flags.isEmpty { Self.printError("run the converted file with: agent run \(flags.joined(separator: " ")) --config.file=FILE") }

            var loads = true
            do {
                _ = try result.load(as: "converted \(file)", expandEnvironment: expandEnvironment)
            } catch {
                loads = false
                Self.printError("the converted configuration does not load (lines are those of the converted file):")
                for problem in error.errors { Self.printError("  \(problem)") }
            }
            let dropped = result.dropped.count
            if dropped > 0 {
                Self.printError("\(dropped) setting\(dropped == 1 ? "" : "s") dropped\(allowPartial ? " (--allow-partial)" : "; nothing printed: pass --allow-partial to print the rest")")
            }
            if allowPartial || (dropped == 0 && loads) { print(result.yaml, terminator: "") }
            if !loads || (dropped > 0 && !allowPartial) { throw ExitCode(1) }
        }

        private static func printError(_ line: String) {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
