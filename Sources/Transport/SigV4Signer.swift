import Curl
import Foundation
import LibCrypto

/// AWS credentials: an access key, its secret, and the session token of temporary credentials.
///
/// `description` hides the secret and the token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>)" }
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) over a whole request, body included, as
/// botocore's `SigV4Auth` computes it: the canonical request covers the method, the path
/// (dot segments and repeated slashes removed, then percent-encoded once more), the query
/// (pairs sorted), every header except hop-by-hop ones and `User-Agent`, and the body's SHA-256.
///
/// A pure value: signing the same request with the same credentials at the same time gives the
/// same headers (the tests compare them with botocore's).
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String

    /// Headers never signed: they may change on the way (botocore's `SIGNED_HEADERS_BLACKLIST`)
    /// or are the signature itself.
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    public init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    /// Signs `request` as of `wallMilliseconds` (Unix time): adds `X-Amz-Date`,
    /// `X-Amz-Content-Sha256`, `X-Amz-Security-Token` (temporary credentials) and
    /// `Authorization`, replacing any earlier ones.
    ///
    /// - Throws: ``SigV4Error`` when the URL cannot be parsed.
    public func sign(_ request: inout HTTPRequest, credentials: AWSCredentials, wallMilliseconds: Int64) throws(SigV4Error) {
        guard let url = URLComponents(string: request.url), let host = url.host, !host.isEmpty else {
            throw SigV4Error(description: "sigv4: cannot sign a request to \(request.url)")
        }
        let replaced: Set<String> = ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]
        request.headers.removeAll { replaced.contains($0.name.lowercased()) }
        let timestamp = Self.timestamp(wallMilliseconds)
        let payloadHash = SHA256.hash(request.method == .post ? request.body : []).lowercaseHex
        request.headers.append(("X-Amz-Date", timestamp))
        request.headers.append(("X-Amz-Content-Sha256", payloadHash))
        if let token = credentials.sessionToken { request.headers.append(("X-Amz-Security-Token", token)) }

        // Canonical headers: lowercased names, sorted; values trimmed and inner runs of spaces
        // collapsed; repeated headers joined with commas in their order.
        var headers: [String: [String]] = [:]
        for (name, value) in request.headers {
            let lower = name.lowercased()
            guard !Self.unsignedHeaders.contains(lower) else { continue }
            headers[lower, default: []].append(value.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        if headers["host"] == nil { headers["host"] = [Self.hostHeader(url, host: host)] }
        let names = headers.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [
            request.method == .post ? "POST" : "GET",
            Self.canonicalPath(url.percentEncodedPath),
            Self.canonicalQuery(url.percentEncodedQuery),
            names.map { "\($0):\(headers[$0]!.joined(separator: ","))" }.joined(separator: "\n") + "\n",
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let date = String(timestamp.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope, SHA256.hash(Array(canonicalRequest.utf8)).lowercaseHex]
            .joined(separator: "\n")
        var key = Array("AWS4\(credentials.secretAccessKey)".utf8)
        for part in [date, region, service, "aws4_request"] {
            key = HMACSHA256.authenticationCode(key: key, message: Array(part.utf8))
        }
        let signature = HMACSHA256.authenticationCode(key: key, message: Array(stringToSign.utf8)).lowercaseHex
        request.headers.append((
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        ))
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    static func timestamp(_ wallMilliseconds: Int64) -> String {
        var seconds = time_t(wallMilliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// The `Host` header libcurl sends: the host, and the port when it is not the scheme's default.
    static func hostHeader(_ url: URLComponents, host: String) -> String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        guard let port = url.port, port != (url.scheme?.lowercased() == "https" ? 443 : 80) else { return bracketed }
        return "\(bracketed):\(port)"
    }

    /// The path without `.`/`..` segments and repeated slashes, percent-encoded once more
    /// (everything but `A–Z a–z 0–9 - _ . ~ /`), as botocore's `_normalize_url_path`.
    static func canonicalPath(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." {
                if !segments.isEmpty { segments.removeLast() }
            } else {
                segments.append(segment)
            }
        }
        var normalized = (path.hasPrefix("/") ? "/" : "") + segments.joined(separator: "/")
        if path.hasSuffix("/"), !segments.isEmpty { normalized += "/" }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in normalized.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The query's `name=value` pairs (kept as encoded in the URL) sorted by name, then value.
    static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        return query.split(separator: "&", omittingEmptySubsequences: false)
            .map { pair -> (Substring, Substring) in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}

/// A request that could not be signed, or no credentials or region to sign with.
public struct SigV4Error: Error, Sendable, CustomStringConvertible {
    public var description: String
}
