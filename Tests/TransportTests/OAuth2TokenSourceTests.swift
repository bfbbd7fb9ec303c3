import AgentConfig
import Curl
import Foundation
import Model
import TestSupport
import Testing

@testable import Transport

/// A token endpoint that issues `tok-1`, `tok-2`, … and records what it was asked.
final class TokenEndpoint: Sendable {
    let server: TestHTTPServer
    let requests: Locked<[ReceivedRequest]>

    /// - Parameter answer: The answer to request number n (from 1); the default issues
    ///   `tok-<n>` for 60 seconds.
    init(answer: @escaping @Sendable (Int, ReceivedRequest) -> CannedResponse = TokenEndpoint.issue(lifetime: 60)) async throws {
        let requests = Locked<[ReceivedRequest]>([])
        self.requests = requests
        server = try await TestHTTPServer { request in
            let number = requests.withLock { list -> Int in
                list.append(request)
                return list.count
            }
            return answer(number, request)
        }
    }

    static func issue(lifetime: Int?) -> @Sendable (Int, ReceivedRequest) -> CannedResponse {
        { number, _ in
            let expiry = lifetime.map { #", "expires_in": \#($0)"# } ?? ""
            return CannedResponse(contentType: "application/json", body: #"{"access_token": "tok-\#(number)", "token_type": "bearer"\#(expiry)}"#)
        }
    }

    var url: String { server.url("/oauth2/token") }
    var count: Int { requests.value.count }

    func config(secret: Secret? = .inline("s3cr&t")) -> OAuth2Config {
        var config = OAuth2Config(clientID: "agent:1", clientSecret: secret, tokenURL: url)
        config.scopes = ["metrics.read", "metrics.write"]
        config.endpointParams = ["audience": "https://hub.example/"]
        return config
    }
}

/// The `Authorization` header `client` sets.
func authorization(_ client: HTTPClient, refresh: Bool = false) async throws -> String? {
    var request = HTTPRequest(url: "http://127.0.0.1:1/metrics", timeout: .seconds(10))
    try await client.apply(to: &request, refreshCredentials: refresh)
    return request.headers.first { $0.name == "Authorization" }?.value
}

func client(_ oauth2: OAuth2Config, transport: HTTPTransport, clock: ManualClock) -> HTTPClient {
    var config = HTTPClientConfig()
    config.oauth2 = oauth2
    return HTTPClient(config: config, transport: transport, clock: clock)
}

@Suite struct OAuth2TokenSourceTests {
    let transport = HTTPTransport()
    let clock = ManualClock()

    @Test func theTokenRequestIsAClientCredentialsFormWithTheClientInBasicAuth() async throws {
        let endpoint = try await TokenEndpoint()
        let http = client(endpoint.config(), transport: transport, clock: clock)
        #expect(try await authorization(http) == "Bearer tok-1")
        let request = try #require(endpoint.requests.value.first)
        #expect(request.method == "POST")
        #expect(request.path == "/oauth2/token")
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(String(decoding: request.body, as: UTF8.self)
            == "audience=https%3A%2F%2Fhub.example%2F&grant_type=client_credentials&scope=metrics.read+metrics.write")
        // golang.org/x/oauth2 form-escapes the ID and secret before Basic-encoding them.
        #expect(request.header("Authorization") == "Basic " + Data("agent%3A1:s3cr%26t".utf8).base64EncodedString())
    }

    @Test func oneTokenRequestServesManyRequests() async throws {
        let endpoint = try await TokenEndpoint()
        let http = client(endpoint.config(), transport: transport, clock: clock)
        let values = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<20 { group.addTask { try await authorization(http) } }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        for _ in 0..<10 { #expect(try await authorization(http) == "Bearer tok-1") }
        #expect(Set(values) == ["Bearer tok-1"])
        #expect(endpoint.count == 1)
    }

    @Test func aTokenIsReplacedTenSecondsBeforeItExpires() async throws {
        let endpoint = try await TokenEndpoint()
        let http = client(endpoint.config(), transport: transport, clock: clock)
        #expect(try await authorization(http) == "Bearer tok-1")
        clock.advance(by: .seconds(50) - .milliseconds(1))
        #expect(try await authorization(http) == "Bearer tok-1")
        clock.advance(by: .milliseconds(1))
        #expect(try await authorization(http) == "Bearer tok-2")
        #expect(try await authorization(http) == "Bearer tok-2")
        #expect(endpoint.count == 2)
    }

    @Test func aTokenWithoutExpiryIsKept() async throws {
        let endpoint = try await TokenEndpoint(answer: TokenEndpoint.issue(lifetime: nil))
        let http = client(endpoint.config(), transport: transport, clock: clock)
        #expect(try await authorization(http) == "Bearer tok-1")
        clock.advance(by: .seconds(86_400))
        #expect(try await authorization(http) == "Bearer tok-1")
        #expect(endpoint.count == 1)
    }

    @Test func aRefusedTokenIsReplacedAtMostOncePerTenSeconds() async throws {
        let endpoint = try await TokenEndpoint()
        let http = client(endpoint.config(), transport: transport, clock: clock)
        #expect(try await authorization(http) == "Bearer tok-1")
        #expect(try await authorization(http, refresh: true) == "Bearer tok-1", "a 401 right after the fetch")
        clock.advance(by: OAuth2TokenSource.minimumAgeForRefresh)
        #expect(try await authorization(http, refresh: true) == "Bearer tok-2")
        #expect(try await authorization(http) == "Bearer tok-2")
        #expect(endpoint.count == 2)
    }

    @Test func aChangedClientSecretFileFetchesANewToken() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("oauth2-secret-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try "first\n".write(to: file, atomically: true, encoding: .utf8)
        let endpoint = try await TokenEndpoint()
        let http = client(endpoint.config(secret: .file(file.path)), transport: transport, clock: clock)
        #expect(try await authorization(http) == "Bearer tok-1")
        #expect(try await authorization(http) == "Bearer tok-1")
        try "second-secret\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try await authorization(http) == "Bearer tok-2")
        let sent = endpoint.requests.value.map { $0.header("Authorization") }
        #expect(sent == [
            "Basic " + Data("agent%3A1:first".utf8).base64EncodedString(),
            "Basic " + Data("agent%3A1:second-secret".utf8).base64EncodedString(),
        ])
    }

    @Test func theClientGoesInTheFormWhenBasicAuthIsRefused() async throws {
        let endpoint = try await TokenEndpoint { number, request in
            if request.header("Authorization") != nil {
                return CannedResponse(status: 401, contentType: "application/json", body: #"{"error": "invalid_client"}"#)
            }
            return TokenEndpoint.issue(lifetime: 60)(number, request)
        }
        let http = client(endpoint.config(), transport: transport, clock: clock)
        #expect(try await authorization(http) == "Bearer tok-2")
        clock.advance(by: .seconds(60))
        #expect(try await authorization(http) == "Bearer tok-3", "the style that worked is used at once")
        let bodies = endpoint.requests.value.map { String(decoding: $0.body, as: UTF8.self) }
        let withClient = "audience=https%3A%2F%2Fhub.example%2F&client_id=agent%3A1&client_secret=s3cr%26t&grant_type=client_credentials&scope=metrics.read+metrics.write"
        #expect(bodies.dropFirst() == [withClient, withClient])
    }

    @Test func anEndpointErrorIsThrownAndNothingIsCached() async throws {
        let endpoint = try await TokenEndpoint { number, request in
            number <= 2
                ? CannedResponse(status: 400, contentType: "application/json", body: #"{"error": "invalid_scope", "error_description": "no such scope"}"#)
                : TokenEndpoint.issue(lifetime: 60)(number, request)
        }
        let http = client(endpoint.config(), transport: transport, clock: clock)
        await #expect(throws: OAuth2Error.self) { try await authorization(http) }
        do {
            _ = try await authorization(http)
        } catch {
            Issue.record("the third token request should succeed: \(error)")
        }
        #expect(endpoint.count == 3, "two styles tried, then the next call asked again")
    }

    @Test func formEncodedAndStringExpiryResponsesAreRead() throws {
        let form = try OAuth2Token.parse(HTTPResponse(
            status: 200, headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array("access_token=a%2Bb&token_type=mac&expires_in=120".utf8)))
        #expect(form == OAuth2Token(accessToken: "a+b", type: "MAC", lifetime: .seconds(120)))
        let paypal = try OAuth2Token.parse(HTTPResponse(
            status: 200, headers: [("content-type", "application/json")],
            body: Array(#"{"access_token": "x", "expires_in": "3600"}"#.utf8)))
        #expect(paypal == OAuth2Token(accessToken: "x", type: "Bearer", lifetime: .seconds(3600)))
        #expect(throws: OAuth2Error.self) {
            try OAuth2Token.parse(HTTPResponse(status: 200, headers: [("content-type", "application/json")], body: Array("{}".utf8)))
        }
    }
}
