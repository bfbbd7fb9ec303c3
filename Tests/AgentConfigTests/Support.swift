import AgentConfig
import Testing

/// Expects `yaml` to be rejected with an error whose message contains `message`, reported at
/// line `fromLine` or later.
func expectRejected(_ yaml: String, message: String, fromLine: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
        Issue.record("accepted:\n\(yaml)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.errors.contains { $0.message.contains(message) && $0.line >= fromLine }, "\(error)", sourceLocation: sourceLocation)
    }
}
