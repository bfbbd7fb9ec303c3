import AgentConfig
import ArgumentParser
import Foundation
import Logging

@main
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "A Prometheus-compatible scrape and remote-write forwarding agent.",
        version: AgentVersion.current,
        subcommands: [RunCommand.self, ConfigCommand.self, WALCommand.self],
        defaultSubcommand: nil
    )
}

/// Options every subcommand that logs shares.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log.level"), help: "Only log messages with the given severity or above: debug, info, warn, error.")
    var level: String = "info"

    @Option(name: .customLong("log.format"), help: "Output format of log messages: logfmt or json.")
    var format: String = "logfmt"

    func validate() throws {
        guard Self.levels[level] != nil else {
            throw ValidationError("--log.level must be one of debug, info, warn, error; got \"\(level)\"")
        }
        guard AgentLogHandler.Format(rawValue: format) != nil else {
            throw ValidationError("--log.format must be logfmt or json; got \"\(format)\"")
        }
    }

    static let levels: [String: Logger.Level] = ["debug": .debug, "info": .info, "warn": .warning, "error": .error]

    /// Installs the log handler process-wide and returns the root logger.
    func bootstrap() -> Logger {
        let level = Self.levels[self.level] ?? .info
        let format = AgentLogHandler.Format(rawValue: self.format) ?? .logfmt
        LoggingSystem.bootstrap { label in AgentLogHandler(label: label, format: format, logLevel: level) }
        return Logger(label: "agent")
    }
}
