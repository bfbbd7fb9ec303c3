import AgentConfig
import Curl
import Foundation
import Model
import Snappy
import TestSupport
import Testing
import Transport

@testable import RemoteWrite

/// Remote write with `sigv4`: a real service over a real WAL sends to an in-process receiver
/// that checks each request's signature against what arrived on the wire.
@Suite struct RemoteWriteSigV4Tests {
    static let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    /// The `Authorization` header a receiver expects for `request` as it arrived: the headers
    /// named in its `SignedHeaders` (`Host` as received, so with the port), the received body,
    /// signed again at the time of its `X-Amz-Date`. `nil` when the request is not signed.
    static func expectedAuthorization(_ request: ReceivedRequest, port: Int) -> String? {
        guard let authorization = request.header("Authorization"), let date = request.header("X-Amz-Date"),
            let signedList = authorization.components(separatedBy: "SignedHeaders=").last?.split(separator: ",").first,
            let milliseconds = unixMilliseconds(date)
        else { return nil }
        let signed = Set(signedList.split(separator: ";").map(String.init))
        let added: Set<String> = ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]
        var replay = HTTPRequest(
            method: .post, url: "http://127.0.0.1:\(port)\(request.uri)",
            headers: request.headers.filter { signed.contains($0.name.lowercased()) && !added.contains($0.name.lowercased()) },
            body: request.body)
        guard (try? SigV4Signer(region: "us-east-1", service: "aps").sign(&replay, credentials: credentials, wallMilliseconds: milliseconds)) != nil,
            replay.headers.first(where: { $0.name == "X-Amz-Content-Sha256" })?.value == request.header("X-Amz-Content-Sha256")
        else { return nil }
        return replay.headers.first { $0.name == "Authorization" }?.value
    }

    /// `20231114T221320Z` as Unix milliseconds.
    static func unixMilliseconds(_ amzDate: String) -> Int64? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.date(from: amzDate).map { Int64($0.timeIntervalSince1970) * 1000 }
    }

    @Test func everyRequestCarriesTheSignatureOfWhatArrived() async throws {
        let verdicts = Locked<[(signedHeaders: String, valid: Bool, samples: Int)]>([])
        let port = Locked(0)
        let receiver = try await TestHTTPServer { request in
            let expected = Self.expectedAuthorization(request, port: port.value)
            let authorization = request.header("Authorization") ?? ""
            let valid = expected != nil && expected == authorization
            let signedHeaders = authorization.components(separatedBy: "SignedHeaders=").last?.split(separator: ",").first.map(String.init) ?? ""
            let size = (try? Snappy.decompress(request.body).count) ?? 0
            verdicts.withLock { $0.append((signedHeaders, valid, size)) }
            return CannedResponse(status: valid ? 204 : 403)
        }
        port.withLock { $0 = receiver.port }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(20), at: baseTimestamp)
        var config = endpoint(receiver.url("/workspaces/ws-1/api/v1/remote_write"))
        var sigv4 = SigV4Config()
        sigv4.region = "us-east-1"
        sigv4.accessKey = Self.credentials.accessKeyID
        sigv4.secretKey = Self.credentials.secretAccessKey
        config.sigv4 = sigv4
        config.headers = [("X-Scope-OrgID", "team-a")]
        let running = try RunningService(fixture, endpoints: [config])
        #expect(await eventually(timeout: .seconds(15)) { running.metric("prometheus_remote_storage_samples_total", ["remote_name": "hub"]) == 20 })
        await running.stop()

        let seen = verdicts.value
        #expect(!seen.isEmpty)
        #expect(seen.allSatisfy { $0.valid }, "\(seen)")
        #expect(seen.allSatisfy { $0.samples > 0 }, "the signed bodies are the snappy-compressed requests")
        #expect(seen.first?.signedHeaders
            == "content-encoding;content-type;host;x-amz-content-sha256;x-amz-date;x-prometheus-remote-write-version;x-scope-orgid")
        #expect((running.metric("prometheus_remote_storage_samples_failed_total", ["remote_name": "hub"]) ?? 0) == 0)
    }

    @Test func missingCredentialsAreRetriedNotSentUnsigned() async throws {
        let requests = Locked(0)
        let receiver = try await TestHTTPServer { _ in
            requests.withLock { $0 += 1 }
            return CannedResponse(status: 204)
        }
        var sigv4 = SigV4Config()
        sigv4.region = "us-east-1"
        sigv4.profile = "no-such-profile-\(UUID().uuidString)"
        let client = RemoteWriteClient(config: endpoint(receiver.url("/write")) { $0.sigv4 = sigv4 }, transport: sharedTransport, clock: ManualClock())
        let answer = await client.post(Snappy.compress([1, 2, 3]), version: .v1, attempt: 0)
        guard case .retry(let reason, _) = answer.outcome else {
            Issue.record("\(answer.outcome)")
            return
        }
        #expect(reason.contains("no-such-profile"), "\(reason)")
        #expect(requests.value == 0)
    }
}
