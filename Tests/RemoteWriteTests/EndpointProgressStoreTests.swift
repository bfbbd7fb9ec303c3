import Foundation
import Testing
import WAL

@testable import RemoteWrite

// The progress file is written by hand (ProgressJSON, ProgressFileWriter); what it holds must be
// what JSONEncoder made of it before, readable by EndpointProgressFile.load and `agent wal dump`.

private func cursor(_ segment: Int, _ offset: Int, _ done: Int = 0) -> Cursor {
    Cursor(position: WALPosition(segment: segment, offset: offset), samplesDone: done)
}

private let examples: [EndpointProgress] = [
    EndpointProgress(acknowledged: cursor(0, 0)),
    EndpointProgress(acknowledged: cursor(3, 4096, 17), url: "http://127.0.0.1:9090/api/v1/write"),
    EndpointProgress(
        acknowledged: cursor(12, 1_234_567, 2), shards: [cursor(12, 1_234_567, 2), cursor(13, 0), cursor(Int.max, Int.max, Int.max)],
        inFlight: [nil, cursor(13, 88, 5), nil], url: #"https://user@example.com/write?a="b"&c=\d/é ✓"# + "\u{1}\n\t\r"),
    EndpointProgress(acknowledged: cursor(1, 2), shards: [cursor(1, 2)], inFlight: [nil], url: nil),
]

@Suite struct ProgressJSONTests {
    @Test(arguments: examples.indices)
    func decodesToWhatWasEncodedAndMatchesJSONEncodersDocument(_ index: Int) throws {
        let progress = examples[index]
        var bytes: [UInt8] = []
        ProgressJSON.encode(progress, into: &bytes)
        let asBefore = try JSONDecoder().decode(EndpointProgress.self, from: JSONEncoder().encode(progress))
        #expect(try JSONDecoder().decode(EndpointProgress.self, from: Data(bytes)) == asBefore)
        // The same document as JSONEncoder's: the same keys and values.
        let handMade = try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(progress)) as? NSDictionary
        #expect(handMade != nil && handMade == encoded)
    }

    @Test func theBufferIsReusedAndReplaced() {
        var bytes: [UInt8] = []
        ProgressJSON.encode(examples[2], into: &bytes)
        ProgressJSON.encode(examples[0], into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"position":{"segment":0,"offset":0},"samplesDone":0}"#)
    }

    @Test func theWrittenFileLoadsAndReplacesTheOldOne() throws {
        let directory = NSTemporaryDirectory() + "progress-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = EndpointProgressFile(directory: directory, endpointName: "hub")
        let writer = ProgressFileWriter(path: file.path)
        var bytes: [UInt8] = []
        for (index, progress) in examples.enumerated() {
            ProgressJSON.encode(progress, into: &bytes)
            try writer.replace(with: bytes, durable: index % 2 == 0)
            #expect(try file.load() == JSONDecoder().decode(EndpointProgress.self, from: JSONEncoder().encode(progress)))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["hub.json"])
    }
}
