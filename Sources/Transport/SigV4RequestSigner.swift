import AgentConfig
import Curl
import Foundation
import Model
import Synchronization

/// Signs a remote-write endpoint's requests for its `sigv4` config: finds the credentials and
/// region once (``AWSCredentialChain``; retried on the next request while that fails), with
/// `role_arn` assumes the role through STS (``AssumedRoleCredentials``, renewed before the
/// temporary credentials expire), then signs each request with ``SigV4Signer`` at the clock's
/// wall time.
///
/// Base credentials are static once found (as the SDKs' static and shared-file providers are); a
/// changed credentials file takes effect when the endpoint is reloaded.
public final class SigV4RequestSigner: Sendable {
    private let config: SigV4Config
    private let chain: AWSCredentialChain
    private let clock: any AgentClock
    private let transport: HTTPTransport
    private let environment: [String: String]
    private let resolved = Mutex<(credentials: AWSCredentials, signer: SigV4Signer, role: AssumedRoleCredentials?)?>(nil)

    /// - Parameters:
    ///   - transport: Carries the STS `AssumeRole` calls of a `role_arn`.
    ///   - environment: Where `AWS_*` variables and `HOME` come from.
    public init(
        config: SigV4Config, transport: HTTPTransport, clock: any AgentClock,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.config = config
        chain = AWSCredentialChain(config: config, environment: environment)
        self.clock = clock
        self.transport = transport
        self.environment = environment
    }

    /// Adds the signature headers to `request` (whose body and other headers are final). May
    /// wait for an STS call.
    ///
    /// - Throws: ``SigV4Error`` when there are no credentials or region, STS refused the role, or
    ///   the URL is invalid.
    public func sign(_ request: inout HTTPRequest) async throws(SigV4Error) {
        let (base, signer, role) = try resolved.withLock { value throws(SigV4Error) in
            if let value { return value }
            let found = try chain.resolve()
            let role = config.roleARN.map { arn in
                AssumedRoleCredentials(
                    call: STSAssumeRole(
                        roleARN: arn, externalID: config.externalID, region: found.region, fips: config.useFIPSSTSEndpoint,
                        sessionName: "metrics-agent-\(clock.wallMilliseconds)"),
                    transport: transport, clock: clock, environment: environment)
            }
            value = (found.credentials, SigV4Signer(region: found.region, service: config.serviceName), role)
            return value!
        }
        let credentials = try await role?.credentials(base: base) ?? base
        try signer.sign(&request, credentials: credentials, wallMilliseconds: clock.wallMilliseconds)
    }
}
