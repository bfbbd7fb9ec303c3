import Model
import NIOCore
import NIOPosix

/// Asks one DNS server one question, as miekg/dns's `Client.Exchange` does for Prometheus
/// (`askServerForName`): over UDP with EDNS0 (4096-byte answers); if the answer comes back
/// truncated, again over TCP without EDNS0.
///
/// The sockets are NIO channels on `group`'s event loop: no thread waits for an answer, and
/// there is no unsafe code here. Each exchange is bounded by ``timeout`` on `clock`.
struct DNSClient: Sendable {
    /// miekg/dns's default UDP payload size for EDNS0.
    static let udpPayloadSize: UInt16 = 4096

    let group: any EventLoopGroup
    let clock: any AgentClock
    /// The limit for one exchange, connecting included (miekg/dns: 2 s for each step).
    var timeout: Duration = .seconds(2)

    enum ExchangeError: Error, Equatable, CustomStringConvertible {
        case timeout
        case truncatedOverTCP
        case closedWithoutAnswer
        case invalidServer(String)
        case malformed(String)

        var description: String {
            switch self {
            case .timeout: "no answer in time"
            case .truncatedOverTCP: "got truncated message on TCP (64kiB limit exceeded?)"
            case .closedWithoutAnswer: "the connection closed without an answer"
            case .invalidServer(let server): "\"\(server)\" is not an IP address"
            case .malformed(let problem): "malformed answer: \(problem)"
            }
        }
    }

    /// The server's answer to `name`/`type`, whatever its response code.
    func ask(_ server: ResolverConfig.Server, name: String, type: DNSMessage.RecordType) async throws -> DNSMessage {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: server.host, port: server.port)
        } catch {
            throw ExchangeError.invalidServer(server.host)
        }
        let id = UInt16.random(in: .min ... .max)
        let answer = try await withTimeout {
            try await Self.exchangeUDP(try DNSMessage.query(id: id, name: name, type: type, udpSize: Self.udpPayloadSize), id: id, with: address, group: group)
        }
        guard answer.truncated else { return answer }
        let tcpID = UInt16.random(in: .min ... .max)
        let tcpAnswer = try await withTimeout {
            try await Self.exchangeTCP(try DNSMessage.query(id: tcpID, name: name, type: type, udpSize: nil), id: tcpID, with: address, group: group)
        }
        if tcpAnswer.truncated { throw ExchangeError.truncatedOverTCP }
        return tcpAnswer
    }

    /// `body`'s result, or ``ExchangeError/timeout`` once ``timeout`` has passed on `clock`
    /// (then `body` is cancelled, which closes its channel).
    private func withTimeout(_ body: @escaping @Sendable () async throws -> DNSMessage) async throws -> DNSMessage {
        try await withThrowingTaskGroup(of: DNSMessage?.self) { tasks in
            tasks.addTask { try await body() }
            tasks.addTask { [clock, timeout] in
                try await clock.sleep(for: timeout)
                return nil
            }
            defer { tasks.cancelAll() }
            guard let first = try await tasks.next(), let answer = first else { throw ExchangeError.timeout }
            return answer
        }
    }

    /// Sends `query` from a connected UDP socket and returns the first answer with `id`
    /// (datagrams with other ids, late answers to earlier queries, are skipped, as miekg/dns does).
    private static func exchangeUDP(_ query: [UInt8], id: UInt16, with address: SocketAddress, group: any EventLoopGroup) async throws -> DNSMessage {
        let channel = try await DatagramBootstrap(group: group).connect(to: address) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
            }
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: query)))
            for try await envelope in inbound {
                let bytes = Array(envelope.data.readableBytesView)
                guard bytes.count >= 2, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id else { continue }
                return try decode(bytes)
            }
            throw ExchangeError.closedWithoutAnswer
        }
    }

    /// Sends `query` over TCP (two-byte length prefix, RFC 1035 4.2.2) and reads one answer.
    private static func exchangeTCP(_ query: [UInt8], id: UInt16, with address: SocketAddress, group: any EventLoopGroup) async throws -> DNSMessage {
        let channel = try await ClientBootstrap(group: group).connect(to: address) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        return try await channel.executeThenClose { inbound, outbound in
            var framed = ByteBuffer()
            framed.writeInteger(UInt16(query.count))
            framed.writeBytes(query)
            try await outbound.write(framed)
            var received = ByteBuffer()
            for try await chunk in inbound {
                received.writeImmutableBuffer(chunk)
                guard let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                    let bytes = received.getBytes(at: received.readerIndex + 2, length: Int(length))
                else { continue }
                let answer = try decode(bytes)
                guard answer.id == id else { throw ExchangeError.malformed("answer id \(answer.id), query id \(id)") }
                return answer
            }
            throw ExchangeError.closedWithoutAnswer
        }
    }

    private static func decode(_ bytes: [UInt8]) throws(ExchangeError) -> DNSMessage {
        do {
            return try DNSMessage(decoding: bytes)
        } catch {
            throw ExchangeError.malformed(error.description)
        }
    }
}
