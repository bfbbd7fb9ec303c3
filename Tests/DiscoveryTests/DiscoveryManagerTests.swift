import AgentConfig
import Curl
import Foundation
import Logging
import Model
import TestSupport
import Testing
import WAL

@testable import Discovery

/// The discovery manager against the fake API server: providers and informers are shared, a
/// reload keeps what did not change, updates go out per job and group and are coalesced.
@Suite struct DiscoveryManagerTests {
    static let podsPath = "/api/v1/pods"

    static func pod(_ name: String, ip: String = "10.0.0.1", version: String = "1") -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": name, "namespace": "shop", "labels": ["app": "web", "version": version]],
            "spec": ["nodeName": "node-1", "containers": [["name": "app", "ports": [["containerPort": 8080]]]]],
            "status": ["phase": "Running", "podIP": ip],
        ]
    }

    static func kubernetes(_ role: KubernetesSDConfig.Role, _ server: FakeKubernetesAPIServer) -> DiscoveryConfig {
        var config = KubernetesSDConfig(role: role)
        config.apiServer = server.url
        return .kubernetes(config)
    }

    /// Lists (not watches) of `path` the server has answered.
    static func lists(_ server: FakeKubernetesAPIServer, _ path: String) -> Int {
        server.requests.filter { $0.path == path && !$0.isWatch }.count
    }

    /// Runs a manager with `clock` while `body` runs; `body` gets the manager, the task group
    /// (for `apply`) and the deliveries so far.
    static func withManager(
        clock: any AgentClock = SystemClock(),
        _ body: (DiscoveryManager, inout DiscardingTaskGroup, Locked<[DiscoveryManager.Update]>) async throws -> Void
    ) async throws {
        let delivered = Locked<[DiscoveryManager.Update]>([])
        let pool = try BlockingIOPool(threads: 1, name: "test-io")
        let manager = DiscoveryManager(
            transport: HTTPTransport(), pool: pool, clock: clock, logger: Logger(label: "test"),
            deliver: { updates in delivered.withLock { $0 += updates } })
        await withDiscardingTaskGroup { group in
            group.addTask { await manager.run() }
            do {
                try await body(manager, &group, delivered)
            } catch {
                Issue.record(error)
            }
            group.cancelAll()
        }
    }

    /// The latest group per source delivered to `job`, without the empty ones.
    static func groups(_ delivered: [DiscoveryManager.Update], job: String) -> [String: TargetGroup] {
        var current: [String: TargetGroup] = [:]
        for update in delivered where update.job == job {
            for group in update.groups { current[group.source] = group.targets.isEmpty ? nil : group }
        }
        return current
    }

    @Test(.timeLimit(.minutes(1)))
    func jobsWithEqualConfigsShareOneProviderAndRolesShareInformers() async throws {
        let server = try await FakeKubernetesAPIServer()
        defer { Task { try? await server.stop() } }
        server.add(path: Self.podsPath, object: Self.pod("web-1"))
        try await Self.withManager { manager, group, delivered in
            let pods = Self.kubernetes(.pod, server)
            _ = await manager.apply(
                [("pods-a", [pods]), ("pods-b", [pods]), ("slices", [Self.kubernetes(.endpointslice, server)])], in: &group)
            #expect(manager.providerCount == 2)
            let both = await eventually(timeout: .seconds(20)) {
                !Self.groups(delivered.value, job: "pods-a").isEmpty && !Self.groups(delivered.value, job: "pods-b").isEmpty
            }
            #expect(both)
            // Pods are listed once for the pod role and the endpointslice role together.
            #expect(await eventually(timeout: .seconds(20)) { manager.informers.count == 3 })
            #expect(Self.lists(server, Self.podsPath) == 1)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aReloadKeepsUnchangedProvidersWithoutListingAgainAndStopsUnusedOnes() async throws {
        let server = try await FakeKubernetesAPIServer()
        defer { Task { try? await server.stop() } }
        server.add(path: Self.podsPath, object: Self.pod("web-1"))
        try await Self.withManager { manager, group, delivered in
            let pods = Self.kubernetes(.pod, server)
            _ = await manager.apply([("pods", [pods]), ("nodes", [Self.kubernetes(.node, server)])], in: &group)
            #expect(await eventually(timeout: .seconds(20)) { !Self.groups(delivered.value, job: "pods").isEmpty })

            // A new job with the same config joins the running provider and gets its groups at once.
            let known = await manager.apply([("pods", [pods]), ("pods-too", [pods])], in: &group)
            #expect(known["pods-too"]?.values.flatMap { $0 }.map(\.source) == ["pod/shop/web-1"])
            #expect(manager.providerCount == 1)
            #expect(await eventually(timeout: .seconds(20)) { manager.informers.count == 1 }, "the node informer stopped")
            #expect(Self.lists(server, Self.podsPath) == 1)

            // Both jobs follow later changes.
            server.add(path: Self.podsPath, object: Self.pod("web-2", ip: "10.0.0.2"))
            #expect(await eventually(timeout: .seconds(20)) {
                Self.groups(delivered.value, job: "pods-too")["pod/shop/web-2"] != nil
                    && Self.groups(delivered.value, job: "pods")["pod/shop/web-2"] != nil
            })
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theFirstReportGoesOutAtOnceAndLaterChangesAreCoalescedPerInterval() async throws {
        let server = try await FakeKubernetesAPIServer()
        defer { Task { try? await server.stop() } }
        for name in ["a", "b", "c"] { server.add(path: Self.podsPath, object: Self.pod(name)) }
        let clock = ManualClock()
        try await Self.withManager(clock: clock) { manager, group, delivered in
            _ = await manager.apply([("pods", [Self.kubernetes(.pod, server)])], in: &group)
            #expect(await eventually(timeout: .seconds(20)) { Self.groups(delivered.value, job: "pods").count == 3 })
            #expect(delivered.value.count == 1, "the first report is one delivery")

            // The first change after a quiet period goes out at once; the flusher then waits an interval.
            server.modify(path: Self.podsPath, object: Self.pod("a", version: "2"))
            #expect(await eventually(timeout: .seconds(20)) { delivered.value.count == 2 })
            #expect(await clock.waitForSleepers(1))

            server.modify(path: Self.podsPath, object: Self.pod("b", version: "2"))
            server.modify(path: Self.podsPath, object: Self.pod("c", version: "2"))
            #expect(await eventually(timeout: .seconds(20)) { manager.pendingGroupCount == 2 })
            #expect(delivered.value.count == 2, "held until the interval has passed")
            clock.advance(by: .seconds(5))
            #expect(await eventually(timeout: .seconds(20)) { delivered.value.count == 3 })
            #expect(delivered.value.last?.groups.map(\.source) == ["pod/shop/b", "pod/shop/c"])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func staticAndFileGroupsAreKnownWhenApplyReturnsAndRemovedFilesReportEmptyGroups() async throws {
        let directory = try TempDirectory()
        let file = try directory.write("targets.json", #"[{"targets": ["a:1"]}, {"targets": ["b:1"]}]"#)
        let clock = ManualClock()
        try await Self.withManager(clock: clock) { manager, group, delivered in
            var fileSD = FileSDConfig(files: [file])
            fileSD.refreshInterval = .seconds(300)
            let known = await manager.apply(
                [("job", [.static([TargetGroup(source: "static/0", addresses: ["s:1"], labels: .empty)]), .file(fileSD)])], in: &group)
            #expect(known["job"]?.values.flatMap { $0 }.flatMap(\.addresses).sorted() == ["a:1", "b:1", "s:1"])

            try directory.write("targets.json", #"[{"targets": ["a:1"]}]"#)
            #expect(await clock.waitForSleepers(1))
            clock.advance(by: .seconds(5))
            #expect(await eventually(timeout: .seconds(20)) { !delivered.value.isEmpty })
            #expect(delivered.value.flatMap(\.groups) == [TargetGroup(source: "\(file):1")])
        }
    }
}
