import AgentConfig
import Curl
import Foundation
import Discovery
import Testing
import TestSupport

/// A minimal resource, independent of the real models.
struct ClientTestPod: KubernetesResource, Equatable {
    static let clusterPath = "/api/v1/pods"
    static let kind = "pod"
    static func namespacedPath(_ namespace: String) -> String { "/api/v1/namespaces/\(namespace)/pods" }

    struct Spec: Codable, Sendable, Equatable {
        var nodeName: String?
    }

    var metadata: ObjectMeta
    var spec: Spec?
}

/// A pod as raw JSON for the fake server.
func podJSON(_ name: String, namespace: String = "default", labels: [String: String] = [:], node: String? = nil) -> [String: Any] {
    var spec: [String: Any] = [:]
    if let node { spec["nodeName"] = node }
    return [
        "kind": "Pod", "apiVersion": "v1",
        "metadata": ["name": name, "namespace": namespace, "labels": labels],
        "spec": spec,
    ]
}

/// Runs `body` with a fresh fake API server, stopping it afterwards.
func withFakeAPIServer(token: String? = nil, _ body: (FakeKubernetesAPIServer) async throws -> Void) async throws {
    let server = try await FakeKubernetesAPIServer(token: token)
    do {
        try await body(server)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}

/// A backoff that records the delays it was asked for and sleeps only briefly.
private func recordingBackoff(_ delays: Locked<[Duration]>, sleep: Duration = .milliseconds(50)) -> Backoff {
    Backoff(initial: .seconds(1), maximum: .seconds(30)) { delay in
        delays.withLock { $0.append(delay) }
        try await Task.sleep(for: sleep)
    }
}

/// A temporary directory, removed after `body`.
private func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-client-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try await body(directory)
}

/// Starts `informer.run()` in a task; `body` runs meanwhile; then the task is cancelled and
/// awaited (which must not take long).
func running<T>(_ informer: Informer<T>, _ body: () async throws -> Void) async throws {
    let task = Task { await informer.run() }
    do {
        try await body()
    } catch {
        task.cancel()
        await task.value
        throw error
    }
    let start = ContinuousClock.now
    task.cancel()
    await task.value
    #expect(ContinuousClock.now - start < .seconds(10), "informer did not stop promptly")
}

func names(_ store: [String: ClientTestPod]) -> [String] { store.keys.sorted() }

