import AgentConfig
import Foundation
import Testing

@testable import Agent

/// Reloading and `scrape_config_files`; a reload to a file with nothing to do.
@Suite("Reloads: included files and empty files")
struct ConfigReloadIncludesTests {
    @Test func addingOrEditingAnIncludedJobFileIsAChangeTheWatcherReloads() async throws {
        let config = try WatchedConfig(fixture: "includes")
        let jobs = URL(fileURLWithPath: config.path).deletingLastPathComponent().appendingPathComponent("jobs")
        try FileManager.default.createDirectory(at: jobs, withIntermediateDirectories: true)
        try await config.watching {
            try "scrape_configs:\n  - job_name: one\n".write(to: jobs.appendingPathComponent("1.yml"), atomically: true, encoding: .utf8)
            #expect(await config.check())
            #expect(config.appliedJobs == [["one"]])
            try "scrape_configs:\n  - job_name: uno\n".write(to: jobs.appendingPathComponent("1.yml"), atomically: true, encoding: .utf8)
            #expect(await config.check())
            #expect(config.appliedJobs == [["one"], ["uno"]], "an edited included file reloads")
            #expect(await config.check())
            #expect(config.appliedJobs.count == 2, "unchanged files reload nothing")
            try "not: a job file\n".write(to: jobs.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
            #expect(await config.check())
            #expect(config.appliedJobs.count == 2, "a file the pattern does not match is no change")
        }
    }

    @Test func aReloadToAFileWithNothingToDoFailsAndKeepsTheRunningConfiguration() async throws {
        let config = try WatchedConfig(fixture: "first")
        let errors = await config.reloader.reload(trigger: .http)
        #expect(errors == nil)
        try config.write("empty")
        let refused = try #require(await config.reloader.reload(trigger: .http))
        #expect(refused.errors.first?.message.hasPrefix("nothing to scrape and nowhere to send") == true, "\(refused)")
        #expect(config.appliedJobs == [["first"]], "the empty file is not applied")
        #expect(config.metric("agent_config_last_reload_successful") == 0)
        #expect(config.reloads(.http, "failure") == 1)
    }
}
