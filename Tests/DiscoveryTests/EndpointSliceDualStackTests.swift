import Model
import Testing

@testable import Discovery

// A dual-stack Service (`ipFamilyPolicy` PreferDualStack or RequireDualStack) gets one
// EndpointSlice per IP family; Prometheus (endpointslice.go `nonPrimaryIPFamilySlice`) keeps the
// targets of the slice of the first (primary) family only. The secondary slice's group keeps its
// labels and has no targets. Cases from endpointslice_test.go
// TestEndpointSliceDiscoveryDualStack* / TestEndpointSliceDiscoverySingleStack*.

struct DualStackCase: Sendable, CustomTestStringConvertible {
    var name: String
    var policy: String?
    var families: [String]?
    /// Per slice fixture suffix (`ipv4`, `ipv6`): whether it gives its target.
    var ipv4Targets: Bool
    var ipv6Targets: Bool
    var testDescription: String { name }
}

@Suite struct EndpointSliceDualStackTests {
    /// `dualStackGroupLabels`.
    static func groupLabels(_ addressType: String, _ sliceName: String) -> Labels {
        labelSet([
            "__meta_kubernetes_namespace": "default",
            "__meta_kubernetes_endpointslice_address_type": addressType,
            "__meta_kubernetes_endpointslice_name": sliceName,
            "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name": "testsvc",
            "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name": "true",
            "__meta_kubernetes_service_name": "testsvc",
        ])
    }

    /// `dualStackTarget`.
    static func target(_ address: String) -> Labels {
        labelSet([
            "__address__": address,
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
            "__meta_kubernetes_endpointslice_port": "9000",
            "__meta_kubernetes_endpointslice_port_name": "http",
            "__meta_kubernetes_endpointslice_port_protocol": "TCP",
        ])
    }

    static let cases: [DualStackCase] = [
        DualStackCase(
            name: "PreferDualStack, IPv4 first: the IPv6 slice is skipped", policy: "PreferDualStack",
            families: ["IPv4", "IPv6"], ipv4Targets: true, ipv6Targets: false),
        DualStackCase(
            name: "RequireDualStack, IPv4 first: the IPv6 slice is skipped", policy: "RequireDualStack",
            families: ["IPv4", "IPv6"], ipv4Targets: true, ipv6Targets: false),
        DualStackCase(
            name: "PreferDualStack, IPv6 first: the IPv4 slice is skipped", policy: "PreferDualStack",
            families: ["IPv6", "IPv4"], ipv4Targets: false, ipv6Targets: true),
        DualStackCase(
            name: "SingleStack IPv4: unaffected", policy: "SingleStack", families: ["IPv4"], ipv4Targets: true, ipv6Targets: true),
        DualStackCase(
            name: "SingleStack IPv6: unaffected", policy: "SingleStack", families: ["IPv6"], ipv4Targets: true, ipv6Targets: true),
        // Prometheus's guards: no policy, or no families, skip nothing.
        DualStackCase(name: "no ipFamilyPolicy: unaffected", policy: nil, families: ["IPv4", "IPv6"], ipv4Targets: true, ipv6Targets: true),
        DualStackCase(name: "no ipFamilies: unaffected", policy: "RequireDualStack", families: nil, ipv4Targets: true, ipv6Targets: true),
    ]

    @Test(arguments: cases)
    func secondaryFamilySliceGivesNoTargets(_ testCase: DualStackCase) throws {
        var service: KubernetesService = try roleFixture("service-prometheus-dual-stack")
        service.spec?.ipFamilyPolicy = testCase.policy
        service.spec?.ipFamilies = testCase.families
        for (suffix, addressType, address, hasTargets) in [
            ("ipv4", "IPv4", "1.2.3.4:9000", testCase.ipv4Targets), ("ipv6", "IPv6", "[fd00::1]:9000", testCase.ipv6Targets),
        ] {
            let slice: EndpointSlice = try roleFixture("endpointslice-prometheus-dual-stack-\(suffix)")
            expectGroup(
                EndpointSliceRole.groups(for: slice, services: [service], pods: []),
                TargetGroup(
                    source: "endpointslice/default/testsvc-\(suffix)",
                    targets: hasTargets ? [Self.target(address)] : [],
                    labels: Self.groupLabels(addressType, "testsvc-\(suffix)")))
        }
    }

    @Test func withoutItsServiceTheSecondarySliceKeepsItsTargets() throws {
        // The rule needs the Service's families: a slice whose Service is not known is kept.
        let slice: EndpointSlice = try roleFixture("endpointslice-prometheus-dual-stack-ipv6")
        #expect(EndpointSliceRole.groups(for: slice, services: [], pods: []).targets == [Self.target("[fd00::1]:9000")])
    }

    @Test func decodesTheServiceFamilies() throws {
        let service: KubernetesService = try roleFixture("service-prometheus-dual-stack")
        #expect(service.spec?.ipFamilyPolicy == "PreferDualStack")
        #expect(service.spec?.ipFamilies == ["IPv4", "IPv6"])
    }
}
