/// `oauth2` in an `http_config`: the client-credentials grant (RFC 6749 §4.4). The agent fetches
/// an access token from ``tokenURL`` and sends it as `Authorization: Bearer <token>` with each
/// request of the scrape job, remote-write endpoint or Kubernetes SD config it belongs to.
///
/// Invariant: set only when none of `basic_auth`, `authorization`, `bearer_token(_file)` is (the
/// loader rejects the combination, as Prometheus does).
public struct OAuth2Config: Sendable, Equatable {
    public var clientID: String
    /// `client_secret` or `client_secret_file` (re-read when the file changes); `nil`: an empty
    /// secret.
    public var clientSecret: Secret?
    /// Sent space-separated as `scope`.
    public var scopes: [String] = []
    public var tokenURL: String
    /// Extra form parameters of the token request (`endpoint_params`); they may override
    /// `grant_type` (e.g. the password grant), not `scope`.
    public var endpointParams: [String: String] = [:]
    /// TLS for the token request (its own, not the target's).
    public var tls = TLSConfig()
    /// Proxy for the token request (its own, not the target's), with the `http_config`
    /// meanings of ``HTTPClientConfig/proxyURL``, ``HTTPClientConfig/noProxy``,
    /// ``HTTPClientConfig/proxyFromEnvironment`` and ``HTTPClientConfig/proxyConnectHeaders``.
    public var proxyURL: String?
    public var noProxy: String?
    public var proxyFromEnvironment = false
    public var proxyConnectHeaders: [ProxyConnectHeader] = []

    public init(clientID: String, clientSecret: Secret?, tokenURL: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tokenURL = tokenURL
    }
}
