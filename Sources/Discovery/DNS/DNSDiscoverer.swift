import AgentConfig
import Foundation
import Logging
import Model
import NIOCore
import WAL

/// DNS discovery, as Prometheus's `discovery/dns`: every `refresh_interval` (and once at start)
/// each name is looked up (all at once), and each name that resolves gives one group, its source
/// the name, with a target per record of the answer section:
///
/// | record | `__address__` | labels |
/// |---|---|---|
/// | SRV | target (final dots removed) and the record's port | `__meta_dns_srv_record_target` (as received, with its final dot), `__meta_dns_srv_record_port` |
/// | MX | exchange (final dots removed) and `port` | `__meta_dns_mx_record_target` (as received) |
/// | NS | name server (final dots removed) and `port` | `__meta_dns_ns_record_target` (as received) |
/// | A, AAAA | the address (`[v6]:port`) and `port` | |
///
/// Every target has `__meta_dns_name`, the name as configured; a group's targets are sorted (by
/// their labels), so that servers rotating the records do not make changes. CNAME records in the answer are
/// skipped (the records they lead to are used); records of other types are skipped with a
/// warning. A name that does not exist gives an empty group (its targets go away); a lookup that
/// fails changes nothing for that name (its last group stays) and is counted.
struct DNSDiscoverer: Discoverer {
    static let nameLabel = "__meta_dns_name"
    static let srvTargetLabel = "__meta_dns_srv_record_target"
    static let srvPortLabel = "__meta_dns_srv_record_port"
    static let mxTargetLabel = "__meta_dns_mx_record_target"
    static let nsTargetLabel = "__meta_dns_ns_record_target"

    let config: DNSSDConfig
    /// The servers and search list, read again before every refresh (production: /etc/resolv.conf).
    let resolverConfig: @Sendable () async throws -> ResolverConfig
    let eventLoop: DNSEventLoop
    let clock: any AgentClock
    /// The limit of one exchange with one server.
    let exchangeTimeout: Duration
    let logger: Logger
    let counters: DiscoveryCounters

    init(
        config: DNSSDConfig, resolverConfig: @escaping @Sendable () async throws -> ResolverConfig, eventLoop: DNSEventLoop,
        clock: any AgentClock, exchangeTimeout: Duration = .seconds(2), logger: Logger, counters: DiscoveryCounters
    ) {
        self.config = config
        self.resolverConfig = resolverConfig
        self.eventLoop = eventLoop
        self.clock = clock
        self.exchangeTimeout = exchangeTimeout
        self.logger = logger
        self.counters = counters
    }

    /// The agent's discoverer: servers and search list from /etc/resolv.conf, read on `pool`.
    init(config: DNSSDConfig, pool: BlockingIOPool, eventLoop: DNSEventLoop, clock: any AgentClock, logger: Logger, counters: DiscoveryCounters) {
        self.init(
            config: config,
            resolverConfig: {
                ResolverConfig(resolvConf: try await pool.run { try String(contentsOfFile: ResolverConfig.path, encoding: .utf8) })
            },
            eventLoop: eventLoop, clock: clock, logger: logger, counters: counters)
    }

    /// Refreshes at once and then on a fixed grid of `refresh_interval` from the start; reports
    /// the groups that differ from what it reported last.
    func run(send: @escaping @Sendable ([TargetGroup]) async -> Void) async {
        await eventLoop.withGroup { group in
            let resolver = resolver(on: group)
            var reported: [String: TargetGroup] = [:]
            var tick = clock.now
            repeat {
                let changed = await refresh(with: resolver).filter { reported[$0.source] != $0 }
                if Task.isCancelled { return }
                for group in changed { reported[group.source] = group }
                if !changed.isEmpty { await send(changed) }
                let now = clock.now
                repeat { tick = tick.advanced(by: config.refreshInterval) } while tick <= now
            } while await clock.sleepUnlessCancelled(until: tick)
        }
    }

    /// A resolver whose sockets use `group`.
    func resolver(on group: any EventLoopGroup) -> DNSResolver {
        DNSResolver(client: DNSClient(group: group, clock: clock, timeout: exchangeTimeout), logger: logger)
    }

    /// The groups of the names that resolved, in the order of `names`.
    func refresh(with resolver: DNSResolver) async -> [TargetGroup] {
        let resolverConfig: ResolverConfig
        do {
            resolverConfig = try await self.resolverConfig()
        } catch {
            for _ in config.names {
                counters.dnsLookup()
                counters.dnsLookupFailure()
            }
            logger.error("cannot refresh DNS SD targets: could not load resolv.conf", metadata: ["error": "\(error)"])
            return []
        }
        let type = Self.recordType(config.type)
        return await withTaskGroup(of: (Int, TargetGroup?).self) { tasks in
            for (index, name) in config.names.enumerated() {
                tasks.addTask { [config, counters, logger] in
                    do {
                        let records = try await resolver.lookup(name, type: type, config: resolverConfig)
                        counters.dnsLookup()
                        return (index, Self.group(name: name, records: records, port: config.port, logger: logger))
                    } catch {
                        counters.dnsLookup()
                        if Task.isCancelled { return (index, nil) }
                        counters.dnsLookupFailure()
                        logger.error("error refreshing DNS targets", metadata: ["name": "\(name)", "error": "\(error)"])
                        return (index, nil)
                    }
                }
            }
            var groups: [(Int, TargetGroup)] = []
            for await (index, group) in tasks {
                if let group { groups.append((index, group)) }
            }
            return groups.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    static func recordType(_ type: DNSSDConfig.RecordType) -> DNSMessage.RecordType {
        switch type {
        case .srv: .srv
        case .a: .a
        case .aaaa: .aaaa
        case .mx: .mx
        case .ns: .ns
        }
    }

    /// The group of `name` for the answer `records`.
    static func group(name: String, records: [DNSMessage.Record], port: Int, logger: Logger) -> TargetGroup {
        var targets: [Labels] = []
        for record in records {
            var labels = [Label(nameLabel, name)]
            let address: String
            switch record.data {
            case .srv(_, _, let srvPort, let target):
                labels += [Label(srvTargetLabel, target), Label(srvPortLabel, String(srvPort))]
                address = IPAddressText.hostPort(trimmingFinalDots(target), Int(srvPort))
            case .mx(_, let exchange):
                labels.append(Label(mxTargetLabel, exchange))
                address = IPAddressText.hostPort(trimmingFinalDots(exchange), port)
            case .ns(let server):
                labels.append(Label(nsTargetLabel, server))
                address = IPAddressText.hostPort(trimmingFinalDots(server), port)
            case .a(let bytes), .aaaa(let bytes):
                address = IPAddressText.hostPort(IPAddressText.format(bytes), port)
            case .cname:
                continue
            case .other(let type):
                logger.warning("invalid DNS record", metadata: ["name": "\(record.name)", "type": "\(type)"])
                continue
            }
            labels.append(Label("__address__", address))
            targets.append(Labels(labels))
        }
        // Servers rotate the order of records from one answer to the next; sorted, an answer
        // with the same records is the same group, and no change is reported.
        let sorted = targets.map { ("\($0)", $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        return TargetGroup(source: name, targets: sorted)
    }

    /// Go's `strings.TrimRight(s, ".")`.
    private static func trimmingFinalDots(_ name: String) -> String {
        var name = Substring(name)
        while name.hasSuffix(".") { name = name.dropLast() }
        return String(name)
    }
}
