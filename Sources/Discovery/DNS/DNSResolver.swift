import Logging

/// Looks a name up as Prometheus's DNS discovery does (`lookupWithSearchPath`,
/// `lookupFromAnyServer`):
///
/// - Each candidate of the search list (``ResolverConfig/candidates(for:)``) is asked of the
///   servers in order until one gives a viable answer: NOERROR (with or without records) or
///   NXDOMAIN. Other codes (SERVFAIL, REFUSED, …), timeouts and malformed answers move on to the
///   next server.
/// - The first candidate with a NOERROR answer gives the records.
/// - If every candidate got NXDOMAIN, the name has no records: an empty answer, not an error.
/// - Otherwise (some candidate got no viable answer from any server) the lookup fails, so the
///   caller keeps what it had.
struct DNSResolver: Sendable {
    let client: DNSClient
    let logger: Logger

    struct LookupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The answer section for `name`/`type`; empty when the name does not exist.
    func lookup(_ name: String, type: DNSMessage.RecordType, config: ResolverConfig) async throws -> [DNSMessage.Record] {
        var allViable = true
        for candidate in config.candidates(for: name) {
            do {
                let answer = try await askAnyServer(candidate, type: type, config: config)
                if answer.responseCode == DNSMessage.ResponseCode.success { return answer.answers }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                allViable = false
            }
        }
        if allViable { return [] }
        throw LookupError(description: "could not resolve \"\(name)\": all servers responded with errors to at least one search domain")
    }

    /// The first viable answer (NOERROR or NXDOMAIN) of the servers, asked in order.
    private func askAnyServer(_ name: String, type: DNSMessage.RecordType, config: ResolverConfig) async throws -> DNSMessage {
        for server in config.servers {
            do {
                let answer = try await client.ask(server, name: name, type: type)
                if answer.responseCode == DNSMessage.ResponseCode.success || answer.responseCode == DNSMessage.ResponseCode.nameError {
                    return answer
                }
            } catch {
                try Task.checkCancellation()
                logger.warning(
                    "DNS resolution failed",
                    metadata: ["server": "\(server.host):\(server.port)", "name": "\(name)", "error": "\(error)"])
            }
        }
        throw LookupError(description: "could not resolve \(name): no servers returned a viable answer")
    }
}
