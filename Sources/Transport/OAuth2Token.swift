import Curl
import Foundation

/// An OAuth2 access token as a token endpoint issued it.
struct OAuth2Token: Sendable, Equatable {
    var accessToken: String
    /// The `token_type`, capitalised as `golang.org/x/oauth2` sends it (`Bearer` when absent).
    var type: String
    /// `expires_in`; `nil` when the endpoint gave none (or 0): the token never expires.
    var lifetime: Duration?

    /// The `Authorization` header value: `<type> <token>`.
    var authorization: String { "\(type) \(accessToken)" }

    /// `bearer` → `Bearer`, `mac` → `MAC`, `basic` → `Basic`, empty → `Bearer`, others as sent.
    static func normalizedType(_ type: String) -> String {
        switch type.lowercased() {
        case "", "bearer": return "Bearer"
        case "mac": return "MAC"
        case "basic": return "Basic"
        default: return type
        }
    }

    /// Reads a token endpoint's answer as `golang.org/x/oauth2` does: a JSON object, or a form
    /// (`application/x-www-form-urlencoded` or `text/plain`); an error status, an `error` field
    /// or a missing `access_token` is an ``OAuth2Error``.
    static func parse(_ response: HTTPResponse) throws(OAuth2Error) -> OAuth2Token {
        let mediaType = response.header("content-type")?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let failed = !(200..<300).contains(response.status)
        var fields: [String: String] = [:]
        var lifetime: Int64 = 0
        if mediaType == "application/x-www-form-urlencoded" || mediaType == "text/plain" {
            for pair in String(decoding: response.body, as: UTF8.self).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = FormEncoding.decode(parts[0])
                if fields[key] == nil { fields[key] = parts.count > 1 ? FormEncoding.decode(parts[1]) : "" }
            }
            lifetime = Int64(fields["expires_in"] ?? "") ?? 0
        } else {
            guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
                throw failed ? OAuth2Error.status(response.status, body: response.body) : OAuth2Error.malformed("the token response is not a JSON object")
            }
            for key in ["access_token", "token_type", "error", "error_description"] {
                if let value = object[key] as? String { fields[key] = value }
            }
            // A number, or (PayPal) a string holding one.
            switch object["expires_in"] {
            case let number as NSNumber: lifetime = number.int64Value
            case let text as String: lifetime = Int64(text) ?? 0
            default: break
            }
        }
        if let code = fields["error"], !code.isEmpty {
            throw .endpoint(code: code, description: fields["error_description"] ?? "")
        }
        if failed { throw .status(response.status, body: response.body) }
        guard let token = fields["access_token"], !token.isEmpty else {
            throw .malformed("the token response has no access_token")
        }
        return OAuth2Token(
            accessToken: token, type: normalizedType(fields["token_type"] ?? ""),
            lifetime: lifetime > 0 ? .seconds(min(lifetime, Int64(Int32.max))) : nil)
    }
}

/// Why no OAuth2 token could be had.
public enum OAuth2Error: Error, Sendable, CustomStringConvertible {
    /// The endpoint answered with an error status.
    case status(Int, body: [UInt8])
    /// The endpoint answered with an OAuth2 error (`error`, `error_description`).
    case endpoint(code: String, description: String)
    /// The answer could not be read as a token.
    case malformed(String)

    public var description: String {
        switch self {
        case .status(let status, let body):
            "oauth2: cannot fetch token: status \(status): \(String(decoding: body.prefix(512), as: UTF8.self))"
        case .endpoint(let code, let description):
            description.isEmpty ? "oauth2: \"\(code)\"" : "oauth2: \"\(code)\" \"\(description)\""
        case .malformed(let message): "oauth2: \(message)"
        }
    }
}
