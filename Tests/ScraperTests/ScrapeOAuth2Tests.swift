import AgentConfig
import Foundation
import TestSupport
import Testing

@testable import Scraper

/// Scrapes of a job with `oauth2`: the token endpoint and the target are in-process servers.
@Suite struct ScrapeOAuth2Tests {
    @Test func scrapesSendTheBearerTokenAndShareOneTokenRequest() async throws {
        let tokenRequests = Locked<[ReceivedRequest]>([])
        let tokenServer = try await TestHTTPServer { request in
            let number = tokenRequests.withLock { list -> Int in
                list.append(request)
                return list.count
            }
            return CannedResponse(
                contentType: "application/json", body: #"{"access_token": "tok-\#(number)", "token_type": "Bearer", "expires_in": 300}"#)
        }
        let h = try await LoopHarness(configure: { config in
            var oauth2 = OAuth2Config(clientID: "agent", clientSecret: .inline("secret"), tokenURL: tokenServer.url("/token"))
            oauth2.scopes = ["metrics"]
            config.httpClient.oauth2 = oauth2
        }) { request in
            request.header("Authorization") == "Bearer tok-1" ? text("a 1\n") : CannedResponse(status: 401)
        }
        for _ in 0..<5 {
            let samples = try await h.scrape()
            #expect(samples[h.series("up")]?.value == 1)
            #expect(samples[h.series("a")]?.value == 1)
        }
        #expect(tokenRequests.value.count == 1)
        #expect(String(decoding: tokenRequests.value[0].body, as: UTF8.self) == "grant_type=client_credentials&scope=metrics")
        #expect(h.requests.value.map { $0.header("Authorization") } == Array(repeating: "Bearer tok-1", count: 5))
    }

    @Test func aRefusedTokenIsReplacedAndTheScrapeRetried() async throws {
        let tokenCount = Locked(0)
        let tokenServer = try await TestHTTPServer { _ in
            let number = tokenCount.withLock { count -> Int in
                count += 1
                return count
            }
            return CannedResponse(contentType: "application/json", body: #"{"access_token": "tok-\#(number)", "expires_in": 3600}"#)
        }
        // The target accepts only the newest token: tok-1 until it has been revoked.
        let accepted = Locked("Bearer tok-1")
        let h = try await LoopHarness(configure: { config in
            config.httpClient.oauth2 = OAuth2Config(clientID: "agent", clientSecret: nil, tokenURL: tokenServer.url("/token"))
        }) { request in
            request.header("Authorization") == accepted.value ? text("a 1\n") : CannedResponse(status: 401)
        }
        #expect(try await h.scrape()[h.series("up")]?.value == 1)
        accepted.withLock { $0 = "Bearer tok-2" }
        h.clock.advance(by: .seconds(15))
        #expect(try await h.scrape()[h.series("up")]?.value == 1, "401, new token, retried")
        #expect(tokenCount.value == 2)
        #expect(h.requests.value.map { $0.header("Authorization") ?? "" } == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"])
    }
}
