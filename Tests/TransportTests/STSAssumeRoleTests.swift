import AgentConfig
import Curl
import Foundation
import Model
import TestSupport
import Testing

@testable import Transport

/// A fake STS answering `AssumeRole` with `ASIATEMP<n>` credentials valid for 15 minutes from the
/// clock's time, or with an error while `refusing` is set; it records what it was asked.
final class FakeSTS: Sendable {
    let server: TestHTTPServer
    let requests = Locked<[ReceivedRequest]>([])
    let refusing = Locked(false)

    init(clock: ManualClock) async throws {
        let requests = requests
        let refusing = refusing
        server = try await TestHTTPServer { request in
            let number = requests.withLock { list -> Int in
                list.append(request)
                return list.count
            }
            if refusing.value {
                return CannedResponse(status: 403, contentType: "text/xml", body: """
                    <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>\
                    <Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/agent is not authorized to perform: \
                    sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>
                    """)
            }
            let expiry = Date(timeIntervalSince1970: Double(clock.wallMilliseconds) / 1000 + 900)
            return CannedResponse(contentType: "text/xml", body: """
                <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>\
                <Credentials><AccessKeyId>ASIATEMP\(number)</AccessKeyId><SecretAccessKey>temp/secret+\(number)</SecretAccessKey>\
                <SessionToken>token&amp;\(number)</SessionToken><Expiration>\(ISO8601DateFormatter().string(from: expiry))</Expiration>\
                </Credentials></AssumeRoleResult></AssumeRoleResponse>
                """)
        }
    }
}

@Suite struct STSAssumeRoleTests {
    let transport = HTTPTransport()
    let clock = ManualClock()

    func signer(_ sts: FakeSTS) -> SigV4RequestSigner {
        var config = SigV4Config()
        config.region = "eu-west-1"
        config.accessKey = "AKIDBASE"
        config.secretKey = "base-secret"
        config.roleARN = "arn:aws:iam::123456789012:role/prometheus"
        config.externalID = "tenant-7"
        return SigV4RequestSigner(
            config: config, transport: transport, clock: clock, environment: ["AWS_ENDPOINT_URL_STS": sts.server.url("/")])
    }

    func signed(_ signer: SigV4RequestSigner) async throws(SigV4Error) -> [String: String] {
        var request = HTTPRequest(method: .post, url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write")
        request.body = Array("payload".utf8)
        try await signer.sign(&request)
        return Dictionary(request.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    @Test func theRoleIsAssumedWithTheBaseCredentialsAndItsCredentialsSignTheRequests() async throws {
        let sts = try await FakeSTS(clock: clock)
        let signer = signer(sts)
        for _ in 0..<3 {
            let headers = try await signed(signer)
            #expect(headers["Authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=ASIATEMP1/20231114/eu-west-1/aps/aws4_request,") == true)
            #expect(headers["X-Amz-Security-Token"] == "token&1")
        }
        #expect(sts.requests.value.count == 1, "one AssumeRole for many requests")
        let call = try #require(sts.requests.value.first)
        #expect(call.method == "POST")
        #expect(call.header("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(call.header("Authorization")?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDBASE/20231114/eu-west-1/sts/aws4_request,") == true)
        #expect(String(decoding: call.body, as: UTF8.self) == "Action=AssumeRole&DurationSeconds=900&ExternalId=tenant-7"
            + "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fprometheus&RoleSessionName=metrics-agent-1700000000000&Version=2011-06-15")
    }

    @Test func theRoleIsAssumedAgainAMinuteBeforeItsCredentialsExpire() async throws {
        let sts = try await FakeSTS(clock: clock)
        let signer = signer(sts)
        _ = try await signed(signer)
        clock.advance(by: .seconds(900 - 61))
        #expect(try await signed(signer)["X-Amz-Security-Token"] == "token&1", "still more than a minute left")
        clock.advance(by: .seconds(2))
        #expect(try await signed(signer)["X-Amz-Security-Token"] == "token&2")
        #expect(sts.requests.value.count == 2)
    }

    @Test func aRefusedRoleFailsTheRequestWithSTSsMessageAndTheNextRequestTriesAgain() async throws {
        let sts = try await FakeSTS(clock: clock)
        sts.refusing.withLock { $0 = true }
        let signer = signer(sts)
        let error = await #expect(throws: SigV4Error.self) { try await signed(signer) }
        #expect(error?.description == "sigv4: STS AssumeRole failed: AccessDenied: User: arn:aws:iam::1:user/agent is not authorized to perform: sts:AssumeRole")
        sts.refusing.withLock { $0 = false }
        #expect(try await signed(signer)["X-Amz-Security-Token"] == "token&2")
    }

    @Test func theEndpointIsRegionalUnlessTheEnvironmentNamesOne() {
        let call = STSAssumeRole(roleARN: "r", region: "eu-west-1", fips: false, sessionName: "s")
        #expect(call.endpoint(environment: [:]) == "https://sts.eu-west-1.amazonaws.com/")
        #expect(STSAssumeRole(roleARN: "r", region: "us-east-1", fips: true, sessionName: "s").endpoint(environment: [:])
            == "https://sts-fips.us-east-1.amazonaws.com/")
        #expect(call.endpoint(environment: ["AWS_ENDPOINT_URL": "http://localstack:4566"]) == "http://localstack:4566")
        #expect(call.endpoint(environment: ["AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_STS": "http://b"]) == "http://b")
    }
}