@Suite struct KubernetesClientTests {
    @Test func listReturnsItemsAndResourceVersion() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a", labels: ["app": "web"], node: "n1"))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("b", namespace: "other", labels: ["app": "db"]))
            let version = server.add(path: ClientTestPod.clusterPath, object: podJSON("c", labels: ["app": "web"]))
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url + "/"), transport: HTTPTransport())

            let all = try await client.list(ClientTestPod.self)
            #expect(all.items.map(\.metadata.name) == ["a", "c", "b"])
            #expect(all.metadata.resourceVersion == String(version))
            #expect(all.items.first?.spec?.nodeName == "n1")
            #expect(all.items.allSatisfy { $0.metadata.uid != nil && $0.metadata.resourceVersion != nil })

            let web = try await client.list(ClientTestPod.self, labelSelector: "app=web")
            #expect(web.items.map(\.metadata.name) == ["a", "c"])
            let other = try await client.list(ClientTestPod.self, namespace: "other")
            #expect(other.items.map(\.metadata.name) == ["b"])
            let onNode = try await client.list(ClientTestPod.self, fieldSelector: "spec.nodeName=n1")
            #expect(onNode.items.map(\.metadata.name) == ["a"])

            let requests = server.requests
            #expect(requests.map(\.path) == ["/api/v1/pods", "/api/v1/pods", "/api/v1/namespaces/other/pods", "/api/v1/pods"])
            #expect(requests[1].query["labelSelector"] == "app=web")
            #expect(requests[1].uri.contains("labelSelector=app%3Dweb"))
        }
    }

    @Test func listErrorsAreTyped() async throws {
        try await withFakeAPIServer(token: "secret") { server in
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport())
            do {
                _ = try await client.list(ClientTestPod.self)
                Issue.record("expected a 401")
            } catch let error as KubernetesClientError {
                #expect(error.statusCode == 401)
            }
            try await server.stop()
            do {
                _ = try await client.list(ClientTestPod.self)
                Issue.record("expected a connection error")
            } catch let error as KubernetesClientError {
                guard case .transport(let curl) = error else {
                    Issue.record("expected a transport error, got \(error)")
                    return
                }
                #expect(curl.kind == .connection)
            }
        }
    }

    @Test func watchDeliversEventsAfterTheListVersion() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport())
            let list = try await client.list(ClientTestPod.self)
            let version = try #require(list.metadata.resourceVersion)
            // A change between list and watch is not lost.
            server.add(path: ClientTestPod.clusterPath, object: podJSON("b"))

            let events = Locked<[String]>([])
            let watch = Task {
                try await client.watch(ClientTestPod.self, resourceVersion: version) { (event: WatchEvent<ClientTestPod>) in
                    let text = switch event {
                    case .added(let pod): "added \(pod.metadata.name)"
                    case .modified(let pod): "modified \(pod.metadata.name) \(pod.metadata.labels ?? [:])"
                    case .deleted(let pod): "deleted \(pod.metadata.name)"
                    case .bookmark(let version): "bookmark \(version)"
                    }
                    events.withLock { $0.append(text) }
                }
            }
            #expect(await eventually(timeout: .seconds(15)) { events.value == ["added b"] })
            #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
            server.modify(path: ClientTestPod.clusterPath, object: podJSON("a", labels: ["x": "y"]))
            server.delete(path: ClientTestPod.clusterPath, namespace: "default", name: "b")
            let bookmark = server.bookmark()
            #expect(await eventually(timeout: .seconds(15)) {
                events.value == ["added b", "modified a [\"x\": \"y\"]", "deleted b", "bookmark \(bookmark)"]
            })

            let watchRequest = try #require(server.requests.last)
            #expect(watchRequest.query["watch"] == "1")
            #expect(watchRequest.query["resourceVersion"] == version)
            #expect(watchRequest.query["allowWatchBookmarks"] == "true")

            let start = ContinuousClock.now
            watch.cancel()
            await #expect(throws: CancellationError.self) { try await watch.value }
            #expect(ContinuousClock.now - start < .seconds(10))
        }
    }

    @Test func cancellingAWatchClosesItsConnectionAtOnce() async throws {
        try await withFakeAPIServer { server in
            let version = server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            let transport = HTTPTransport()
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: transport)
            let opened = Locked(false)
            let watch = Task {
                try await client.watch(
                    ClientTestPod.self, resourceVersion: String(version), onOpen: { opened.withLock { $0 = true } },
                    onEvents: { (_: [WatchEvent<ClientTestPod>]) in })
            }
            #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 && opened.value })
            let start = ContinuousClock.now
            watch.cancel()
            await #expect(throws: CancellationError.self) { try await watch.value }
            // A generous bound that still tells "at once" from the old once-a-second polling.
            #expect(ContinuousClock.now - start < .seconds(5), "the cancellation, not a timeout, ended it")
            #expect(await eventually(timeout: .seconds(5)) { transport.activeTransfers == 0 && server.openWatches == 0 },
                    "the transfer was removed and the server saw the connection close")
        }
    }

    @Test func watchFromACompactedVersionIsGone() async throws {
        try await withFakeAPIServer { server in
            let old = server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("b"))
            server.compact()
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport())
            await #expect {
                try await client.watch(ClientTestPod.self, resourceVersion: String(old)) { (_: WatchEvent<ClientTestPod>) in }
            } throws: { error in
                guard case KubernetesClientError.gone = error else { return false }
                return true
            }
        }
    }

    @Test func watchEndsNormallyAtTheServersTimeout() async throws {
        try await withFakeAPIServer { server in
            let version = server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport())
            let start = ContinuousClock.now
            try await client.watch(ClientTestPod.self, resourceVersion: String(version), timeout: .seconds(1)) { (_: WatchEvent<ClientTestPod>) in }
            // Generous: a loaded CI machine once needed 11.9 s; without the timeout it never ends.
            #expect(ContinuousClock.now - start < .seconds(25))
            #expect(server.requests.last?.query["timeoutSeconds"] == "1")
        }
    }
}

