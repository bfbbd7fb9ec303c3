import Testing
@testable import Snappy

@Suite struct SnappyTests {
    private func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    @Test func emptyRoundTrip() throws {
        let compressed = Snappy.compress([])
        #expect(compressed == [0x00])
        #expect(try Snappy.decompress(compressed) == [])
    }

    @Test func smallRoundTrip() throws {
        let input = Array("hello, hello, hello, snappy".utf8)
        let compressed = Snappy.compress(input)
        #expect(try Snappy.decompress(compressed) == input)
        // Block format: the header is the uncompressed length as a varint.
        #expect(compressed.first == UInt8(input.count))
    }

    @Test func knownBlockDecodes() throws {
        // Hand-built block: length 5, one literal of 5 bytes (tag (5-1)<<2 = 0x10).
        let block: [UInt8] = [0x05, 0x10] + Array("abcde".utf8)
        #expect(try Snappy.decompress(block) == Array("abcde".utf8))
    }

    @Test func oneMiBRandomRoundTrip() throws {
        let input = randomBytes(1 << 20)
        let compressed = Snappy.compress(input)
        #expect(compressed.count <= Snappy.maxCompressedLength(input.count))
        #expect(try Snappy.decompress(compressed) == input)
    }

    @Test func oneMiBRepetitiveRoundTrip() throws {
        let line = Array("http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n".utf8)
        var input: [UInt8] = []
        while input.count < 1 << 20 { input += line }
        let compressed = Snappy.compress(input)
        #expect(compressed.count < input.count / 10)
        #expect(try Snappy.decompress(compressed) == input)
    }

    @Test func compressIntoReusesCapacity() throws {
        let input = Array(repeating: UInt8(7), count: 10_000)
        var output: [UInt8] = []
        output.reserveCapacity(Snappy.maxCompressedLength(input.count))
        let capacity = output.capacity
        for _ in 0..<3 {
            input.withUnsafeBytes { Snappy.compress($0, into: &output) }
            #expect(output.capacity == capacity)
            #expect(try Snappy.decompress(output) == input)
        }
        // Replaces, not appends.
        [UInt8]().withUnsafeBytes { Snappy.compress($0, into: &output) }
        #expect(output == [0x00])
    }

    @Test func emptyInputThrows() {
        #expect(throws: SnappyError.self) { try Snappy.decompress([]) }
    }

    @Test func corruptInputThrows() throws {
        let input = Array(String(repeating: "abcdefgh", count: 100).utf8)
        var compressed = Snappy.compress(input)
        // Truncated.
        let truncated = Array(compressed.dropLast(5))
        let error1 = #expect(throws: SnappyError.self) { try Snappy.decompress(truncated) }
        #expect(error1?.kind == .corruptInput)
        // A copy whose offset points before the start of the output.
        let bad: [UInt8] = [0x08, 0x01 | (3 << 2), 0x10]
        let error2 = #expect(throws: SnappyError.self) { try Snappy.decompress(bad) }
        #expect(error2?.kind == .corruptInput)
        // Declared length longer than the data produce.
        compressed[0] = compressed[0] &+ 1
        #expect(throws: SnappyError.self) { try Snappy.decompress(compressed) }
        // Garbage.
        #expect(throws: SnappyError.self) { try Snappy.decompress([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) }
    }

    @Test func maxLengthEnforced() throws {
        let input = [UInt8](repeating: 1, count: 4096)
        let compressed = Snappy.compress(input)
        #expect(try Snappy.decompress(compressed, maxLength: 4096) == input)
        let error = #expect(throws: SnappyError.self) { try Snappy.decompress(compressed, maxLength: 4095) }
        #expect(error?.kind == .tooLarge)
        // A header declaring ~4 GiB with no data must be refused before allocating.
        let hostile: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(try Snappy.uncompressedLength(hostile) == 0xFFFF_FFFF)
        let error2 = #expect(throws: SnappyError.self) { try Snappy.decompress(hostile) }
        #expect(error2?.kind == .tooLarge)
    }
}
