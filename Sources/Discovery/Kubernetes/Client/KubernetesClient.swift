import AgentConfig
import Transport
import Curl
import Foundation

/// Lists and watches Kubernetes resources over the JSON API.
///
/// **Transport.** Every request goes through the shared ``HTTPTransport``: lists with
/// `perform`, watches with `stream`. No thread is held per request or per watch, and
/// connections (keep-alive, TLS sessions) are pooled with everything else the transport does.
///
/// **Lists are paged** (``listPageSize`` items a request, `limit`/`continue`), as client-go's
/// reflector does, so listing 10,000 pods never holds a 70 MB response: see ``ListPager``.
///
/// **Cancellation.** Cancelling the task of a list or watch aborts its transfer at once.
///
/// **Credentials.** Applied through `Transport`'s ``HTTPClient``: a token file is re-read at
/// most a minute after its last read, and at once after a 401, after which the request is
/// retried once.
public final class KubernetesClient: Sendable {
    /// client-go's page size (`tools/pager`'s `defaultPageSize`).
    public static let defaultListPageSize = 500

    public let config: KubernetesAPIConfig
    /// Items asked for per list request; `nil` lists each collection in one response.
    public let listPageSize: Int?
    private let http: HTTPClient
    private let transport: HTTPTransport
    private static let userAgent = "metrics-agent/\(AgentVersion.current)"
    /// How much of an error response's body is kept for its message.
    private static let maxErrorBodyBytes = 65_536

    /// - Parameter listPageSize: Items per list request (at least 1); `nil` for unpaged lists.
    public init(config: KubernetesAPIConfig, transport: HTTPTransport, listPageSize: Int? = defaultListPageSize) {
        self.config = config
        self.transport = transport
        self.listPageSize = listPageSize
        http = HTTPClient(config: config.httpClient, transport: transport)
    }

    // MARK: List

