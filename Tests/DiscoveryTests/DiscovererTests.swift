import AgentConfig
import Curl
import Foundation
import Logging
import TestSupport
import Testing

@testable import Discovery

/// The discoverer against the fake API server (the real JSON API): per role, the groups it
/// reports equal the role builders' groups for the same objects (whose exact labels RoleTests
/// check), and watch events change them within seconds.
@Suite struct DiscovererTests {
    static let paths: [String: String] = [
        "pod": "/api/v1/pods", "node": "/api/v1/nodes", "service": "/api/v1/services", "endpoints": "/api/v1/endpoints",
        "endpointslice": "/apis/discovery.k8s.io/v1/endpointslices", "ingress": "/apis/networking.k8s.io/v1/ingresses",
    ]

    /// The raw objects of a fixture (a List's items, or the one object).
    static func objects(_ fixture: String) throws -> [[String: Any]] {
        let url = try #require(Bundle.module.url(forResource: fixture, withExtension: "json", subdirectory: "Fixtures/roles"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        return (json["items"] as? [[String: Any]]) ?? [json]
    }

    /// Runs a discoverer for `role` against `server` until `until` holds for its current groups
    /// (the last reported group of each source, without the empty ones).
    static func discover(
        _ role: KubernetesSDConfig.Role, server: FakeKubernetesAPIServer, until: @escaping @Sendable ([TargetGroup]) -> Bool,
        whileRunning: @Sendable () async throws -> Void = {}
    ) async throws -> [TargetGroup] {
        var config = KubernetesSDConfig(role: role)
        config.apiServer = server.url
        config.httpClient.authorization = Authorization(credentials: .inline("t0ken"))
        let informers = SharedInformers(transport: HTTPTransport(), logger: Logger(label: "test"))
        let discoverer = try KubernetesDiscoverer(config: config, informers: informers)
        let current = Locked<[String: TargetGroup]>([:])
        let task = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await informers.run() }
                group.addTask {
                    await discoverer.run { groups in
                        current.withLock { current in
                            for group in groups { current[group.source] = group.targets.isEmpty ? nil : group }
                        }
                    }
                }
            }
        }
        defer { task.cancel() }
        func groups() -> [TargetGroup] { current.value.values.sorted { $0.source < $1.source } }
        try await whileRunning()
        let reached = await eventually(timeout: .seconds(20)) { until(groups()) }
        #expect(reached, "groups: \(groups().map(\.source))")
        return groups()
    }

    @Test func podRoleMatchesTheBuildersAndFollowsWatchEvents() async throws {
        let server = try await FakeKubernetesAPIServer(token: "t0ken")
        defer { Task { try? await server.stop() } }
        for object in try Self.objects("pod-source-controller") + Self.objects("pods-podinfo") {
            server.add(path: Self.paths["pod"]!, object: object)
        }
        let pods: [Pod] = try [roleFixture("pod-source-controller")] + roleFixture("pods-podinfo", as: KubernetesList<Pod>.self).items
        let expected = pods.map { PodRole.groups(for: $0) }.sorted { $0.source < $1.source }
        let groups = try await Self.discover(.pod, server: server, until: { $0.count == expected.count })
        #expect(groups == expected)

        // A pod deleted by a watch event disappears within seconds.
        let removed = pods[0].metadata
        let after = try await Self.discover(.pod, server: server, until: { $0.count == expected.count - 1 }) {
            try await Task.sleep(for: .milliseconds(500))
            _ = server.delete(path: Self.paths["pod"]!, namespace: removed.namespace, name: removed.name)
        }
        #expect(!after.contains { $0.source == PodRole.source(namespace: removed.namespace ?? "", name: removed.name) })
    }

    @Test func nodeServiceAndIngressRolesMatchTheBuilders() async throws {
        let server = try await FakeKubernetesAPIServer(token: "t0ken")
        defer { Task { try? await server.stop() } }
        for (role, fixture) in [("node", "node-kind-worker"), ("service", "service-podinfo"), ("ingress", "ingress-podinfo")] {
            for object in try Self.objects(fixture) { server.add(path: Self.paths[role]!, object: object) }
        }
        let node: Node = try roleFixture("node-kind-worker")
        let service: KubernetesService = try roleFixture("service-podinfo")
        let ingress: Ingress = try roleFixture("ingress-podinfo")
        #expect(try await Self.discover(.node, server: server, until: { !$0.isEmpty }) == [NodeRole.groups(for: node)!])
        #expect(try await Self.discover(.service, server: server, until: { !$0.isEmpty }) == [ServiceRole.groups(for: service)])
        #expect(try await Self.discover(.ingress, server: server, until: { !$0.isEmpty }) == [IngressRole.groups(for: ingress)])
    }

    @Test func endpointsAndEndpointSliceRolesJoinServicesAndPods() async throws {
        let server = try await FakeKubernetesAPIServer(token: "t0ken")
        defer { Task { try? await server.stop() } }
        for (role, fixture) in [("endpoints", "endpoints-podinfo"), ("endpointslice", "endpointslice-podinfo"), ("service", "service-podinfo"), ("pod", "pods-podinfo")] {
            for object in try Self.objects(fixture) { server.add(path: Self.paths[role]!, object: object) }
        }
        let endpoints: Endpoints = try roleFixture("endpoints-podinfo")
        let slice: EndpointSlice = try roleFixture("endpointslice-podinfo")
        let services: [KubernetesService] = [try roleFixture("service-podinfo")]
        let pods = try roleFixture("pods-podinfo", as: KubernetesList<Pod>.self).items
        let expectedEndpoints = EndpointsRole.groups(for: endpoints, services: services, pods: pods)
        let expectedSlice = EndpointSliceRole.groups(for: slice, services: services, pods: pods)
        // Services and pods arrive through their own informers; wait until the join is complete.
        #expect(try await Self.discover(.endpoints, server: server, until: { $0 == [expectedEndpoints] }) == [expectedEndpoints])
        #expect(try await Self.discover(.endpointslice, server: server, until: { $0 == [expectedSlice] }) == [expectedSlice])
        #expect(expectedEndpoints.allTargetLabels.contains { $0["__meta_kubernetes_pod_name"] != nil }, "pods are joined")
        #expect(expectedEndpoints.labels["__meta_kubernetes_service_name"] == "podinfo", "the service is joined")
    }
}