@Suite struct InformerTests {
    @Test func listsThenFollowsChanges() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("b", namespace: "kube-system"))
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport())
            let changes = Locked<[[String]]>([])
            let kinds = Locked<[InformerEventKind]>([])
            let informer = Informer<ClientTestPod>(
                client: client,
                onChange: { store in changes.withLock { $0.append(names(store)) } },
                onEvent: { kind in kinds.withLock { $0.append(kind) } })

            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { informer.hasSynced && server.openWatches == 1 })
                #expect(names(informer.store) == ["default/a", "kube-system/b"])
                #expect(changes.value.first == ["default/a", "kube-system/b"])

                let start = ContinuousClock.now
                server.add(path: ClientTestPod.clusterPath, object: podJSON("c", node: "n2"))
                #expect(await eventually(timeout: .seconds(15)) { informer.store["default/c"] != nil })
                server.modify(path: ClientTestPod.clusterPath, object: podJSON("a", node: "n1"))
                #expect(await eventually(timeout: .seconds(15)) { informer.store["default/a"]?.spec?.nodeName == "n1" })
                let deleted = server.delete(path: ClientTestPod.clusterPath, namespace: "kube-system", name: "b")
                #expect(await eventually(timeout: .seconds(15)) { informer.store["kube-system/b"] == nil })
                #expect(ContinuousClock.now - start < .seconds(10))

                #expect(names(informer.store) == ["default/a", "default/c"])
                #expect(informer.resourceVersion == deleted.map(String.init))
                #expect(changes.value.last == ["default/a", "default/c"])
                #expect(kinds.value == [.add, .add, .add, .update, .delete])
                #expect(informer.lastError == nil)
                #expect(informer.listCount == 1)
            }
        }
    }

    @Test func bookmarksAdvanceTheResourceVersion() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            let changes = Locked(0)
            let informer = Informer<ClientTestPod>(
                client: KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport()),
                onChange: { _ in changes.withLock { $0 += 1 } })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                let bookmark = server.bookmark()
                #expect(await eventually(timeout: .seconds(15)) { informer.resourceVersion == String(bookmark) })
                // A bookmark changes no object.
                #expect(changes.value == 1)

                // The next watch resumes from the bookmark.
                server.closeWatches()
                #expect(await eventually(timeout: .seconds(15)) {
                    server.requests.last.map { $0.isWatch && $0.query["resourceVersion"] == String(bookmark) } ?? false
                })
                #expect(informer.listCount == 1)
            }
        }
    }

    @Test func expiredWatchRelists() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("b"))
            let delays = Locked<[Duration]>([])
            let informer = Informer<ClientTestPod>(
                client: KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport()),
                backoff: recordingBackoff(delays), onChange: { _ in })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                // The server sends 410 on the open watch.
                server.add(path: ClientTestPod.clusterPath, object: podJSON("c"))
                server.expireWatches()
                #expect(await eventually(timeout: .seconds(15)) { informer.listCount == 2 })
                #expect(names(informer.store) == ["default/a", "default/b", "default/c"])

                #expect(delays.value.isEmpty, "a 410 relists at once, without backoff")

                // History compacted while the watch is away: resuming gets 410, so list again.
                #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                server.delete(path: ClientTestPod.clusterPath, namespace: "default", name: "a")
                #expect(await eventually(timeout: .seconds(15)) { informer.store["default/a"] == nil })
                try await server.stop()
                server.add(path: ClientTestPod.clusterPath, object: podJSON("d"))
                server.compact()
                try await server.start()
                #expect(await eventually(timeout: .seconds(15)) { informer.listCount == 3 })
                #expect(names(informer.store) == ["default/b", "default/c", "default/d"])
                let watches = server.requests.filter(\.isWatch)
                #expect(watches.count >= 3)
                #expect(await eventually(timeout: .seconds(15)) { informer.lastError == nil })
            }
        }
    }

    @Test func serverRestartReconnectsWithBackoffAndResyncs() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            let delays = Locked<[Duration]>([])
            let failures = Locked(0)
            let informer = Informer<ClientTestPod>(
                client: KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport()),
                backoff: recordingBackoff(delays, sleep: .milliseconds(100)), onChange: { _ in },
                onFailure: { _ in failures.withLock { $0 += 1 } })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                try await server.stop()
                // Changes while the informer cannot reach the server.
                server.add(path: ClientTestPod.clusterPath, object: podJSON("b"))
                server.delete(path: ClientTestPod.clusterPath, namespace: "default", name: "a")
                #expect(await eventually(timeout: .seconds(15)) { delays.value.count >= 3 })
                #expect(informer.lastError != nil)
                #expect(names(informer.store) == ["default/a"], "a failure keeps the store")

                try await server.start()
                #expect(await eventually(timeout: .seconds(15)) { names(informer.store) == ["default/b"] })
                #expect(await eventually(timeout: .seconds(15)) { informer.lastError == nil })
                // Consecutive failures back off exponentially from 1 s.
                let recorded = delays.value
                #expect(Array(recorded.prefix(3)) == [.seconds(1), .seconds(2), .seconds(4)])
                #expect(failures.value == recorded.count)
                // The watch resumed from its version: no second list.
                #expect(informer.listCount == 1)
            }
        }
    }

    @Test func rotatedTokenIsReReadAfter401() async throws {
        try await withTemporaryDirectory { directory in
            let tokenFile = directory + "/token"
            try "first-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            try await withFakeAPIServer(token: "first-token") { server in
                server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
                var http = HTTPClientConfig()
                http.authorization = Authorization(type: "Bearer", credentials: .file(tokenFile))
                let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url, httpClient: http), transport: HTTPTransport())
                let delays = Locked<[Duration]>([])
                let informer = Informer<ClientTestPod>(client: client, backoff: recordingBackoff(delays), onChange: { _ in })
                try await running(informer) {
                    #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })

                    // Rotate: the file and the server change; the cached token is now refused.
                    try "second-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
                    server.token = "second-token"
                    server.add(path: ClientTestPod.clusterPath, object: podJSON("b"))
                    server.closeWatches()
                    #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                    #expect(await eventually(timeout: .seconds(15)) { informer.store["default/b"] != nil })
                    #expect(delays.value.isEmpty, "the 401 was cured by re-reading, not retried later")

                    let watches = server.requests.filter(\.isWatch).map(\.authorization)
                    #expect(watches.suffix(2) == ["Bearer first-token", "Bearer second-token"])
                }

                // Lists re-read too.
                try "third-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
                server.token = "third-token"
                let list = try await client.list(ClientTestPod.self)
                #expect(list.items.count == 2)
            }
        }
    }

    @Test func anInformerThatCannotListKeepsItsStore() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
            let delays = Locked<[Duration]>([])
            let errors = Locked<[String]>([])
            let informer = Informer<ClientTestPod>(
                client: KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport()),
                backoff: recordingBackoff(delays), onChange: { _ in },
                onFailure: { error in errors.withLock { $0.append("\(error)") } })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                server.listFailure = 500
                server.expireWatches()  // forces a relist, which fails
                #expect(await eventually(timeout: .seconds(15)) { errors.value.count >= 2 })
                #expect(names(informer.store) == ["default/a"])
                #expect(informer.hasSynced)
                let error = try #require(informer.lastError as? KubernetesClientError)
                #expect(error.statusCode == 500)
                #expect(errors.value.first?.contains("injected list failure") == true)

                server.listFailure = nil
                server.add(path: ClientTestPod.clusterPath, object: podJSON("b"))
                #expect(await eventually(timeout: .seconds(15)) { names(informer.store) == ["default/a", "default/b"] })
                #expect(informer.lastError == nil)
            }
        }
    }

    @Test func anInformerThatNeverListedReportsTheError() async throws {
        try await withFakeAPIServer(token: "right") { server in
            let failures = Locked<[String]>([])
            let informer = Informer<ClientTestPod>(
                client: KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport()),
                backoff: recordingBackoff(Locked([])), onChange: { _ in Issue.record("no change expected") },
                onFailure: { error in failures.withLock { $0.append("\(error)") } })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { failures.value.count >= 2 })
                #expect(!informer.hasSynced)
                #expect(informer.store.isEmpty)
                #expect((informer.lastError as? KubernetesClientError)?.statusCode == 401)
            }
        }
    }

    @Test func namespaceAndSelectorsApplyToListAndWatch() async throws {
        try await withFakeAPIServer { server in
            server.add(path: ClientTestPod.clusterPath, object: podJSON("a", namespace: "ns1", labels: ["app": "web"]))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("b", namespace: "ns1", labels: ["app": "db"]))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("c", namespace: "ns2", labels: ["app": "web"]))
            let informer = Informer<ClientTestPod>(
                client: KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport()),
                namespace: "ns1", labelSelector: "app=web", onChange: { _ in })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { server.openWatches == 1 })
                #expect(names(informer.store) == ["ns1/a"])
                server.add(path: ClientTestPod.clusterPath, object: podJSON("d", namespace: "ns1", labels: ["app": "web"]))
                server.add(path: ClientTestPod.clusterPath, object: podJSON("e", namespace: "ns2", labels: ["app": "web"]))
                #expect(await eventually(timeout: .seconds(15)) { names(informer.store) == ["ns1/a", "ns1/d"] })
                #expect(server.requests.allSatisfy { $0.path == "/api/v1/namespaces/ns1/pods" })
            }
        }
    }

    @Test func backoffDoublesUpToTheMaximum() {
        let backoff = Backoff()
        #expect((1...7).map(backoff.delay(afterFailures:))
            == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        #expect(backoff.delay(afterFailures: 1000) == .seconds(30))
    }
}