    /// `GET <collection>`: all objects of `type` in `namespace` (all namespaces when `nil`)
    /// matching the selectors, with the list's resource version to watch from.
    ///
    /// The collection is read in pages of ``listPageSize`` (see ``ListPager``): the result is
    /// one consistent snapshot at the first page's resource version, and only one page's body
    /// is held at a time. A continue token that expires halfway starts the list again.
    ///
    /// - Throws: ``KubernetesClientError``, or `CancellationError` if the task was cancelled
    ///   (the request is aborted).
    public func list<T: KubernetesResource>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil
    ) async throws -> KubernetesList<T> {
        var pager = ListPager<T>(pageSize: listPageSize)
        while true {
            var query = [("labelSelector", labelSelector), ("fieldSelector", fieldSelector)]
            if case .page(let limit, let token) = pager.next {
                query += [("limit", String(limit)), ("continue", token)]
            }
            let url = url(for: T.self, namespace: namespace, query: query)
            do {
                let page = try await listPage(T.self, url: url)
                if let list = pager.received(page) { return list }
            } catch let error as KubernetesClientError {
                try pager.failed(error)
            }
        }
    }

    /// One `GET` of a list: the decoded page.
    private func listPage<T: KubernetesResource>(_ type: T.Type, url: String) async throws -> KubernetesList<T> {
        var response = try await performList(url, refreshCredentials: false)
        if response.status == 401, http.canRefreshCredentials {
            response = try await performList(url, refreshCredentials: true)
        }
        guard (200..<300).contains(response.status) else {
            throw Self.statusError(status: response.status, body: response.body)
        }
        do {
            // Decoded in place: a copy of the body would double the page's footprint.
            return try response.body.withUnsafeBytes { body in
                guard let start = body.baseAddress else { return try JSONDecoder().decode(KubernetesList<T>.self, from: Data()) }
                let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: start), count: body.count, deallocator: .none)
                return try JSONDecoder().decode(KubernetesList<T>.self, from: data)
            }
        } catch {
            throw KubernetesClientError.decoding("\(T.self) list from \(url): \(error)")
        }
    }

    private func performList(_ url: String, refreshCredentials: Bool) async throws -> HTTPResponse {
        var request = try await request(url: url, refreshCredentials: refreshCredentials)
        request.timeout = config.listTimeout
        // Lists compress well; libcurl decodes.
        request.acceptEncoding = ""
        do {
            return try await transport.perform(request)
        } catch let error as CurlError {
            throw KubernetesClientError.transport(error)
        }
    }

    // MARK: Watch

    /// Watches `type` from `resourceVersion` (`?watch=1&allowWatchBookmarks=true`), handing
    /// the events to `onEvents` in batches: the complete events of each chunk read from the
    /// connection, in order.
    ///
    /// `onEvents` (and `onOpen`) run in the calling task, one call at a time, and should return
    /// quickly: the stream is not read meanwhile (the transport buffers a little, then stops
    /// reading from the socket).
    ///
    /// - Parameters:
    ///   - timeout: Asked of the server (`timeoutSeconds`): it ends the watch normally after
    ///     this long. The connection is also given up as dead when nothing at all arrives for
    ///     this long plus a minute. `nil`: no timeout.
    ///   - onOpen: Called once the server accepted the watch (status 200).
    /// - Returns: When the server ends the stream normally (its timeout): watch again from
    ///   the last event's resource version.
    /// - Throws: ``KubernetesClientError/gone(message:)`` when `resourceVersion` is too old (list
    ///   again), another ``KubernetesClientError`` for other failures (an `ERROR` event, an error
    ///   status, a broken connection), or `CancellationError` when the task was cancelled (the
    ///   connection is closed at once).
    public func watch<T: KubernetesResource>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        resourceVersion: String, timeout: Duration? = nil,
        onOpen: @escaping @Sendable () -> Void = {},
        onEvents: @escaping @Sendable ([WatchEvent<T>]) -> Void
    ) async throws {
        let timeoutSeconds = timeout.map { duration -> Int in
            let (seconds, attoseconds) = duration.components
            return max(1, Int(clamping: seconds) + (attoseconds > 0 ? 1 : 0))
        }
        let url = url(for: T.self, namespace: namespace, query: [
            ("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeoutSeconds.map(String.init)),
            ("labelSelector", labelSelector), ("fieldSelector", fieldSelector),
        ])
        let idleTimeout = timeoutSeconds.map { Duration.seconds($0 + 60) }
        var response = try await openWatch(url, idleTimeout: idleTimeout, refreshCredentials: false)
        if response.status == 401, http.canRefreshCredentials {
            response = try await openWatch(url, idleTimeout: idleTimeout, refreshCredentials: true)
        }
        guard response.status == 200 else {
            throw Self.statusError(status: response.status, body: try await Self.errorBody(response.body))
        }
        onOpen()
        var decoder = WatchStreamDecoder<T>()
        do {
            for try await chunk in response.body {
                let (events, failure) = chunk.withUnsafeBytes { decoder.decode($0) }
                if !events.isEmpty { onEvents(events) }
                if let failure { throw failure }
            }
        } catch let error as CurlError {
            throw KubernetesClientError.transport(error)
        }
    }

    /// The convenience form of ``watch(_:namespace:labelSelector:fieldSelector:resourceVersion:timeout:onOpen:onEvents:)``:
    /// one call per event.
    public func watch<T: KubernetesResource>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        resourceVersion: String, timeout: Duration? = nil,
        onEvent: @escaping @Sendable (WatchEvent<T>) -> Void
    ) async throws {
        try await watch(
            type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
            resourceVersion: resourceVersion, timeout: timeout, onOpen: {},
            onEvents: { events in events.forEach(onEvent) })
    }

    /// Starts a watch request; returns once the response head arrived.
    private func openWatch(_ url: String, idleTimeout: Duration?, refreshCredentials: Bool) async throws -> HTTPResponseStream {
        let request = try await request(url: url, refreshCredentials: refreshCredentials)
        do {
            return try await transport.stream(request, idleTimeout: idleTimeout)
        } catch let error as CurlError {
            throw KubernetesClientError.transport(error)
        }
    }

    /// The start of an error response's body (its `Status` object), for the message. A body
    /// that breaks off or does not end keeps what arrived.
    private static func errorBody(_ body: HTTPResponseStream.Body) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            for try await chunk in body {
                bytes += chunk.prefix(maxErrorBodyBytes - bytes.count)
                if bytes.count >= maxErrorBodyBytes { break }
            }
        } catch is CurlError {
            // Keep what arrived.
        }
        return bytes
    }

    // MARK: Requests

    private func request(url: String, refreshCredentials: Bool) async throws(KubernetesClientError) -> HTTPRequest {
        var request = HTTPRequest(url: url, headers: [("Accept", "application/json"), ("User-Agent", Self.userAgent)])
        request.connectTimeout = config.connectTimeout
        do {
            try await http.apply(to: &request, refreshCredentials: refreshCredentials)
        } catch let error as CurlError {
            // An OAuth2 token request that failed.
            throw .transport(error)
        } catch {
            throw .configuration("\(error)")
        }
        return request
    }

    /// `<server><collection path>?<query>`, empty query values left out.
    func url<T: KubernetesResource>(for type: T.Type, namespace: String?, query: [(String, String?)]) -> String {
        let path = namespace.map { T.namespacedPath(Self.escape($0)) } ?? T.clusterPath
        let items = query.compactMap { name, value in
            value.flatMap { $0.isEmpty ? nil : "\(name)=\(Self.escape($0))" }
        }
        return config.server + path + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
    }

    /// Percent-encodes everything but unreserved characters.
    private static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The error for a non-2xx response, from its `Status` body when it has one.
    private static func statusError(status: Int, body: [UInt8]) -> KubernetesClientError {
        if let decoded = try? JSONDecoder().decode(KubernetesStatus.self, from: Data(body)),
           decoded.code != nil || decoded.message != nil
        {
            var decoded = decoded
            decoded.code = status
            return decoded.error(fallbackCode: status)
        }
        let text = String(decoding: body.prefix(512), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let message = text.isEmpty ? "HTTP \(status)" : text
        return status == 410 ? .gone(message: message) : .status(code: status, reason: nil, message: message)
    }
}
