import AgentConfig
import ArgumentParser

/// `agent config check FILE…`
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with configuration files.", subcommands: [Check.self, Convert.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check configuration files; exit 0 when all are valid, 1 otherwise.")

        @Argument(help: "Configuration files to check.")
        var files: [String]

        @Flag(name: .customLong("config.expand-env"), help: "Expand ${VAR} and ${VAR:-default} from the environment first.")
        var expandEnvironment = false

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let config = try ConfigLoader.load(file: file, expandEnvironment: expandEnvironment)
                    for warning in config.warnings { print("warning: \(warning)") }
                    let targets = config.scrapeConfigs.reduce(0) { $0 + $1.staticConfigs.reduce(0) { $0 + $1.targets.count } }
                    print("\(file): valid (\(config.scrapeConfigs.count) scrape configs, \(targets) static targets, \(config.remoteWrite.count) remote write endpoints)")
                } catch {
                    failed = true
                    print("\(file): invalid")
                    for problem in error.errors { print("  \(problem)") }
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}
