import AgentConfig
import Foundation
import Logging
import Model
import TestSupport
import Testing

@testable import Discovery

/// DNS discovery against a real DNS server: dnsmasq serving Fixtures/dns/*.conf on a loopback
/// port (TestSupport's ``DNSMasq``).
@Suite struct DNSDiscovererTests {
    static let logger = Logger(label: "dns-sd-test")

    static func fixture(_ name: String) throws -> String {
        try #require(Bundle.module.url(forResource: name, withExtension: "conf", subdirectory: "Fixtures/dns")).path
    }

    /// Counts of `prometheus_sd_dns_lookups_total` and `prometheus_sd_dns_lookup_failures_total`.
    final class Counts: Sendable {
        let lookups = Locked(0)
        let failures = Locked(0)
        var counters: DiscoveryCounters {
            DiscoveryCounters(dnsLookup: { self.lookups.withLock { $0 += 1 } }, dnsLookupFailure: { self.failures.withLock { $0 += 1 } })
        }
    }

    static func config(_ names: [String], _ type: DNSSDConfig.RecordType, port: Int = 0) -> DNSSDConfig {
        var config = DNSSDConfig(names: names)
        config.type = type
        config.port = port
        return config
    }

    static func discoverer(
        _ config: DNSSDConfig, servers: [ResolverConfig.Server], search: [String] = [], clock: any AgentClock = SystemClock(),
        exchangeTimeout: Duration = .seconds(30), counts: Counts = Counts()
    ) -> DNSDiscoverer {
        // No test waits for a timeout (a closed port is refused at once): a long one keeps a
        // loaded machine's slow answers from failing a lookup.
        DNSDiscoverer(
            config: config, resolverConfig: { ResolverConfig(servers: servers, search: search) }, eventLoop: DNSEventLoop(),
            clock: clock, exchangeTimeout: exchangeTimeout, logger: logger, counters: counts.counters)
    }

    /// One refresh of `discoverer`.
    static func refresh(_ discoverer: DNSDiscoverer) async -> [TargetGroup] {
        let groups = Locked<[TargetGroup]>([])
        await discoverer.eventLoop.withGroup { group in
            let refreshed = await discoverer.refresh(with: discoverer.resolver(on: group))
            groups.withLock { $0 = refreshed }
        }
        return groups.value
    }

    static func server(_ dns: DNSMasq) -> ResolverConfig.Server { .init(host: "127.0.0.1", port: dns.port) }

    static func target(_ pairs: KeyValuePairs<String, String>) -> Labels { Labels(pairs) }

