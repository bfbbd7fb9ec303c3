import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An in-process stand-in for the Kubernetes API server, speaking its JSON over HTTP/1.1 on
/// 127.0.0.1, for any resource path. Objects are raw JSON, so it knows nothing of the Swift
/// models.
///
/// Collections are named by their cluster-wide path (`/api/v1/pods`,
/// `/apis/discovery.k8s.io/v1/endpointslices`); a namespaced path
/// (`/api/v1/namespaces/NS/pods`) serves the same collection filtered by namespace.
///
/// - `GET <collection>[?labelSelector=&fieldSelector=]`: a list
///   `{"kind":"<Kind>List","apiVersion":…,"metadata":{"resourceVersion":"N"},"items":[…]}`,
///   sorted by namespace, then name.
/// - Pagination, as the real server does it: `limit=L` answers at most L items and, when more
///   follow, an opaque `metadata.continue` token (and `metadata.remainingItemCount` when the
///   list has no selectors). `continue=<token>` answers the next page **as of the first page's
///   resource version** (the list's `metadata.resourceVersion` stays that of the first page),
///   whatever changed since: the first page pins a snapshot of the collection. A token whose
///   snapshot is gone (``compact()`` past its version, or ``expireContinueTokens()``) gets a
///   410 `Status` of reason `Expired` carrying a fresh token that continues at the latest
///   version (an inconsistent list), as the API server's etcd store answers.
/// - `GET <collection>?watch=1&resourceVersion=N[&allowWatchBookmarks=true][&timeoutSeconds=S]`:
///   a chunked stream of `{"type":…,"object":…}` lines for every change newer than N, then
///   changes as they happen. If N is older than the compaction point (``compact()``), one
///   `ERROR` event with a 410 `Status` and the end of the stream. Without a resource version
///   (or `0`), the current objects first, as `ADDED`.
/// - With a ``token``, requests without `Authorization: Bearer <token>` get a 401 `Status`.
///
/// Selectors: comma-separated `key=value`, `key==value` and `key!=value` terms; label keys for
/// `labelSelector`, dotted JSON paths (`metadata.name`, `spec.nodeName`) for `fieldSelector`.
/// Only equality; no set-based label selectors.
///
/// The store survives ``stop()`` and ``start()`` (which binds the same port again), as etcd
/// survives an API server restart.
public final class FakeKubernetesAPIServer: Sendable {
    /// A request as the server saw it.
    public struct Request: Sendable {
        public var method: String
        /// The full URI, path and query.
        public var uri: String
        public var path: String
        public var query: [String: String]
        public var authorization: String?
        /// Whether this was a watch.
        public var isWatch: Bool { query["watch"] == "1" || query["watch"] == "true" }
    }

    private struct StoredObject: Sendable {
        var data: Data
        var name: String
        var namespace: String?
        var labels: [String: String]
    }

    private struct Event: Sendable {
        var resourceVersion: Int
        var collection: String
        var type: String
        var object: StoredObject
    }

    /// One open watch stream.
    private struct Watcher: Sendable {
        var channel: any Channel
        var collection: String
        var namespace: String?
        var labelSelector: String?
        var fieldSelector: String?
        var bookmarks: Bool
    }

    /// The collection as a paged list's first page saw it; its continue tokens read from it.
    private struct SnapshotKey: Hashable, Sendable {
        var collection: String
        var resourceVersion: Int
    }

    /// What a continue token says: the list's version (-1: the latest) and the last key served.
    private struct ContinueToken: Codable {
        var rv: Int
        /// `namespace/name` of the last item served.
        var after: String

        init(rv: Int, after: String) {
            self.rv = rv
            self.after = after
        }

        init?(_ text: String) {
            guard let data = Data(base64Encoded: text),
                  let token = try? JSONDecoder().decode(Self.self, from: data) else { return nil }
            self = token
        }

        var text: String { (try? JSONEncoder().encode(self))?.base64EncodedString() ?? "" }
    }

