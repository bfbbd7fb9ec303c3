import AgentConfig
import Curl
import Foundation
import Model
import Synchronization

/// Signs a remote-write endpoint's requests for its `sigv4` config: finds the credentials and
/// region once (``AWSCredentialChain``; retried on the next request while that fails), then
/// signs each request with ``SigV4Signer`` at the clock's wall time.
///
/// Credentials are static once found (as the SDKs' static and shared-file providers are); a
/// changed credentials file takes effect when the endpoint is reloaded.
public final class SigV4RequestSigner: Sendable {
    private let config: SigV4Config
    private let chain: AWSCredentialChain
    private let clock: any AgentClock
    private let resolved = Mutex<(credentials: AWSCredentials, signer: SigV4Signer)?>(nil)

    /// - Parameter environment: Where `AWS_*` variables and `HOME` come from.
    public init(config: SigV4Config, clock: any AgentClock, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.config = config
        chain = AWSCredentialChain(config: config, environment: environment)
        self.clock = clock
    }

    /// Adds the signature headers to `request` (whose body and other headers are final).
    ///
    /// - Throws: ``SigV4Error`` when there are no credentials or region, or the URL is invalid.
    public func sign(_ request: inout HTTPRequest) throws(SigV4Error) {
        let (credentials, signer) = try resolved.withLock { value throws(SigV4Error) in
            if let value { return value }
            let found = try chain.resolve()
            value = (found.credentials, SigV4Signer(region: found.region, service: config.serviceName))
            return value!
        }
        try signer.sign(&request, credentials: credentials, wallMilliseconds: clock.wallMilliseconds)
    }
}