    @Test func srvRecordsGiveTheirTargetsAndPortsWithTheRecordAsReceived() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let counts = Counts()
        let groups = await Self.refresh(
            Self.discoverer(Self.config(["_prom._tcp.example.test"], .srv), servers: [Self.server(dns)], counts: counts))
        #expect(groups.map(\.source) == ["_prom._tcp.example.test"])
        #expect(Set(groups.first?.targets ?? []) == [
            Self.target([
                "__address__": "web.example.test:9100", "__meta_dns_name": "_prom._tcp.example.test",
                "__meta_dns_srv_record_target": "web.example.test.", "__meta_dns_srv_record_port": "9100",
            ]),
            Self.target([
                "__address__": "db.example.test:9200", "__meta_dns_name": "_prom._tcp.example.test",
                "__meta_dns_srv_record_target": "db.example.test.", "__meta_dns_srv_record_port": "9200",
            ]),
        ])
        #expect(groups.first?.labels == .empty)
        #expect(counts.lookups.value == 1 && counts.failures.value == 0)
        await dns.stop()
    }

    @Test func aRecordsBehindACNAMEUseTheConfiguredPortAndName() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let groups = await Self.refresh(Self.discoverer(Self.config(["alias.example.test"], .a, port: 9100), servers: [Self.server(dns)]))
        #expect(groups == [
            TargetGroup(source: "alias.example.test", targets: [
                Self.target(["__address__": "10.0.0.1:9100", "__meta_dns_name": "alias.example.test"]),
                Self.target(["__address__": "10.0.0.2:9100", "__meta_dns_name": "alias.example.test"]),
            ])
        ])
        await dns.stop()
    }

    @Test func aaaaMXAndNSRecords() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let servers = [Self.server(dns)]
        let aaaa = await Self.refresh(Self.discoverer(Self.config(["v6.example.test"], .aaaa, port: 9100), servers: servers))
        #expect(aaaa.first?.addresses == ["[2001:db8::10:0:0:1]:9100", "[fd00::1]:9100"], "sorted")
        let mx = await Self.refresh(Self.discoverer(Self.config(["example.test"], .mx, port: 25), servers: servers))
        #expect(mx.first?.targets == [
            Self.target(["__address__": "mail.example.test:25", "__meta_dns_name": "example.test", "__meta_dns_mx_record_target": "mail.example.test."])
        ])
        let ns = await Self.refresh(Self.discoverer(Self.config(["example.test"], .ns, port: 9153), servers: servers))
        #expect(ns.first?.targets == [
            Self.target(["__address__": "ns1.example.test:9153", "__meta_dns_name": "example.test", "__meta_dns_ns_record_target": "ns1.example.test."])
        ])
        await dns.stop()
    }

    @Test func relativeNamesGoThroughTheSearchListAndUnknownNamesGiveEmptyGroups() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let counts = Counts()
        let groups = await Self.refresh(
            Self.discoverer(
                Self.config(["api", "nope.example.test", "web.example.test"], .a, port: 80), servers: [Self.server(dns)],
                search: ["svc.example.test", "example.test"], counts: counts))
        // api: api.svc.example.test. answers. nope.example.test: it, then it with each suffix,
        // are all NXDOMAIN (a relative name with a candidate outside example.test would get
        // REFUSED there, and fail).
        try #require(groups.map(\.source) == ["api", "nope.example.test", "web.example.test"], "one group per name, in config order")
        #expect(groups[0].targets == [Self.target(["__address__": "10.0.1.1:80", "__meta_dns_name": "api"])])
        #expect(groups[1].targets.isEmpty, "NXDOMAIN for every candidate: the name has no targets")
        #expect(groups[2].addresses == ["10.0.0.1:80", "10.0.0.2:80"])
        #expect(counts.lookups.value == 3 && counts.failures.value == 0)
        await dns.stop()
    }

    @Test func aRefusedNameIsAFailedLookupAndGivesNoGroup() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let counts = Counts()
        let groups = await Self.refresh(
            Self.discoverer(Self.config(["outside.invalid", "web.example.test"], .a, port: 80), servers: [Self.server(dns)], counts: counts))
        #expect(groups.map(\.source) == ["web.example.test"])
        #expect(counts.lookups.value == 2 && counts.failures.value == 1)
        await dns.stop()
    }

    @Test func aServerThatDoesNotListenIsSkippedForTheNext() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let closed = try await DNSMasq(configFile: Self.fixture("zone"))
        let closedServer = Self.server(closed)
        await closed.stop()
        let counts = Counts()
        let groups = await Self.refresh(
            Self.discoverer(Self.config(["web.example.test"], .a, port: 80), servers: [closedServer, Self.server(dns)], counts: counts))
        #expect(groups.first?.addresses == ["10.0.0.1:80", "10.0.0.2:80"])
        #expect(counts.failures.value == 0)
        await dns.stop()
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("big"))
        let groups = await Self.refresh(Self.discoverer(Self.config(["big.example.test"], .a, port: 80), servers: [Self.server(dns)]))
        #expect(groups.first?.targets.count == 100, "over UDP dnsmasq sends 74 of the 100 records")
        #expect(Set(groups.first?.addresses ?? []) == Set((1...100).map { "10.1.0.\($0):80" }))
        await dns.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func eachRefreshReportsTheGroupsThatChangedAndFailuresKeepTheLastGroups() async throws {
        let dns = try await DNSMasq(configFile: Self.fixture("zone"))
        let clock = ManualClock()
        let start = clock.now
        let counts = Counts()
        var config = Self.config(["web.example.test", "_prom._tcp.example.test"], .a, port: 80)
        config.refreshInterval = .seconds(30)
        // On the manual clock the exchange timeout passes only when the test moves the time; its
        // deadlines (now + 7 s) must not be mistaken for the refresh's (multiples of 30 s).
        let web = Self.discoverer(config, servers: [Self.server(dns)], clock: clock, exchangeTimeout: .seconds(7), counts: counts)
        let sent = Locked<[[TargetGroup]]>([])
        await withDiscardingTaskGroup { tasks in
            tasks.addTask { await web.run { groups in sent.withLock { $0.append(groups) } } }

            // At once: both names (the SRV name has no A records: an empty group).
            #expect(await clock.waitForSleeper(until: start + .seconds(30)))
            #expect(sent.value.map { $0.map(\.source) } == [["web.example.test", "_prom._tcp.example.test"]])
            #expect(sent.value.first?.first?.addresses == ["10.0.0.1:80", "10.0.0.2:80"])

            // The zone changes: only the changed group is reported.
            try? await dns.restart(configFile: Self.fixture("zone-changed"))
            clock.advance(by: .seconds(30))
            #expect(await clock.waitForSleeper(until: start + .seconds(60)))
            #expect(sent.value.count == 2)
            #expect(sent.value.last?.map(\.source) == ["web.example.test"])
            #expect(sent.value.last?.first?.addresses == ["10.0.0.1:80", "10.0.0.3:80"])

            // Nothing changed: nothing is reported.
            clock.advance(by: .seconds(30))
            #expect(await clock.waitForSleeper(until: start + .seconds(90)))
            #expect(sent.value.count == 2 && counts.lookups.value == 6 && counts.failures.value == 0, "\(sent.value.count) \(counts.lookups.value) \(counts.failures.value)")

            // The server is gone: both lookups fail, nothing is reported (the last groups stand).
            await dns.stop()
            clock.advance(by: .seconds(30))
            #expect(await clock.waitForSleeper(until: start + .seconds(120)))
            #expect(sent.value.count == 2 && counts.lookups.value == 8 && counts.failures.value == 2, "\(sent.value.count) \(counts.lookups.value) \(counts.failures.value)")
            tasks.cancelAll()
        }
    }
}