    private struct State: Sendable {
        var resourceVersion = 1000
        /// Watches from a resource version older than this get a 410.
        var compactedBefore = 0
        /// collection → "namespace/name" → object.
        var objects: [String: [String: StoredObject]] = [:]
        var events: [Event] = []
        var kinds: [String: String] = [:]
        var watchers: [ObjectIdentifier: Watcher] = [:]
        var connections: [ObjectIdentifier: any Channel] = [:]
        var token: String?
        var requests: [Request] = []
        var listFailure: Int?
        var beforeList: (@Sendable (FakeKubernetesAPIServer, Request) -> Void)?
        /// The collections as paged lists' first pages saw them, for their continue tokens.
        var snapshots: [SnapshotKey: [String: StoredObject]] = [:]
        var serverChannel: (any Channel)?
    }

    private let state: Mutex<State>
    /// The port, kept across restarts.
    public let port: Int

    /// Starts the server on `port` (0: a free one). With `token`, every request must carry it
    /// as a bearer token.
    public init(token: String? = nil, port: Int = 0) async throws {
        var initial = State()
        initial.token = token
        state = Mutex(initial)
        // The handlers find `self` through the reference, set once `self` exists.
        let reference = ServerReference()
        self.reference = reference
        let channel = try await Self.bind(port: port, reference: reference)
        self.port = channel.localAddress!.port!
        state.withLock { $0.serverChannel = channel }
        reference.set(self)
    }

    private let reference: ServerReference

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// The bearer token requests must carry, or `nil` for no check. Change it to simulate a
    /// rotated service-account token.
    public var token: String? {
        get { state.withLock { $0.token } }
        set { state.withLock { $0.token = newValue } }
    }

    /// Every request so far, oldest first.
    public var requests: [Request] { state.withLock { $0.requests } }

    /// The current (latest) resource version.
    public var resourceVersion: Int { state.withLock { $0.resourceVersion } }

    /// The number of open watch streams.
    public var openWatches: Int { state.withLock { $0.watchers.count } }

    /// When set, list requests fail with this status (e.g. 500 or 403); watches are not affected.
    public var listFailure: Int? {
        get { state.withLock { $0.listFailure } }
        set { state.withLock { $0.listFailure = newValue } }
    }

    /// Called with every list request as it arrives, before it is answered, on the server's
    /// event loop and outside its lock: it may change the store or expire continue tokens, to
    /// act between the pages of a list.
    public var beforeList: (@Sendable (FakeKubernetesAPIServer, Request) -> Void)? {
        get { state.withLock { $0.beforeList } }
        set { state.withLock { $0.beforeList = newValue } }
    }

    // MARK: Changing the store

    /// Adds `object` (a JSON object with at least `metadata.name`) to the collection at `path`.
    /// Sets `metadata.resourceVersion`, and `metadata.uid` when missing. Returns the new
    /// resource version.
    @discardableResult
    public func add(path: String, object: [String: Any]) -> Int {
        change(path: path, object: object, type: "ADDED")
    }

    /// ``add(path:object:)`` with the object as JSON bytes.
    @discardableResult
    public func add(path: String, object: Data) -> Int {
        add(path: path, object: Self.parse(object))
    }

    /// Replaces the object with the same namespace and name (keeping its uid unless `object`
    /// has one) and announces it as `MODIFIED`.
    @discardableResult
    public func modify(path: String, object: [String: Any]) -> Int {
        change(path: path, object: object, type: "MODIFIED")
    }

    /// ``modify(path:object:)`` with the object as JSON bytes.
    @discardableResult
    public func modify(path: String, object: Data) -> Int {
        modify(path: path, object: Self.parse(object))
    }

    /// Removes the object and announces its last state (with a new resource version) as
    /// `DELETED`. Returns the new resource version, or `nil` if there was no such object.
    @discardableResult
    public func delete(path: String, namespace: String? = nil, name: String) -> Int? {
        let collection = Self.collection(of: path).collection
        return state.withLock { state -> Int? in
            let key = "\(namespace ?? "")/\(name)"
            guard var object = state.objects[collection]?.removeValue(forKey: key) else { return nil }
            state.resourceVersion += 1
            var json = Self.parse(object.data)
            var metadata = json["metadata"] as? [String: Any] ?? [:]
            metadata["resourceVersion"] = String(state.resourceVersion)
            json["metadata"] = metadata
            object.data = Self.serialize(json)
            append(Event(resourceVersion: state.resourceVersion, collection: collection, type: "DELETED", object: object), to: &state)
            return state.resourceVersion
        }
    }

