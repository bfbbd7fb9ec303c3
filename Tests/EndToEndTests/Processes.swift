import Foundation
import Testing

/// Where things are: the package root and the built agent.
enum Paths {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `AGENT_BINARY` if set, otherwise the debug build `swift build` made.
    static var agentBinary: String {
        if let path = ProcessInfo.processInfo.environment["AGENT_BINARY"] { return path }
        return packageRoot.appendingPathComponent(".build/debug/agent").path
    }

    /// Removes a test's directory, unless `E2E_KEEP=1` asks to keep it for a post-mortem.
    static func removeUnlessKept(_ directory: URL) {
        if ProcessInfo.processInfo.environment["E2E_KEEP"] == "1" {
            print("kept \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-agent-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

