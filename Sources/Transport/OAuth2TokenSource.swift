import AgentConfig
import Curl
import Model

/// The access tokens of one `oauth2` config: fetched with the client-credentials grant over the
/// shared ``HTTPTransport``, cached, and shared by every request of the scrape job, endpoint or
/// SD config that owns this source.
///
/// **Caching.** A token is reused until ``expiryMargin`` before its `expires_in` runs out (a
/// token without `expires_in` never expires), as `golang.org/x/oauth2` does. It is fetched
/// anew when the client secret changed (a `client_secret_file` is re-read when the file
/// changes, see ``SecretReader``), and when a request was refused (``token(refresh:timeout:)``
/// with `refresh`), at most once per ``minimumAgeForRefresh`` so that an endpoint refusing
/// every token does not turn each scrape into a token request.
///
/// **One request at a time.** Callers that need a token while one is being fetched wait for
/// that fetch instead of starting their own: many scrapes, one token request.
///
/// **Client authentication** follows `golang.org/x/oauth2`'s auto-detection: the first request
/// sends the client ID and secret as HTTP Basic credentials (each form-escaped); if that fails,
/// the same request is sent again with them as `client_id` and `client_secret` form fields. The
/// style that worked is used from then on.
///
/// Nothing here blocks a thread: the token request is an ordinary transfer of the transport.
public actor OAuth2TokenSource {
    /// How long before its expiry a token is replaced (`golang.org/x/oauth2`'s `expiryDelta`).
    public static let expiryMargin: Duration = .seconds(10)
    /// The youngest a token may be for a refused request to replace it.
    public static let minimumAgeForRefresh: Duration = .seconds(10)
    /// The most of a token response that is read (`golang.org/x/oauth2` reads 1 MiB).
    static let maxResponseBytes = 1 << 20

    /// Where the client credentials go in the token request.
    enum ClientAuthStyle: Sendable {
        case basicAuth
        case formFields
    }

    private struct Cached {
        var token: OAuth2Token
        var fetchedAt: ContinuousClock.Instant
        /// The secret the token was fetched with.
        var secret: String
    }

    private enum State {
        case empty
        case cached(Cached)
        /// A fetch is running; later callers await it.
        case fetching(Task<Cached, any Error>)
    }

    private let config: OAuth2Config
    private let secret: SecretReader?
    private let transport: HTTPTransport
    private let tokenClient: HTTPClient
    private let clock: any AgentClock
    private var state = State.empty
    /// Learned from the first successful fetch; `nil` until then.
    private var authStyle: ClientAuthStyle?

    public init(config: OAuth2Config, transport: HTTPTransport, clock: any AgentClock) {
        self.config = config
        secret = config.clientSecret.map(SecretReader.init)
        self.transport = transport
        var client = HTTPClientConfig()
        client.tls = config.tls
        client.proxyURL = config.proxyURL
        client.noProxy = config.noProxy
        client.proxyFromEnvironment = config.proxyFromEnvironment
        client.proxyConnectHeaders = config.proxyConnectHeaders
        tokenClient = HTTPClient(config: client, transport: transport, clock: clock)
        self.clock = clock
    }

    /// The `Authorization` header value for a request: `Bearer <token>` (or the type the
    /// endpoint named).
    ///
    /// - Parameters:
    ///   - refresh: The last request with the cached token was refused (401): fetch a new
    ///     one, unless the cached token is younger than ``minimumAgeForRefresh``.
    ///   - timeout: Limit for a token request this call starts.
    /// - Throws: ``OAuth2Error``, a ``CurlError``, or a ``SecretError`` for an unreadable
    ///   `client_secret_file`.
    public func authorization(refresh: Bool = false, timeout: Duration) async throws -> String {
        try await token(refresh: refresh, timeout: timeout).authorization
    }

    func token(refresh: Bool, timeout: Duration) async throws -> OAuth2Token {
        let secret = try self.secret?.value() ?? ""
        switch state {
        case .fetching(let task):
            return try await task.value.token
        case .cached(let cached):
            let now = clock.now
            let live = cached.token.lifetime.map { now < cached.fetchedAt + $0 - Self.expiryMargin } ?? true
            let refused = refresh && now - cached.fetchedAt >= Self.minimumAgeForRefresh
            if live, cached.secret == secret, !refused { return cached.token }
        case .empty:
            break
        }
        // Short-lived: it ends with the one token request, and every caller awaits it.
        let task = Task { try await self.fetch(secret: secret, timeout: timeout) }
        state = .fetching(task)
        do {
            let cached = try await task.value
            state = .cached(cached)
            return cached.token
        } catch {
            state = .empty
            throw error
        }
    }

    /// One token request (two while the client authentication style is still unknown).
    private func fetch(secret: String, timeout: Duration) async throws -> Cached {
        if let style = authStyle {
            return try await fetch(secret: secret, style: style, timeout: timeout)
        }
        let token: Cached
        do {
            token = try await fetch(secret: secret, style: .basicAuth, timeout: timeout)
            authStyle = .basicAuth
        } catch {
            token = try await fetch(secret: secret, style: .formFields, timeout: timeout)
            authStyle = .formFields
        }
        return token
    }

    private func fetch(secret: String, style: ClientAuthStyle, timeout: Duration) async throws -> Cached {
        var request = HTTPRequest(
            method: .post, url: config.tokenURL,
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("User-Agent", "metrics-agent/\(AgentVersion.current)"),
            ],
            body: Array(Self.form(config, secret: secret, style: style).utf8),
            timeout: timeout)
        request.maxResponseBytes = Self.maxResponseBytes
        try await tokenClient.apply(to: &request)
        if style == .basicAuth {
            request.basicAuth = CurlBasicAuth(username: FormEncoding.escape(config.clientID), password: FormEncoding.escape(secret))
        }
        let response = try await transport.perform(request)
        return Cached(token: try OAuth2Token.parse(response), fetchedAt: clock.now, secret: secret)
    }

    /// The token request's form: `grant_type=client_credentials`, `scope` (space-separated),
    /// the endpoint parameters (which may replace `grant_type`), and with ``ClientAuthStyle/formFields``
    /// `client_id` and `client_secret` (each only when not empty).
    static func form(_ config: OAuth2Config, secret: String, style: ClientAuthStyle) -> String {
        var fields = ["grant_type": "client_credentials"]
        if !config.scopes.isEmpty { fields["scope"] = config.scopes.joined(separator: " ") }
        fields.merge(config.endpointParams) { _, param in param }
        if style == .formFields {
            if !config.clientID.isEmpty { fields["client_id"] = config.clientID }
            if !secret.isEmpty { fields["client_secret"] = secret }
        }
        return FormEncoding.encode(fields.map { ($0.key, $0.value) })
    }
}
