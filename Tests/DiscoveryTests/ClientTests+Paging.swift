import AgentConfig
import Curl
import Foundation
@testable import Discovery
import Testing
import TestSupport

/// `ListPager` alone: the requests it asks for and what it makes of pages and failures.
@Suite struct ListPagerTests {
    private typealias List = KubernetesList<ClientTestPod>

    private func page(_ names: [String], version: String, continue token: String? = nil, remaining: Int? = nil) -> List {
        List(metadata: .init(resourceVersion: version, continue: token, remainingItemCount: remaining),
             items: names.map { ClientTestPod(metadata: ObjectMeta(name: $0)) })
    }

    @Test func pagesFollowTheirTokensAndKeepTheFirstPagesVersion() throws {
        var pager = ListPager<ClientTestPod>(pageSize: 2)
        #expect(pager.next == .page(limit: 2, continue: nil))
        let first = pager.received(page(["a", "b"], version: "10", continue: "t1", remaining: 3))
        #expect(first == nil)
        #expect(pager.next == .page(limit: 2, continue: "t1"))
        // Later pages report the version they were read at, which is the first page's; one that
        // says otherwise does not move the list's version.
        let second = pager.received(page(["c", "d"], version: "11", continue: "t2", remaining: 1))
        #expect(second == nil)
        #expect(pager.next == .page(limit: 2, continue: "t2"))
        let last = pager.received(page(["e"], version: "12"))
        let list = try #require(last)
        #expect(list.items.map(\.metadata.name) == ["a", "b", "c", "d", "e"])
        #expect(list.metadata.resourceVersion == "10")
        #expect(list.metadata.continue == nil)
    }

    @Test func aSinglePageIsTheList() throws {
        var pager = ListPager<ClientTestPod>(pageSize: 500)
        let received = pager.received(page(["a"], version: "7", continue: ""))
        let list = try #require(received)
        #expect(list.items.map(\.metadata.name) == ["a"])
        #expect(list.metadata.resourceVersion == "7")
    }

    @Test func withoutAPageSizeTheListIsOneUnpagedRequest() throws {
        var pager = ListPager<ClientTestPod>(pageSize: nil)
        #expect(pager.next == .unpaged)
        let received = pager.received(page(["a", "b"], version: "7"))
        #expect(received?.items.count == 2)
    }

    @Test func anExpiredTokenStartsAgainThenFallsBackToOneUnpagedList() throws {
        var pager = ListPager<ClientTestPod>(pageSize: 2)
        _ = pager.received(page(["a", "b"], version: "10", continue: "t1"))
        try pager.failed(.gone(message: "expired"))
        #expect(pager.next == .page(limit: 2, continue: nil), "the first expiry lists again from the start")
        _ = pager.received(page(["a", "b"], version: "20", continue: "u1"))
        #expect(pager.next == .page(limit: 2, continue: "u1"))
        try pager.failed(.gone(message: "expired again"))
        #expect(pager.next == .unpaged, "the second expiry reads the collection in one response")
        let received = pager.received(page(["a", "b", "c"], version: "30"))
        let list = try #require(received)
        #expect(list.items.map(\.metadata.name) == ["a", "b", "c"], "nothing of the expired attempts is kept")
        #expect(list.metadata.resourceVersion == "30")
    }

    @Test func otherFailuresAndAGoneFirstPageAreTheCallers() {
        var pager = ListPager<ClientTestPod>(pageSize: 2)
        let goneFirstPage = handsBack(.gone(message: "first page"), &pager)
        #expect(goneFirstPage)
        _ = pager.received(page(["a", "b"], version: "10", continue: "t1"))
        let serverError = handsBack(.status(code: 500, reason: nil, message: "boom"), &pager)
        #expect(serverError)
        #expect(pager.next == .page(limit: 2, continue: "t1"))
    }

    /// Whether `pager` hands `error` back to its caller.
    private func handsBack(_ error: KubernetesClientError, _ pager: inout ListPager<ClientTestPod>) -> Bool {
        do {
            try pager.failed(error)
            return false
        } catch {
            return true
        }
    }
}