    /// Advances the resource version (as unrelated writes elsewhere would) and sends a
    /// `BOOKMARK` with it to every watch that asked for bookmarks. Returns the new version.
    @discardableResult
    public func bookmark() -> Int {
        state.withLock { state -> Int in
            state.resourceVersion += 1
            for watcher in state.watchers.values where watcher.bookmarks {
                let kind = state.kinds[watcher.collection] ?? "Object"
                let object: [String: Any] = [
                    "kind": kind, "apiVersion": Self.apiVersion(of: watcher.collection),
                    "metadata": ["resourceVersion": String(state.resourceVersion), "creationTimestamp": NSNull()],
                ]
                Self.write(event: "BOOKMARK", object: Self.serialize(object), to: watcher.channel)
            }
            return state.resourceVersion
        }
    }

    /// Forgets the change history: a later watch from any resource version older than the
    /// current one gets a 410 Gone, and so does a list continued from an older version.
    /// Open watches are not affected (see ``expireWatches()``).
    public func compact() {
        state.withLock { state in
            state.compactedBefore = state.resourceVersion
            state.events.removeAll()
            state.snapshots = state.snapshots.filter { $0.key.resourceVersion >= state.compactedBefore }
        }
    }

    /// Every continue token given out so far gets a 410 `Expired` from now on (as after a
    /// compaction past their version, without advancing the version).
    public func expireContinueTokens() {
        state.withLock { $0.snapshots.removeAll() }
    }

    /// Sends every open watch an `ERROR` event with a 410 `Status` and ends it, as the API
    /// server does when a watcher falls too far behind.
    public func expireWatches() {
        state.withLock { state in
            for watcher in state.watchers.values {
                Self.write(event: "ERROR", object: Self.goneStatus(state.resourceVersion), to: watcher.channel)
                Self.end(watcher.channel)
            }
            state.watchers.removeAll()
        }
    }

    /// Ends every open watch normally (the final chunk), as a watch timeout does.
    public func closeWatches() {
        state.withLock { state in
            for watcher in state.watchers.values { Self.end(watcher.channel) }
            state.watchers.removeAll()
        }
    }

    // MARK: Lifecycle

    /// Stops listening and drops every connection (open watches break mid-stream). The store
    /// is kept; ``start()`` serves it again on the same port.
    public func stop() async throws {
        let (server, connections) = state.withLock { state -> ((any Channel)?, [any Channel]) in
            defer {
                state.serverChannel = nil
                state.connections.removeAll()
                state.watchers.removeAll()
            }
            return (state.serverChannel, Array(state.connections.values))
        }
        for connection in connections { try? await connection.close() }
        try await server?.close()
    }

