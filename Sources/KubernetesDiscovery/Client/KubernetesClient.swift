import AgentConfig
import AgentHTTP
import Curl
import Foundation
import Synchronization

/// Lists and watches Kubernetes resources over the JSON API.
///
/// **Threads.** libcurl calls block, so every request runs on a dedicated `Thread` started for
/// it (a list: for its duration; a watch: for as long as it streams), bridged to `async` with a
/// continuation. Nothing blocks the cooperative pool or an event loop. Threads are cheap next
/// to the requests (a handful of informers per job, lists minutes apart), so there is no pool.
///
/// **Connections.** Lists reuse keep-alive connections from a small idle pool; each watch
/// uses a connection of its own for its lifetime.
///
/// **Credentials.** Applied through `AgentHTTP`'s ``HTTPClient``: a token file is re-read at
/// most a minute after its last read, and at once after a 401, after which the request is
/// retried once.
public final class KubernetesClient: Sendable {
    public let config: KubernetesAPIConfig
    private let http: HTTPClient
    private let idleConnections = Mutex<[HTTPConnection]>([])
    private static let maxIdleConnections = 4
    private static let userAgent = "metrics-agent/\(AgentVersion.current)"

    public init(config: KubernetesAPIConfig) {
        self.config = config
        http = HTTPClient(config: config.httpClient)
    }

    // MARK: List

    /// `GET <collection>`: all objects of `type` in `namespace` (all namespaces when `nil`)
    /// matching the selectors, with the list's resource version to watch from.
    ///
    /// - Throws: ``KubernetesClientError``, or `CancellationError` if the task was cancelled
    ///   before the request started (a started list runs to its end or ``KubernetesAPIConfig/listTimeout``).
    public func list<T: KubernetesResource>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil
    ) async throws -> KubernetesList<T> {
        try Task.checkCancellation()
        let url = url(for: T.self, namespace: namespace, query: [
            ("labelSelector", labelSelector), ("fieldSelector", fieldSelector),
        ])
        let result: Result<KubernetesList<T>, KubernetesClientError> = await onOwnThread { [self] in
            Result { () throws(KubernetesClientError) -> KubernetesList<T> in try self.blockingList(url) }
        }
        return try result.get()
    }

    private func blockingList<T: KubernetesResource>(_ url: String) throws(KubernetesClientError) -> KubernetesList<T> {
        let connection = idleConnections.withLock { $0.popLast() } ?? HTTPConnection()
        var response = try perform(connection, url: url, refreshCredentials: false)
        if response.status == 401, http.hasCredentialFile {
            response = try perform(connection, url: url, refreshCredentials: true)
        }
        idleConnections.withLock { idle in
            if idle.count < Self.maxIdleConnections { idle.append(connection) }
        }
        guard (200..<300).contains(response.status) else {
            throw Self.statusError(status: response.status, body: response.body)
        }
        do {
            return try JSONDecoder().decode(KubernetesList<T>.self, from: Data(response.body))
        } catch {
            throw .decoding("\(T.self) list from \(url): \(error)")
        }
    }

    private func perform(_ connection: HTTPConnection, url: String, refreshCredentials: Bool) throws(KubernetesClientError) -> HTTPResponse {
        var request = try request(url: url, refreshCredentials: refreshCredentials)
        request.timeout = config.listTimeout
        // Lists compress well; libcurl decodes.
        request.acceptEncoding = ""
        do {
            return try connection.perform(request)
        } catch {
            throw .transport(error)
        }
    }

    // MARK: Watch

    /// Watches `type` from `resourceVersion` (`?watch=1&allowWatchBookmarks=true`), handing
    /// the events to `onEvents` in batches: the complete events of each read from the
    /// connection, in order.
    ///
    /// `onEvents` (and `onOpen`) run on the watch's own thread, one call at a time, and must
    /// not block for long: the stream is not read meanwhile.
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
    ///   status, a broken connection), or `CancellationError` when the task was cancelled
    ///   (noticed within about a second).
    public func watch<T: KubernetesResource>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        resourceVersion: String, timeout: Duration? = nil,
        onOpen: @escaping @Sendable () -> Void = {},
        onEvents: @escaping @Sendable ([WatchEvent<T>]) -> Void
    ) async throws {
        try Task.checkCancellation()
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
        let cancellation = StreamCancellation()
        let result: Result<Void, KubernetesClientError> = await withTaskCancellationHandler {
            await onOwnThread { [self] in
                Result { () throws(KubernetesClientError) in
                    var outcome = try blockingWatch(url, idleTimeout: idleTimeout, cancellation: cancellation,
                                                    refreshCredentials: false, onOpen: onOpen, onEvents: onEvents)
                    if outcome == .unauthorized, http.hasCredentialFile {
                        outcome = try blockingWatch(url, idleTimeout: idleTimeout, cancellation: cancellation,
                                                    refreshCredentials: true, onOpen: onOpen, onEvents: onEvents)
                    }
                    if outcome == .unauthorized {
                        throw .status(code: 401, reason: "Unauthorized", message: "Unauthorized")
                    }
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
        if cancellation.isCancelled { throw CancellationError() }
        try result.get()
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

    private enum WatchOutcome { case ended, unauthorized }

    private func blockingWatch<T: KubernetesResource>(
        _ url: String, idleTimeout: Duration?, cancellation: StreamCancellation, refreshCredentials: Bool,
        onOpen: @Sendable () -> Void, onEvents: @Sendable ([WatchEvent<T>]) -> Void
    ) throws(KubernetesClientError) -> WatchOutcome {
        var request = try request(url: url, refreshCredentials: refreshCredentials)
        request.connectTimeout = config.connectTimeout
        var decoder = WatchStreamDecoder<T>()
        var status = 0
        var errorBody: [UInt8] = []
        var failure: KubernetesClientError?
        do {
            try HTTPConnection().stream(
                request, idleTimeout: idleTimeout, cancellation: cancellation,
                onStatus: { code in
                    status = code
                    if code == 200 { onOpen() }
                },
                onData: { bytes in
                    guard status == 200 else {
                        // An error status: keep (the start of) its Status body for the message.
                        errorBody.append(contentsOf: bytes.prefix(max(0, 65_536 - errorBody.count)))
                        return true
                    }
                    let (events, error) = decoder.decode(bytes)
                    if !events.isEmpty { onEvents(events) }
                    failure = error
                    return error == nil
                })
        } catch {
            if cancellation.isCancelled { return .ended }
            throw .transport(error)
        }
        if let failure { throw failure }
        if cancellation.isCancelled { return .ended }
        if status == 401 { return .unauthorized }
        guard status == 200 else { throw Self.statusError(status: status, body: errorBody) }
        return .ended
    }

    // MARK: Requests

    private func request(url: String, refreshCredentials: Bool) throws(KubernetesClientError) -> HTTPRequest {
        var request = HTTPRequest(url: url, headers: [("Accept", "application/json"), ("User-Agent", Self.userAgent)])
        request.connectTimeout = config.connectTimeout
        do {
            try http.apply(to: &request, refreshCredentials: refreshCredentials)
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

/// Runs blocking `work` on a new thread (with a stack big enough for decoding deep JSON) and
/// returns its result.
func onOwnThread<R: Sendable>(_ work: @escaping @Sendable () -> R) async -> R {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 4 << 20
        thread.name = "kubernetes-client"
        thread.start()
    }
}