@Suite struct KubernetesAPIConfigTests {
    @Test func inClusterUsesTheServiceAccount() async throws {
        try await withTemporaryDirectory { directory in
            try "token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            try "CA".write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
            try "monitoring\n".write(toFile: directory + "/namespace", atomically: true, encoding: .utf8)
            let config = try KubernetesAPIConfig.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                serviceAccountDirectory: directory)
            #expect(config.server == "https://10.96.0.1:443")
            #expect(config.namespace == "monitoring")
            #expect(config.httpClient.tls.caFile == directory + "/ca.crt")
            #expect(config.httpClient.authorization == Authorization(type: "Bearer", credentials: .file(directory + "/token")))

            let v6 = try KubernetesAPIConfig.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"],
                serviceAccountDirectory: directory)
            #expect(v6.server == "https://[fd00::1]:6443")

            #expect(throws: KubernetesClientError.self) {
                try KubernetesAPIConfig.inCluster(environment: [:], serviceAccountDirectory: directory)
            }
            #expect(throws: KubernetesClientError.self) {
                try KubernetesAPIConfig.inCluster(
                    environment: ["KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"],
                    serviceAccountDirectory: directory + "/missing")
            }
        }
    }

    @Test func resolvePrefersKubeconfigThenAPIServer() async throws {
        var sd = KubernetesSDConfig(role: .pod)
        sd.apiServer = "http://127.0.0.1:8080/"
        var http = HTTPClientConfig()
        http.tls.insecureSkipVerify = true
        let config = try KubernetesAPIConfig.resolve(sd, httpClient: http, environment: [:])
        #expect(config.server == "http://127.0.0.1:8080")
        #expect(config.httpClient.tls.insecureSkipVerify)
    }

    @Test func kubeconfigWithInlineData() async throws {
        try await withTemporaryDirectory { directory in
            let ca = Data("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
            let cert = Data("client cert".utf8).base64EncodedString()
            let key = Data("client key".utf8).base64EncodedString()
            let yaml = """
                apiVersion: v1
                kind: Config
                # a comment
                clusters:
                - cluster:
                    certificate-authority-data: \(ca)
                    server: https://api.example.test:6443
                  name: prod
                - cluster:
                    server: "https://other.test"   # trailing comment
                    insecure-skip-tls-verify: true
                  name: other
                contexts:
                - context:
                    cluster: prod
                    namespace: monitoring
                    user: agent
                  name: prod-ctx
                - context:
                    cluster: other
                    user: file-user
                  name: other-ctx
                current-context: prod-ctx
                preferences: {}
                users:
                - name: agent
                  user:
                    client-certificate-data: \(cert)
                    client-key-data: \(key)
                    token: 'abc''def'
                - name: file-user
                  user:
                    tokenFile: tokens/agent
                    client-certificate: certs/client.crt
                    client-key: /abs/client.key

                """
            let file = directory + "/kubeconfig"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)

            let config = try KubernetesAPIConfig.kubeconfig(file: file)
            #expect(config.server == "https://api.example.test:6443")
            #expect(config.namespace == "monitoring")
            #expect(config.httpClient.authorization == Authorization(type: "Bearer", credentials: .inline("abc'def")))
            let caFile = try #require(config.httpClient.tls.caFile)
            #expect(try String(contentsOfFile: caFile, encoding: .utf8).contains("CA"))
            let certFile = try #require(config.httpClient.tls.certFile)
            #expect(try String(contentsOfFile: certFile, encoding: .utf8) == "client cert")
            let keyFile = try #require(config.httpClient.tls.keyFile)
            #expect(try String(contentsOfFile: keyFile, encoding: .utf8) == "client key")
            let permissions = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber
            #expect(permissions?.intValue == 0o600)
            // The same content is written once.
            #expect(try KubernetesAPIConfig.kubeconfig(file: file).httpClient.tls.keyFile == keyFile)

            let other = try KubernetesAPIConfig.kubeconfig(file: file, context: "other-ctx")
            #expect(other.server == "https://other.test")
            #expect(other.httpClient.tls.insecureSkipVerify)
            #expect(other.namespace == "default")
            #expect(other.httpClient.authorization == Authorization(type: "Bearer", credentials: .file(directory + "/tokens/agent")))
            #expect(other.httpClient.tls.certFile == directory + "/certs/client.crt")
            #expect(other.httpClient.tls.keyFile == "/abs/client.key")

            #expect(throws: KubernetesClientError.self) {
                try KubernetesAPIConfig.kubeconfig(file: file, context: "missing")
            }
        }
    }

    /// YAML the old hand-written reader rejected: block scalars, flow mappings and sequences,
    /// anchors and aliases, a document marker, a quoted boolean; and an exec-only user.
    @Test func kubeconfigWithRicherYAML() async throws {
        try await withTemporaryDirectory { directory in
            let ca = Data("-----BEGIN CERTIFICATE-----\nRICH CA\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
            // Base64 folded over several lines of a literal block scalar.
            let caLines = stride(from: 0, to: ca.count, by: 16).map { offset in
                "      " + ca.dropFirst(offset).prefix(16)
            }.joined(separator: "\n")
            let yaml = """
                ---
                apiVersion: v1
                kind: Config
                clusters:
                - name: rich
                  cluster:
                    server: &server https://rich.example.test:6443
                    certificate-authority-data: |
                \(caLines)
                    insecure-skip-tls-verify: "true"
                - {name: flow, cluster: {server: *server, certificate-authority: ca/flow.crt}}
                contexts:
                - {name: rich-ctx, context: {cluster: rich, user: rich-user, namespace: observability}}
                - name: flow-ctx
                  context: {cluster: flow, user: exec-user}
                current-context: rich-ctx
                users:
                - name: rich-user
                  user:
                    token: >-
                      folded
                      token
                - name: exec-user
                  user:
                    exec: {command: aws, args: [eks, get-token]}

                """
            let file = directory + "/kubeconfig"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)

            let config = try KubernetesAPIConfig.kubeconfig(file: file)
            #expect(config.server == "https://rich.example.test:6443")
            #expect(config.namespace == "observability")
            #expect(config.httpClient.tls.insecureSkipVerify)
            #expect(config.httpClient.authorization == Authorization(type: "Bearer", credentials: .inline("folded token")))
            let caFile = try #require(config.httpClient.tls.caFile)
            #expect(try String(contentsOfFile: caFile, encoding: .utf8).contains("RICH CA"))

            #expect(throws: KubernetesClientError.self) {
                try KubernetesAPIConfig.kubeconfig(file: file, context: "flow-ctx")
            }
            try yaml.replacingOccurrences(of: "user: exec-user", with: "user: rich-user")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let flow = try KubernetesAPIConfig.kubeconfig(file: file, context: "flow-ctx")
            #expect(flow.server == "https://rich.example.test:6443")
            #expect(flow.httpClient.tls.caFile == directory + "/ca/flow.crt")
            #expect(!flow.httpClient.tls.insecureSkipVerify)
            #expect(flow.namespace == "default")
        }
    }

    @Test func kubeconfigAgainstTheFakeServer() async throws {
        try await withTemporaryDirectory { directory in
            try await withFakeAPIServer(token: "kube-token") { server in
                server.add(path: ClientTestPod.clusterPath, object: podJSON("a"))
                let file = directory + "/config"
                try """
                    {"apiVersion": "v1", "current-context": "c",
                     "clusters": [{"name": "k", "cluster": {"server": "\(server.url)"}}],
                     "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                     "users": [{"name": "u", "user": {"token": "kube-token"}}]}
                    """.write(toFile: file, atomically: true, encoding: .utf8)
                let client = KubernetesClient(config: try KubernetesAPIConfig.kubeconfig(file: file), transport: HTTPTransport())
                #expect(try await client.list(ClientTestPod.self).items.count == 1)
            }
        }
    }
}
