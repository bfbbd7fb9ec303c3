import Foundation
import Testing

@testable import Discovery

/// The DNS message codec, names, address text and resolv.conf, without I/O. The answers in
/// Fixtures/dns/answer-*.hex are what dnsmasq 2.90 sent for Fixtures/dns/zone.conf (id 0x1234).
@Suite struct DNSMessageTests {
    static func answer(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "answer-\(name)", withExtension: "hex", subdirectory: "Fixtures/dns"))
        let hex = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }

    @Test func aQueryWithEDNSIsTheHeaderTheQuestionAndAnOPTRecord() throws {
        let query = try DNSMessage.query(id: 0x1234, name: "web.example.test", type: .a, udpSize: 4096)
        let expected: [UInt8] =
            [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]
            + [3] + Array("web".utf8) + [7] + Array("example".utf8) + [4] + Array("test".utf8) + [0, 0, 1, 0, 1]
            + [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]
        #expect(query == expected)
        let plain = try DNSMessage.query(id: 7, name: "web.example.test.", type: .srv, udpSize: nil)
        #expect(Array(plain[10..<12]) == [0, 0], "no additional record without EDNS")
        #expect(Array(plain.suffix(4)) == [0, 33, 0, 1])
    }

    @Test func aQueryReadsBackAsItsQuestion() throws {
        let message = try DNSMessage(decoding: DNSMessage.query(id: 99, name: "_prom._tcp.example.test", type: .srv, udpSize: 4096))
        #expect(message.id == 99 && message.answers.isEmpty && !message.truncated)
        #expect(message.question?.name == "_prom._tcp.example.test." && message.question?.type == 33)
    }

    @Test func srvAnswerWithCompressedNames() throws {
        let message = try DNSMessage(decoding: Self.answer("srv"))
        #expect(message.id == 0x1234 && message.responseCode == 0 && !message.truncated)
        #expect(message.answers == [
            .init(name: "_prom._tcp.example.test.", data: .srv(priority: 0, weight: 10, port: 9100, target: "web.example.test."))
        ])
    }

    @Test func cnameChainAnswerHasTheCNAMEAndTheAddresses() throws {
        let message = try DNSMessage(decoding: Self.answer("cname-a"))
        #expect(message.answers == [
            .init(name: "alias.example.test.", data: .cname("web.example.test.")),
            .init(name: "web.example.test.", data: .a([10, 0, 0, 1])),
            .init(name: "web.example.test.", data: .a([10, 0, 0, 2])),
        ])
    }

    @Test func aaaaMXAndNSAnswers() throws {
        let aaaa = try DNSMessage(decoding: Self.answer("aaaa")).answers.map(\.data)
        #expect(aaaa == [.aaaa([0xfd] + Array(repeating: 0, count: 14) + [1]), .aaaa([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 1])])
        #expect(try DNSMessage(decoding: Self.answer("mx")).answers.map(\.data) == [.mx(preference: 10, exchange: "mail.example.test.")])
        #expect(try DNSMessage(decoding: Self.answer("ns")).answers.map(\.data) == [.ns("ns1.example.test.")])
    }

    @Test func nxdomainIsResponseCodeThreeWithNoAnswers() throws {
        let message = try DNSMessage(decoding: Self.answer("nxdomain"))
        #expect(message.responseCode == DNSMessage.ResponseCode.nameError && message.answers.isEmpty)
        #expect(message.question?.name == "nope.example.test.")
    }

    @Test func everyCutOfAnAnswerIsMalformedNotACrash() throws {
        let full = try Self.answer("cname-a")
        for length in 0..<full.count {
            #expect(throws: DNSMessage.Malformed.self, "cut at \(length)") { try DNSMessage(decoding: Array(full[..<length])) }
        }
    }

    @Test func compressionPointerLoopsAndReservedLabelTypesAreMalformed() {
        // One question whose name is a pointer to itself.
        let loop: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSMessage.Malformed.self) { try DNSMessage(decoding: loop) }
        let reserved: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 1, 0, 1]
        #expect(throws: DNSMessage.Malformed.self) { try DNSMessage(decoding: reserved) }
    }

    @Test func anAddressRecordOfTheWrongLengthIsMalformed() {
        // Header with one answer, no question: root owner, type A, class IN, TTL 0, 3 bytes of data.
        let bad: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3]
        #expect(throws: DNSMessage.Malformed.self) { try DNSMessage(decoding: bad) }
    }

    @Test func truncationFlagIsRead() throws {
        var bytes = try Self.answer("nxdomain")
        bytes[2] |= 0x02
        #expect(try DNSMessage(decoding: bytes).truncated)
    }

    // MARK: Names

    @Test func namesAreReadWithMiekgEscapes() throws {
        // Labels "a.b", "c d", "\u{7}" and "é" (two bytes), then the root.
        let wire: [UInt8] = [3, 0x61, 0x2E, 0x62, 3, 0x63, 0x20, 0x64, 1, 7, 2, 0xC3, 0xA9, 0]
        let (name, next) = try DNSName.read(wire, at: 0)
        #expect(name == #"a\.b.c\ d.\007.\195\169."#)
        #expect(next == wire.count)
        #expect(try DNSName.read([0], at: 0).name == ".")
    }

    @Test func escapedNamesAreWrittenAsTheirBytes() throws {
        #expect(try DNSName.wire(#"a\.b.c\032d.\007"#) == [3, 0x61, 0x2E, 0x62, 3, 0x63, 0x20, 0x64, 1, 7, 0])
        #expect(try DNSName.wire(".") == [0])
    }

    @Test(arguments: ["", "a..b", ".a", String(repeating: "x", count: 64) + ".test", "a\\"])
    func invalidNamesAreRejected(_ name: String) {
        #expect(throws: DNSName.Invalid.self) { try DNSName.wire(name) }
    }

    @Test func overlongNamesAreRejected() {
        let name = Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: ".")
        #expect(throws: DNSName.Invalid.self) { try DNSName.wire(name) }
    }

    @Test func absoluteNamesEndInAnUnescapedDot() {
        #expect(DNSName.isAbsolute("a.b."))
        #expect(!DNSName.isAbsolute("a.b"))
        #expect(!DNSName.isAbsolute(#"a\."#))
        #expect(DNSName.isAbsolute(#"a\\."#))
        #expect(DNSName.absolute("a") == "a.")
    }

    // MARK: Addresses

    @Test(arguments: [
        ([10, 0, 0, 1], "10.0.0.1"),
        ([0xfd] + Array(repeating: 0, count: 14) + [1], "fd00::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 1], "2001:db8::10:0:0:1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8:0:1::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1], "2001:db8:1:0:1:1:1:1"),
        (Array(repeating: 0, count: 16), "::"),
        (Array(repeating: 0, count: 15) + [1], "::1"),
        (Array(repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 1], "192.0.2.1"),
        ([0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3], "1:0:0:2::3"),
        ([0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4], "1::2:0:0:3:4"),
    ] as [([UInt8], String)])
    func addressesAreWrittenAsGoWritesThem(_ bytes: [UInt8], _ text: String) {
        #expect(IPAddressText.format(bytes) == text)
    }

    @Test func ipv6HostsGetBrackets() {
        #expect(IPAddressText.hostPort("fd00::1", 80) == "[fd00::1]:80")
        #expect(IPAddressText.hostPort("10.0.0.1", 80) == "10.0.0.1:80")
    }

    // MARK: resolv.conf

    @Test func resolvConfIsReadAsMiekgReadsIt() throws {
        let url = try #require(Bundle.module.url(forResource: "resolv", withExtension: "conf", subdirectory: "Fixtures/dns"))
        let config = ResolverConfig(resolvConf: try String(contentsOf: url, encoding: .utf8))
        #expect(config.servers == [.init(host: "192.0.2.1", port: 53), .init(host: "2001:db8::53", port: 53)])
        #expect(config.search == ["svc.example.test", "example.test"], "the later search line replaces domain")
        #expect(config.ndots == 2)
    }

    @Test func ndotsIsClampedAndDomainSetsTheSearchList() {
        let config = ResolverConfig(resolvConf: "search a.test\ndomain b.test\noptions ndots:40\n")
        #expect(config.search == ["b.test"] && config.ndots == 15)
        #expect(ResolverConfig(resolvConf: "options ndots:-3").ndots == 0)
        #expect(ResolverConfig(resolvConf: "").servers.isEmpty)
    }

    @Test func searchCandidatesFollowNdots() {
        let config = ResolverConfig(servers: [], search: ["svc.test", "test"], ndots: 1)
        #expect(config.candidates(for: "web") == ["web.svc.test.", "web.test.", "web."])
        #expect(config.candidates(for: "web.prod") == ["web.prod.", "web.prod.svc.test.", "web.prod.test."])
        #expect(config.candidates(for: "web.prod.") == ["web.prod."])
        #expect(ResolverConfig(servers: [], search: ["test"], ndots: 2).candidates(for: "web.prod") == ["web.prod.test.", "web.prod."])
    }
}
