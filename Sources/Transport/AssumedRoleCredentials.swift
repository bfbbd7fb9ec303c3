import Curl
import Model

/// The temporary credentials of a `sigv4.role_arn`, assumed with STS and kept until a minute
/// before they expire. Callers that ask while a call is in flight wait for that call (one
/// `AssumeRole` however many requests are being signed); a failed call is not remembered, so the
/// next request tries again.
actor AssumedRoleCredentials {
    private let call: STSAssumeRole
    private let transport: HTTPTransport
    private let clock: any AgentClock
    private let environment: [String: String]
    private var current: (credentials: AWSCredentials, expiresAtMilliseconds: Int64)?
    private var inFlight: Task<(AWSCredentials, expiresAtMilliseconds: Int64), any Error>?

    /// Credentials are replaced this long before they expire.
    static let refreshMargin: Int64 = 60_000

    init(call: STSAssumeRole, transport: HTTPTransport, clock: any AgentClock, environment: [String: String]) {
        self.call = call
        self.transport = transport
        self.clock = clock
        self.environment = environment
    }

    /// The role's credentials, assumed with `base` when there are none or they are about to expire.
    func credentials(base: AWSCredentials) async throws(SigV4Error) -> AWSCredentials {
        if let current, clock.wallMilliseconds < current.expiresAtMilliseconds - Self.refreshMargin { return current.credentials }
        let task: Task<(AWSCredentials, expiresAtMilliseconds: Int64), any Error>
        if let inFlight {
            task = inFlight
        } else {
            let request = try call.request(
                base: base, environment: environment, wallMilliseconds: clock.wallMilliseconds, timeout: .seconds(30))
            let transport = transport
            // Unstructured only for the length of one STS call, shared by the callers waiting on it.
            task = Task {
                let response = try await transport.perform(request)
                return try STSAssumeRole.credentials(from: response)
            }
            inFlight = task
        }
        defer { if inFlight == task { inFlight = nil } }
        do {
            let answer = try await task.value
            current = (answer.0, answer.expiresAtMilliseconds)
            return answer.0
        } catch let error as SigV4Error {
            throw error
        } catch {
            throw SigV4Error(description: "sigv4: STS AssumeRole failed: \(error)")
        }
    }
}
