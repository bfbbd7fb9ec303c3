import ArgumentParser
import Testing

@testable import Agent

@Suite("agent run flags")
struct RunCommandTests {
    @Test(arguments: ["0s", "1s", "30s", "2m"])
    func autoReloadIntervalIsOffOrAtLeastASecond(value: String) throws {
        let command = try RunCommand.parse(["--config.auto-reload-interval=\(value)"])
        #expect(command.autoReloadInterval == value)
    }

    @Test(arguments: ["500ms", "soon", "-1s"])
    func autoReloadIntervalsBelowASecondOrInvalidAreRefused(value: String) {
        #expect(throws: (any Error).self) { try RunCommand.parse(["--config.auto-reload-interval=\(value)"]) }
    }

    @Test func autoReloadIsOffByDefault() throws {
        #expect(try RunCommand.parse([]).autoReloadInterval == "0s")
    }
}
