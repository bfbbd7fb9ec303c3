/// A URL as it may be shown: in logs, metric labels, error messages and status output. A
/// password in its user information (`https://user:password@hub/...`, a form some hubs
/// document) is replaced by `xxxxx`, as Go's `url.URL.Redacted()` (and so Prometheus) shows it:
/// `https://user:xxxxx@hub/...`. Everything else is kept as written.
///
/// Invariant: `description` never contains the password of the URL it was made from. Code that
/// shows a configured URL shows this, never the URL itself.
public struct RedactedURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL with its password, if any, replaced.
    public let description: String
    /// `user:password@` as written in the URL, when it has a password; nil otherwise.
    private let secretUserInfo: Substring?

    public init(_ url: String) {
        guard let userInfo = Self.userInfo(of: url), let colon = userInfo.firstIndex(of: ":") else {
            description = url
            secretUserInfo = nil
            return
        }
        // userInfo spans "user:password" (indices of `url`); the "@" is at its end index.
        description = String(url[..<colon]) + ":xxxxx" + String(url[userInfo.endIndex...])
        secretUserInfo = url[userInfo.startIndex...userInfo.endIndex]
    }

    /// `text` with every occurrence of the URL's `user:password@` replaced by `user:xxxxx@`:
    /// for messages of lower layers (libcurl, the HTTP client) that may quote the URL.
    public func scrub(_ text: String) -> String {
        guard let secretUserInfo, let colon = secretUserInfo.firstIndex(of: ":") else { return text }
        let redacted = String(secretUserInfo[..<colon]) + ":xxxxx@"
        return text.replacing(String(secretUserInfo), with: redacted)
    }

    /// The user information of `url` (between `scheme://` and the last `@` of the authority),
    /// without the `@`; nil when there is none.
    private static func userInfo(of url: String) -> Substring? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        return authority[..<at]
    }
}
