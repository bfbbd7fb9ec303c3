import Foundation
import Testing

/// `agent config convert`: what goes to stdout and stderr, and the exit status.
@Suite("agent config convert")
struct ConfigConvertCLITests {
    static let examples = Paths.packageRoot.appendingPathComponent("Tests/ConfigConversionTests/Fixtures/grafana-agent")

    func convert(_ arguments: [String]) async throws -> ChildProcess.Finished {
        try await ChildProcess.run(
            Paths.agentBinary, ["config", "convert", "--from=grafana-agent"] + arguments, name: "convert", separateStandardError: true,
            timeout: .seconds(30))
    }

    @Test func aCompleteConversionPrintsTheConfigurationAndExitsZero() async throws {
        let run = try await convert([Self.examples.appendingPathComponent("create-config-file-scrape-itself.yaml").path])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.hasPrefix("# Converted by") && run.output.contains("job_name: agent"))
        #expect(run.errors.contains("run the converted file with: agent run --log.level=info --config.file=FILE"))
        #expect(!run.errors.contains("dropped:"))
    }

    @Test func somethingDroppedPrintsNothingAndExitsOneUnlessPartialIsAllowed() async throws {
        let file = Self.examples.appendingPathComponent("create-config-file-full.yaml").path
        let strict = try await convert([file])
        #expect(strict.status == 1)
        #expect(strict.output.isEmpty)
        #expect(strict.errors.contains("dropped: \(file):16: logs:") && strict.errors.contains("3 settings dropped"))
        let partial = try await convert(["--allow-partial", file])
        #expect(partial.status == 0)
        #expect(partial.output.contains("job_name: agent"))
        #expect(partial.errors.contains("dropped: \(file):46: integrations.node_exporter:"))
    }

    @Test func aResultThatDoesNotLoadFailsEvenWhenPartialIsAllowed() async throws {
        let run = try await convert(["--allow-partial", Self.examples.appendingPathComponent("staticconvert-prom-scrape.yaml").path])
        #expect(run.status == 1)
        #expect(run.errors.contains("the converted configuration does not load"))
        #expect(run.errors.contains("azure_sd_configs"))
        #expect(run.output.contains("azure_sd_configs"), "printed for fixing by hand")
    }

    @Test func environmentReferencesNeedTheExpandFlag() async throws {
        let file = Self.examples.appendingPathComponent("docker-compose-agent.yaml").path
        let literal = try await convert(["--allow-partial", file])
        #expect(literal.status == 1, "a URL with ${…} is not a URL")
        let expanded = try await convert(["--allow-partial", "--config.expand-env", file])
        #expect(expanded.status == 0, "\(expanded.errors)")
        #expect(expanded.output.contains("${AVALANCHE_HOST:-localhost:9001}"))
        #expect(expanded.errors.contains("agent run --config.expand-env --log.level=debug"))
    }

    @Test func unreadableInputExitsOne() async throws {
        let run = try await convert(["/nonexistent/agent.yaml"])
        #expect(run.status == 1 && run.errors.contains("cannot read file"))
        let bad = try Paths.temporaryDirectory("convert")
        defer { Paths.removeUnlessKept(bad) }
        let file = bad.appendingPathComponent("bad.yaml")
        try "metrics: [\n".write(to: file, atomically: true, encoding: .utf8)
        let invalid = try await convert([file.path])
        #expect(invalid.status == 1 && invalid.errors.contains("invalid YAML"))
    }
}
