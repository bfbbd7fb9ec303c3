import Curl
import Foundation

/// One STS `AssumeRole` call (query API, version 2011-06-15), as the AWS SDK for Go v2's
/// `stscreds.AssumeRoleProvider` makes it for Prometheus's `sigv4.role_arn`: a form POST signed
/// with the base credentials (service `sts`), answered with the role's temporary credentials.
///
/// The endpoint is regional (`https://sts.<region>.amazonaws.com/`, `sts-fips.` with
/// `use_fips_sts_endpoint`) unless `AWS_ENDPOINT_URL_STS` or `AWS_ENDPOINT_URL` names another, as
/// the SDKs allow.
struct STSAssumeRole: Sendable {
    var roleARN: String
    var externalID: String?
    var region: String
    var fips: Bool
    /// Names the session in the role's CloudTrail entries.
    var sessionName: String
    /// The SDK's default lifetime of assumed credentials: 15 minutes.
    var durationSeconds = 900

    func endpoint(environment: [String: String]) -> String {
        for name in ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"] {
            if let url = environment[name], !url.isEmpty { return url }
        }
        return "https://\(fips ? "sts-fips" : "sts").\(region).amazonaws.com/"
    }

    /// The signed request.
    func request(base: AWSCredentials, environment: [String: String], wallMilliseconds: Int64, timeout: Duration) throws(SigV4Error)
        -> HTTPRequest
    {
        var form: [(String, String)] = [
            ("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", roleARN), ("RoleSessionName", sessionName),
            ("DurationSeconds", String(durationSeconds)),
        ]
        if let externalID { form.append(("ExternalId", externalID)) }
        var request = HTTPRequest(method: .post, url: endpoint(environment: environment), timeout: timeout)
        request.headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
        request.body = Array(FormEncoding.encode(form).utf8)
        try SigV4Signer(region: region, service: "sts").sign(&request, credentials: base, wallMilliseconds: wallMilliseconds)
        return request
    }

    /// The temporary credentials and their expiry (Unix milliseconds) in a 200 answer; an error
    /// naming STS's own code and message otherwise.
    static func credentials(from response: HTTPResponse) throws(SigV4Error) -> (AWSCredentials, expiresAtMilliseconds: Int64) {
        let body = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else {
            let code = element("Code", in: body) ?? "HTTP \(response.status)"
            let message = element("Message", in: body).map { ": \($0)" } ?? ""
            throw SigV4Error(description: "sigv4: STS AssumeRole failed: \(code)\(message)")
        }
        guard let key = element("AccessKeyId", in: body), let secret = element("SecretAccessKey", in: body),
            let token = element("SessionToken", in: body), let expiration = element("Expiration", in: body)
        else {
            throw SigV4Error(description: "sigv4: STS AssumeRole answered without credentials")
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: expiration) ?? fractional.date(from: expiration) else {
            throw SigV4Error(description: "sigv4: STS AssumeRole answered an unreadable expiration \"\(expiration)\"")
        }
        return (AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token), Int64(date.timeIntervalSince1970 * 1000))
    }

    /// The text of the first `<name>…</name>` in `xml`, with XML's five entities decoded.
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