    /// Listens again on ``port`` after ``stop()``. Retries for a few seconds if the port is
    /// still held.
    public func start() async throws {
        guard state.withLock({ $0.serverChannel == nil }) else { return }
        var attempt = 0
        while true {
            do {
                let channel = try await Self.bind(port: port, reference: reference)
                state.withLock { $0.serverChannel = channel }
                return
            } catch {
                attempt += 1
                if attempt > 50 { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: Internals

    private static func bind(port: Int, reference: ServerReference) async throws -> any Channel {
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(reference: reference))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
    }

    private func change(path: String, object: [String: Any], type: String) -> Int {
        let collection = Self.collection(of: path).collection
        var json = object
        var metadata = json["metadata"] as? [String: Any] ?? [:]
        let name = metadata["name"] as? String ?? ""
        let namespace = metadata["namespace"] as? String
        let labels = metadata["labels"] as? [String: String] ?? [:]
        return state.withLock { state -> Int in
            let key = "\(namespace ?? "")/\(name)"
            if metadata["uid"] == nil {
                if let existing = state.objects[collection]?[key],
                   let uid = (Self.parse(existing.data)["metadata"] as? [String: Any])?["uid"] {
                    metadata["uid"] = uid
                } else {
                    metadata["uid"] = UUID().uuidString.lowercased()
                }
            }
            state.resourceVersion += 1
            metadata["resourceVersion"] = String(state.resourceVersion)
            json["metadata"] = metadata
            if let kind = json["kind"] as? String { state.kinds[collection] = kind }
            let stored = StoredObject(data: Self.serialize(json), name: name, namespace: namespace, labels: labels)
            state.objects[collection, default: [:]][key] = stored
            append(Event(resourceVersion: state.resourceVersion, collection: collection, type: type, object: stored), to: &state)
            return state.resourceVersion
        }
    }

    /// Records `event` and sends it to the matching watches. Called under the lock, so every
    /// watch sees events in order (`writeAndFlush` only enqueues).
    private func append(_ event: Event, to state: inout State) {
        state.events.append(event)
        for watcher in state.watchers.values where Self.matches(event, watcher) {
            Self.write(event: event.type, object: event.object.data, to: watcher.channel)
        }
    }

    private static func matches(_ event: Event, _ watcher: Watcher) -> Bool {
        event.collection == watcher.collection && matches(event.object, namespace: watcher.namespace,
                                                          labelSelector: watcher.labelSelector,
                                                          fieldSelector: watcher.fieldSelector)
    }

    private static func matches(_ object: StoredObject, namespace: String?, labelSelector: String?, fieldSelector: String?) -> Bool {
        if let namespace, object.namespace != namespace { return false }
        if let labelSelector, !selectorMatches(labelSelector, { object.labels[$0] }) { return false }
        if let fieldSelector {
            let json = parse(object.data)
            let matches = selectorMatches(fieldSelector) { path in
                var value: Any? = json
                for component in path.split(separator: ".") {
                    value = (value as? [String: Any])?[String(component)]
                }
                return value.map { "\($0)" }
            }
            if !matches { return false }
        }
        return true
    }

    /// Equality terms: `k=v`, `k==v`, `k!=v`, comma-separated; empty matches everything.
    private static func selectorMatches(_ selector: String, _ lookup: (String) -> String?) -> Bool {
        for term in selector.split(separator: ",") {
            let term = String(term).trimmingCharacters(in: .whitespaces)
            if let range = term.range(of: "!=") {
                let key = String(term[..<range.lowerBound]), value = String(term[range.upperBound...])
                if lookup(key) == value { return false }
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                let key = String(term[..<range.lowerBound]), value = String(term[range.upperBound...])
                if lookup(key) != value { return false }
            } else if lookup(term) == nil {
                return false  // `key`: exists
            }
        }
        return true
    }

    fileprivate func handle(_ head: HTTPRequestHead, channel: any Channel) {
        let components = URLComponents(string: head.uri)
        let path = components?.path ?? head.uri
        var query: [String: String] = [:]
        for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let request = Request(method: head.method.rawValue, uri: head.uri, path: path, query: query,
                              authorization: head.headers.first(name: "authorization"))
        let (collection, namespace) = Self.collection(of: path)
        let labelSelector = query["labelSelector"].flatMap { $0.isEmpty ? nil : $0 }
        let fieldSelector = query["fieldSelector"].flatMap { $0.isEmpty ? nil : $0 }

        if !request.isWatch, let beforeList = state.withLock({ $0.beforeList }) {
            beforeList(self, request)
        }
        state.withLock { state in
            state.requests.append(request)
            if let token = state.token, request.authorization != "Bearer \(token)" {
                Self.respond(channel, status: .unauthorized, body: Self.status(401, reason: "Unauthorized", message: "Unauthorized"))
                return
            }
            guard head.method == .GET else {
                Self.respond(channel, status: .methodNotAllowed,
                             body: Self.status(405, reason: "MethodNotAllowed", message: "only GET is supported"))
                return
            }
            if !request.isWatch {
                if let failure = state.listFailure {
                    Self.respond(channel, status: HTTPResponseStatus(statusCode: failure),
                                 body: Self.status(failure, reason: "InternalError", message: "injected list failure"))
                    return
                }
                respondToList(request, collection: collection, namespace: namespace, labelSelector: labelSelector,
                              fieldSelector: fieldSelector, state: &state, channel: channel)
                return
            }

            // A watch.
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Transfer-Encoding", value: "chunked")
            channel.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
            let from = query["resourceVersion"].flatMap { Int($0) } ?? 0
            if from != 0 && from < state.compactedBefore {
                Self.write(event: "ERROR", object: Self.goneStatus(from), to: channel)
                Self.end(channel)
                return
            }
            if from == 0 {
                for object in (state.objects[collection] ?? [:]).values
                where Self.matches(object, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector) {
                    Self.write(event: "ADDED", object: object.data, to: channel)
                }
            } else {
                for event in state.events where event.resourceVersion > from && event.collection == collection
                    && Self.matches(event.object, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
                {
                    Self.write(event: event.type, object: event.object.data, to: channel)
                }
            }
            state.watchers[ObjectIdentifier(channel)] = Watcher(
                channel: channel, collection: collection, namespace: namespace, labelSelector: labelSelector,
                fieldSelector: fieldSelector, bookmarks: query["allowWatchBookmarks"] == "true")
            if let timeout = query["timeoutSeconds"].flatMap(Int64.init), timeout > 0 {
                channel.eventLoop.scheduleTask(in: .seconds(timeout)) { [weak self] in
                    guard let self else { return }
                    let open = self.state.withLock { $0.watchers.removeValue(forKey: ObjectIdentifier(channel)) != nil }
                    if open { Self.end(channel) }
                }
            }
        }
    }

    /// Answers a list: one page of it with `limit`, the page after a token with `continue`.
    private func respondToList(
        _ request: Request, collection: String, namespace: String?, labelSelector: String?, fieldSelector: String?,
        state: inout State, channel: any Channel
    ) {
        let limit = request.query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        var version = state.resourceVersion
        var objects = state.objects[collection] ?? [:]
        var after: (String, String)?  // namespace, name
        if let text = request.query["continue"], !text.isEmpty {
            guard let token = ContinueToken(text) else {
                Self.respond(channel, status: .badRequest,
                             body: Self.status(400, reason: "BadRequest", message: "continue key is not valid"))
                return
            }
            let split = token.after.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            after = (String(split.first ?? ""), split.count > 1 ? String(split[1]) : "")
            if token.rv != -1 {
                guard let snapshot = state.snapshots[SnapshotKey(collection: collection, resourceVersion: token.rv)] else {
                    let fresh = ContinueToken(rv: -1, after: token.after).text
                    Self.respond(channel, status: .gone, body: Self.expiredContinueStatus(continue: fresh))
                    return
                }
                version = token.rv
                objects = snapshot
            }
        }
        let matching = objects.values
            .filter { Self.matches($0, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector) }
            .filter { object in after.map { (object.namespace ?? "", object.name) > $0 } ?? true }
            .sorted { ($0.namespace ?? "", $0.name) < ($1.namespace ?? "", $1.name) }
        let items = matching.prefix(limit ?? matching.count)
        var metadata = #""resourceVersion":"\#(version)""#
        if items.count < matching.count, let last = items.last {
            let key = SnapshotKey(collection: collection, resourceVersion: version)
            if state.snapshots[key] == nil { state.snapshots[key] = objects }
            let token = ContinueToken(rv: version, after: "\(last.namespace ?? "")/\(last.name)")
            metadata += #","continue":"\#(token.text)""#
            if labelSelector == nil && fieldSelector == nil {
                metadata += #","remainingItemCount":\#(matching.count - items.count)"#
            }
        }
        var body = Data()
        let kind = (state.kinds[collection] ?? "") + "List"
        body.append(contentsOf: #"{"kind":"\#(kind)","apiVersion":"\#(Self.apiVersion(of: collection))","#.utf8)
        body.append(contentsOf: #""metadata":{\#(metadata)},"items":["#.utf8)
        for (index, item) in items.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(item.data)
        }
        body.append(contentsOf: "]}".utf8)
        Self.respond(channel, status: .ok, body: body)
    }

    fileprivate func opened(_ channel: any Channel) {
        state.withLock { $0.connections[ObjectIdentifier(channel)] = channel }
    }

    fileprivate func closed(_ channel: any Channel) {
        state.withLock { state in
            state.connections.removeValue(forKey: ObjectIdentifier(channel))
            state.watchers.removeValue(forKey: ObjectIdentifier(channel))
        }
    }

    // MARK: JSON and HTTP helpers

    /// The cluster-wide collection path of `path`, and the namespace it names, if any:
    /// `/api/v1/namespaces/NS/pods` → (`/api/v1/pods`, `NS`).
    private static func collection(of path: String) -> (collection: String, namespace: String?) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // api/v1/namespaces/NS/R or apis/G/V/namespaces/NS/R
        let prefixLength = parts.first == "api" ? 2 : 3
        if parts.count == prefixLength + 3, parts[prefixLength] == "namespaces" {
            let namespace = parts[prefixLength + 1]
            parts.removeSubrange(prefixLength...(prefixLength + 1))
            return ("/" + parts.joined(separator: "/"), namespace)
        }
        return ("/" + parts.joined(separator: "/"), nil)
    }

    /// `v1` for `/api/v1/…`, `group/version` for `/apis/group/version/…`.
    private static func apiVersion(of collection: String) -> String {
        let parts = collection.split(separator: "/")
        if parts.first == "api", parts.count > 1 { return String(parts[1]) }
        if parts.first == "apis", parts.count > 2 { return "\(parts[1])/\(parts[2])" }
        return "v1"
    }

    private static func parse(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    private static func serialize(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    private static func status(_ code: Int, reason: String, message: String) -> Data {
        serialize([
            "kind": "Status", "apiVersion": "v1", "metadata": [String: Any](), "status": "Failure",
            "message": message, "reason": reason, "code": code,
        ])
    }

    /// apimachinery's answer to a continue token whose version was compacted
    /// (`storage/etcd3`'s `handleCompactedErrorForPaging`): `Expired`, with a token that
    /// continues from the same key at the latest version.
    private static func expiredContinueStatus(continue token: String) -> Data {
        serialize([
            "kind": "Status", "apiVersion": "v1", "metadata": ["continue": token], "status": "Failure",
            "message": "The provided continue parameter is too old to display a consistent list result. "
                + "You can start a new list without the continue parameter, or use the continue token in this "
                + "response to retrieve the remainder of the results. Continuing with the provided token results "
                + "in an inconsistent list - objects that were created, modified, or deleted between the time "
                + "the first chunk was returned and now may show up in the list.",
            "reason": "Expired", "code": 410,
        ])
    }

    private static func goneStatus(_ version: Int) -> Data {
        status(410, reason: "Expired", message: "too old resource version: \(version)")
    }

    private static func write(event type: String, object: Data, to channel: any Channel) {
        var line = Data(#"{"type":"\#(type)","object":"#.utf8)
        line.append(object)
        line.append(contentsOf: "}\n".utf8)
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: line))), promise: nil)
    }

    private static func end(_ channel: any Channel) {
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    private static func respond(_ channel: any Channel, status: HTTPResponseStatus, body: Data) {
        var head = HTTPResponseHead(version: .http1_1, status: status)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }
}

private struct WeakServer: Sendable {
    weak var server: FakeKubernetesAPIServer?
}

/// How the connection handlers find their server (weakly, so a forgotten server can go away).
private final class ServerReference: Sendable {
    private let box = Mutex(WeakServer())
    var server: FakeKubernetesAPIServer? { box.withLock { $0.server } }
    func set(_ server: FakeKubernetesAPIServer) { box.withLock { $0.server = server } }
}

private final class Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let reference: ServerReference
    private var head: HTTPRequestHead?

    init(reference: ServerReference) {
        self.reference = reference
    }

    func channelActive(context: ChannelHandlerContext) {
        reference.server?.opened(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        reference.server?.closed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            if let server = reference.server {
                server.handle(head, channel: context.channel)
            } else {
                context.close(promise: nil)
            }
        }
    }
}
