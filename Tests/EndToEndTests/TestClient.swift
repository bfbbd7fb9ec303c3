import Curl

/// The end-to-end tests' one HTTP client: every request the tests make themselves (to the
/// agent's admin endpoints, to Prometheus's and VictoriaMetrics's APIs, through the crash
/// proxy) runs on one shared ``HTTPTransport``, the agent's own client, whose single I/O thread
/// lives as long as the test process.
enum TestClient {
    static let transport = HTTPTransport(maxConnections: 64)

    /// Performs `request`; HTTP error statuses are responses, not errors.
    static func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await transport.perform(request)
    }

    /// `GET url`.
    static func get(_ url: String, timeout: Duration = .seconds(10)) async throws -> HTTPResponse {
        try await transport.perform(HTTPRequest(url: url, timeout: timeout))
    }

    /// `POST url` with `body`.
    static func post(_ url: String, body: [UInt8] = [], timeout: Duration = .seconds(10)) async throws -> HTTPResponse {
        try await transport.perform(HTTPRequest(method: .post, url: url, body: body, timeout: timeout))
    }

    /// The status of `GET url`, or `nil` when no response arrived (nothing listens yet, …).
    static func status(_ url: String, timeout: Duration = .seconds(2)) async -> Int? {
        try? await get(url, timeout: timeout).status
    }
}
