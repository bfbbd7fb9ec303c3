import AgentConfig
import Foundation
import Testing

/// `scrape_config_files`, and a configuration with nothing to do.
@Suite struct ScrapeConfigFilesTests {
    func fixture(_ name: String) throws -> String {
        try #require(Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures"))
    }

    func errors(loading path: String) -> [ConfigError] {
        do {
            _ = try ConfigLoader.load(file: path)
            Issue.record("\(path) loaded")
            return []
        } catch {
            return error.errors
        }
    }

    @Test func includedJobsFollowTheMainFileWithItsGlobalSettingsAndPathsOfTheirOwn() throws {
        let main = try fixture("scrape-config-files/main.yaml")
        let directory = (main as NSString).deletingLastPathComponent
        let config = try ConfigLoader.load(file: main)
        #expect(config.scrapeConfigs.map(\.jobName) == ["main", "a", "b", "c"], "main file first, then each pattern's files in order")
        let a = config.scrapeConfigs[1], b = config.scrapeConfigs[2]
        #expect(a.scrapeInterval == .seconds(20) && b.scrapeInterval == .seconds(5), "the main file's global section applies")
        #expect(a.fileSDConfigs.first?.files == [directory + "/jobs/targets/*.json"], "relative to the job's own file")
        #expect(a.scrapeFailureLogFile == directory + "/jobs/a-failures.log")
        #expect(b.scrapeFailureLogFile == directory + "/logs/failures.log", "the global one, relative to the main file")
        #expect(a.limits.targetLimit == 5 && b.limits.targetLimit == 50 && b.limits.keepDroppedTargets == 10)
        #expect(a.scrapeProtocols == [.prometheusText1_0_0] && a.fallbackScrapeProtocol == .prometheusText0_0_4)
        #expect(b.scrapeProtocols == [.openMetricsText1_0_0, .prometheusText0_0_4] && b.fallbackScrapeProtocol == nil)
        #expect(config.warnings.contains { $0.contains("nothing/*.yaml") && $0.contains("matches no file") })
    }

    @Test func aJobNameUsedTwiceAcrossFilesIsAnErrorInTheIncludedFile() throws {
        let main = try fixture("scrape-config-files/duplicate/main.yaml")
        let directory = (main as NSString).deletingLastPathComponent
        let errors = errors(loading: main)
        #expect(
            errors.contains {
                $0.file == directory + "/jobs/1.yaml" && $0.line == 5 && $0.key == "scrape_configs[1].job_name"
                    && $0.message == "duplicate job name \"node\" (first in the main file)"
            }, "\(errors)")
        #expect(
            errors.contains {
                $0.file == directory + "/jobs/2.yaml" && $0.line == 2 && $0.message == "duplicate job name \"other\" (first in \(directory)/jobs/1.yaml)"
            }, "\(errors)")
    }

    @Test func errorsInAnIncludedFileNameThatFileAndLine() throws {
        let main = try fixture("scrape-config-files/invalid/main.yaml")
        let directory = (main as NSString).deletingLastPathComponent
        let errors = errors(loading: main)
        let bad = directory + "/jobs/bad.yaml", broken = directory + "/jobs/broken.yaml"
        #expect(errors.contains { $0.file == bad && $0.line == 4 && $0.message.contains("greater than scrape interval") }, "\(errors)")
        #expect(errors.contains { $0.file == bad && $0.line == 5 && $0.message.contains("unknown key \"remote_write\"") }, "only scrape_configs: \(errors)")
        #expect(errors.contains { $0.file == broken && $0.line == 4 && $0.key == "scrape_interval" }, "the duplicate key, located: \(errors)")
    }

    @Test func aPatternWithAStarBeforeTheLastElementIsRejected() {
        expectRejected("scrape_config_files: [\"jobs/*/x.yaml\"]\n", message: "invalid scrape config file path \"jobs/*/x.yaml\"", fromLine: 1)
    }

    @Test func editingAnIncludedFileChangesWhatTheChecksumCovers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("includes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let main = directory.appendingPathComponent("agent.yml").path
        try "scrape_config_files: [jobs/*.yml]\n".write(toFile: main, atomically: true, encoding: .utf8)
        #expect(ConfigLoader.includedFiles(ofConfigAt: main).isEmpty)
        for name in ["b.yml", "a.yml", "c.txt"] {
            try "scrape_configs: []\n".write(toFile: directory.appendingPathComponent("jobs/" + name).path, atomically: true, encoding: .utf8)
        }
        #expect(ConfigLoader.includedFiles(ofConfigAt: main) == [directory.path + "/jobs/a.yml", directory.path + "/jobs/b.yml"])
    }

    // A configuration with nothing to scrape and nowhere to send.

    @Test(arguments: ["empty.yaml", "global-only.yaml", "no-matches.yaml"])
    func nothingToScrapeAndNowhereToSendIsAnError(file: String) throws {
        let path = try fixture("nothing-to-do/" + file)
        let errors = errors(loading: path)
        #expect(errors.count == 1 && errors[0].file == path && errors[0].message.hasPrefix("nothing to scrape and nowhere to send"), "\(errors)")
        if file == "no-matches.yaml" { #expect(errors[0].message.contains("scrape_config_files")) }
    }

    @Test func aRemoteWriteAloneIsEnough() throws {
        let config = try ConfigLoader.load(file: fixture("nothing-to-do/remote-write-only.yaml"))
        #expect(config.scrapeConfigs.isEmpty && config.remoteWrite.count == 1)
    }
}
