import AgentConfig
import Transport
import Foundation
import Testing

@Suite struct SecretReaderTests {
    func temporaryFile(_ contents: String) throws -> String {
        let path = NSTemporaryDirectory() + "secret-\(UUID().uuidString)"
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @Test func aChangedFileIsReadAgainAtOnce() throws {
        let path = try temporaryFile("first\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = SecretReader(.file(path))
        #expect(try reader.value() == "first")
        try "second-token".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try reader.value() == "second-token", "a new size or mtime is a new secret, no minute's wait")
    }

    @Test func aReplacedFileIsSeenThroughItsNewInode() throws {
        // Kubernetes updates a mounted secret by swapping a symlink to a new file.
        let directory = NSTemporaryDirectory() + "secret-dir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "aaaa".write(toFile: directory + "/v1", atomically: false, encoding: .utf8)
        try "bbbb".write(toFile: directory + "/v2", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory + "/token", withDestinationPath: directory + "/v1")
        let reader = SecretReader(.file(directory + "/token"))
        #expect(try reader.value() == "aaaa")
        try FileManager.default.removeItem(atPath: directory + "/token")
        try FileManager.default.createSymbolicLink(atPath: directory + "/token", withDestinationPath: directory + "/v2")
        #expect(try reader.value() == "bbbb")
    }

    @Test func aMissingFileIsAClearError() {
        let reader = SecretReader(.file("/nonexistent/secret"))
        #expect(throws: SecretError.self) { try reader.value() }
    }
}