/// Paged lists against the fake API server.
@Suite struct PagedListTests {
    private func client(_ server: FakeKubernetesAPIServer, pageSize: Int?) -> KubernetesClient {
        KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport(), listPageSize: pageSize)
    }

    /// Adds `count` pods named `p00`, `p01`, … in `default`; returns the last resource version.
    @discardableResult
    private func addPods(_ server: FakeKubernetesAPIServer, _ count: Int, labels: (Int) -> [String: String] = { _ in [:] }) -> Int {
        var version = 0
        for index in 0..<count {
            version = server.add(path: ClientTestPod.clusterPath, object: podJSON(podName(index), labels: labels(index)))
        }
        return version
    }

    private func podName(_ index: Int) -> String { index < 10 ? "p0\(index)" : "p\(index)" }

    private func escaped(_ token: String) -> String {
        token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token
    }

    private func listRequests(_ server: FakeKubernetesAPIServer) -> [FakeKubernetesAPIServer.Request] {
        server.requests.filter { !$0.isWatch }
    }

    @Test func aListOfSeveralPagesReturnsEveryObjectOnceAtTheFirstPagesVersion() async throws {
        try await withFakeAPIServer { server in
            let version = addPods(server, 23)
            // Changes after the first page are not part of the list: it is the snapshot the
            // first page was read from.
            let pages = Locked(0)
            server.beforeList = { server, request in
                guard request.query["continue"] != nil, pages.withLock({ $0 += 1; return $0 }) == 1 else { return }
                server.add(path: ClientTestPod.clusterPath, object: podJSON("zz-added-between-pages"))
                server.delete(path: ClientTestPod.clusterPath, namespace: "default", name: "p22")
            }

            let list = try await client(server, pageSize: 5).list(ClientTestPod.self)
            #expect(list.items.map(\.metadata.name) == (0..<23).map(podName))
            #expect(list.metadata.resourceVersion == String(version))
            #expect(list.metadata.continue == nil)

            let requests = listRequests(server)
            #expect(requests.count == 5)
            #expect(requests.allSatisfy { $0.query["limit"] == "5" })
            #expect(requests.first?.query["continue"] == nil)
            let tokens = requests.dropFirst().compactMap { $0.query["continue"] }
            #expect(tokens.count == 4 && Set(tokens).count == 4 && tokens.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func theDefaultPageSizeIsClientGos() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 3)
            let client = KubernetesClient(config: KubernetesAPIConfig(server: server.url), transport: HTTPTransport())
            let list = try await client.list(ClientTestPod.self)
            #expect(list.items.count == 3)
            #expect(listRequests(server).map { $0.query["limit"] } == ["500"])
        }
    }

    @Test func anUnpagedClientAsksForTheWholeCollection() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 12)
            let list = try await client(server, pageSize: nil).list(ClientTestPod.self)
            #expect(list.items.count == 12)
            #expect(listRequests(server).map { $0.query["limit"] } == [nil])
        }
    }

    @Test func anExpiredContinueTokenListsAgainFromTheStart() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 12)
            // The second continued page finds its token expired (a compaction while the pages
            // were read), after one more object was added.
            let continued = Locked(0)
            let added = Locked<Int?>(nil)
            server.beforeList = { server, request in
                guard request.query["continue"] != nil, continued.withLock({ $0 += 1; return $0 }) == 2 else { return }
                added.withLock { $0 = server.add(path: ClientTestPod.clusterPath, object: podJSON("p12")) }
                server.compact()
            }

            let list = try await client(server, pageSize: 5).list(ClientTestPod.self)
            #expect(list.items.map(\.metadata.name) == (0..<13).map(podName))
            #expect(list.metadata.resourceVersion == added.value.map(String.init))

            let requests = listRequests(server)
            // Pages 1 and 2, page 3 expired; then pages 1, 2, 3 again.
            #expect(requests.map { $0.query["continue"] == nil } == [true, false, false, true, false, false])
            #expect(requests.allSatisfy { $0.query["limit"] == "5" })
        }
    }

    @Test func theFakeServerAnswersAnExpiredTokenAsTheAPIServerDoes() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 4)
            let transport = HTTPTransport()
            let first = try await transport.perform(HTTPRequest(url: server.url + "/api/v1/pods?limit=2"))
            let page = try JSONDecoder().decode(KubernetesList<ClientTestPod>.self, from: Data(first.body))
            #expect(page.metadata.remainingItemCount == 2)
            let token = try #require(page.metadata.continue)
            server.expireContinueTokens()

            let expired = try await transport.perform(HTTPRequest(url: server.url + "/api/v1/pods?limit=2&continue=\(escaped(token))"))
            #expect(expired.status == 410)
            let status = try #require(try JSONSerialization.jsonObject(with: Data(expired.body)) as? [String: Any])
            #expect(status["kind"] as? String == "Status")
            #expect(status["reason"] as? String == "Expired")
            #expect(status["code"] as? Int == 410)
            #expect((status["message"] as? String)?.hasPrefix("The provided continue parameter is too old") == true)
            // Its fresh token continues (inconsistently) from the same key at the latest version.
            let fresh = try #require((status["metadata"] as? [String: Any])?["continue"] as? String)
            let rest = try await transport.perform(HTTPRequest(url: server.url + "/api/v1/pods?limit=2&continue=\(escaped(fresh))"))
            let restPage = try JSONDecoder().decode(KubernetesList<ClientTestPod>.self, from: Data(rest.body))
            #expect(restPage.items.map(\.metadata.name) == ["p02", "p03"])
        }
    }

    @Test func tokensThatExpireEveryTimeEndInOneUnpagedList() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 12)
            server.beforeList = { server, request in
                if request.query["continue"] != nil { server.expireContinueTokens() }
            }
            let list = try await client(server, pageSize: 5).list(ClientTestPod.self)
            #expect(list.items.map(\.metadata.name) == (0..<12).map(podName))
            let requests = listRequests(server)
            #expect(requests.map { $0.query["limit"] } == ["5", "5", "5", "5", nil])
            #expect(requests.map { $0.query["continue"] == nil } == [true, false, true, false, true])
        }
    }

    @Test func selectorsApplyToEveryPage() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 20) { ["app": $0.isMultiple(of: 3) ? "web" : "db"] }
            server.add(path: ClientTestPod.clusterPath, object: podJSON("elsewhere", namespace: "other", labels: ["app": "web"]))
            server.add(path: ClientTestPod.clusterPath, object: podJSON("on-node", namespace: "other", node: "n1"))
            let client = client(server, pageSize: 2)

            let web = try await client.list(ClientTestPod.self, namespace: "default", labelSelector: "app=web")
            #expect(web.items.map(\.metadata.name) == stride(from: 0, to: 20, by: 3).map(podName))
            let requests = listRequests(server)
            #expect(requests.count == 4)
            #expect(requests.allSatisfy {
                $0.path == "/api/v1/namespaces/default/pods" && $0.query["labelSelector"] == "app=web" && $0.query["limit"] == "2"
            })

            let onNode = try await client.list(ClientTestPod.self, fieldSelector: "spec.nodeName=n1")
            #expect(onNode.items.map(\.metadata.name) == ["on-node"])
            let notWeb = try await client.list(ClientTestPod.self, labelSelector: "app!=web")
            #expect(notWeb.items.count == 20 - 7 + 1)
        }
    }

    @Test func anInformerOverPagedListsHasTheWholeStoreAndMissesNoChange() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 12)
            // A pod added while the first list is being paged comes by the watch from the
            // first page's version.
            let continued = Locked(0)
            server.beforeList = { server, request in
                guard request.query["continue"] != nil, continued.withLock({ $0 += 1; return $0 }) == 1 else { return }
                server.add(path: ClientTestPod.clusterPath, object: podJSON("p12"))
            }
            let informer = Informer<ClientTestPod>(client: client(server, pageSize: 5), onChange: { _ in })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { informer.store.count == 13 })
                #expect(names(informer.store) == (0..<13).map { "default/" + podName($0) })
                #expect(informer.listCount == 1)
                #expect(listRequests(server).count == 3)
            }
        }
    }

    @Test func anInformerRelistThatExpiresKeepsItsStoreAndEndsComplete() async throws {
        try await withFakeAPIServer { server in
            addPods(server, 12)
            let failures = Locked(0)
            let smallestStore = Locked(Int.max)
            let informer = Informer<ClientTestPod>(
                client: client(server, pageSize: 5),
                onChange: { store in smallestStore.withLock { $0 = min($0, store.count) } },
                onFailure: { _ in failures.withLock { $0 += 1 } })
            try await running(informer) {
                #expect(await eventually(timeout: .seconds(15)) { informer.hasSynced && server.openWatches == 1 })
                // The watch expires; the relist's first continued page expires too, after a
                // deletion and an addition.
                let expiredOnce = Locked(false)
                server.beforeList = { server, request in
                    guard request.query["continue"] != nil, !expiredOnce.withLock({ let was = $0; $0 = true; return was }) else { return }
                    server.delete(path: ClientTestPod.clusterPath, namespace: "default", name: "p00")
                    server.add(path: ClientTestPod.clusterPath, object: podJSON("p12"))
                    server.expireContinueTokens()
                }
                server.expireWatches()
                #expect(await eventually(timeout: .seconds(15)) { informer.listCount == 2 })
                #expect(names(informer.store) == (1..<13).map { "default/" + podName($0) })
                #expect(expiredOnce.value)
                #expect(failures.value == 0, "the expired token was the pager's to handle")
                #expect(smallestStore.value == 12, "the store was never emptied")
                #expect(informer.lastError == nil)
            }
        }
    }
}
