import Curl
import Foundation
import Testing

@testable import Transport

/// One request signed by botocore (see scripts/generate-sigv4-fixtures.py).
struct BotocoreFixture: Decodable {
    var name: String
    var method: String
    var url: String
    var headers: [[String]]
    var bodyBase64: String
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
    var region: String
    var service: String
    var unixMilliseconds: Int64
    var expected: [String: String]
    var canonicalRequest: String

    static let names = ["remote-write", "session-token-and-extra-headers", "path-and-query", "get-without-body"]

    static func load(_ name: String) throws -> BotocoreFixture {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/sigv4/\(name)", withExtension: "json"))
        return try JSONDecoder().decode(BotocoreFixture.self, from: Data(contentsOf: url))
    }

    var request: HTTPRequest {
        HTTPRequest(
            method: method == "POST" ? .post : .get, url: url, headers: headers.map { ($0[0], $0[1]) },
            body: Array(Data(base64Encoded: bodyBase64)!))
    }

    var credentials: AWSCredentials {
        AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }
}

@Suite struct SigV4SignerTests {
    @Test(arguments: BotocoreFixture.names)
    func signaturesMatchBotocore(name: String) throws {
        let fixture = try BotocoreFixture.load(name)
        var request = fixture.request
        try SigV4Signer(region: fixture.region, service: fixture.service)
            .sign(&request, credentials: fixture.credentials, wallMilliseconds: fixture.unixMilliseconds)
        for (header, value) in fixture.expected {
            let sent = request.headers.filter { $0.name.lowercased() == header.lowercased() }.map(\.value)
            #expect(sent == [value], "\(name): \(header)\nbotocore's canonical request:\n\(fixture.canonicalRequest)")
        }
        #expect(request.headers.contains { $0.name == "X-Amz-Security-Token" } == (fixture.sessionToken != nil))
    }

    @Test func signingAgainReplacesTheEarlierSignature() throws {
        let fixture = try BotocoreFixture.load("remote-write")
        var request = fixture.request
        let signer = SigV4Signer(region: fixture.region, service: fixture.service)
        try signer.sign(&request, credentials: fixture.credentials, wallMilliseconds: fixture.unixMilliseconds - 60_000)
        try signer.sign(&request, credentials: fixture.credentials, wallMilliseconds: fixture.unixMilliseconds)
        #expect(request.headers.filter { $0.name == "Authorization" }.map(\.value) == [fixture.expected["Authorization"]!])
        #expect(request.headers.filter { $0.name == "X-Amz-Date" }.count == 1)
    }

    @Test func aChangedBodyChangesTheSignature() throws {
        let fixture = try BotocoreFixture.load("remote-write")
        var request = fixture.request
        request.body[request.body.count - 1] ^= 1
        try SigV4Signer(region: fixture.region, service: fixture.service)
            .sign(&request, credentials: fixture.credentials, wallMilliseconds: fixture.unixMilliseconds)
        #expect(request.headers.first { $0.name == "Authorization" }?.value != fixture.expected["Authorization"])
    }
}
