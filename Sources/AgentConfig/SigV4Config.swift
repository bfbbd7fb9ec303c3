/// `sigv4` in a `remote_write` entry: requests are signed with AWS Signature Version 4 (for
/// Amazon Managed Service for Prometheus, service `aps`). Unset fields fall back to the AWS SDKs'
/// default chain at send time: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_PROFILE`, and the shared `credentials` and `config` files.
///
/// Invariant: `accessKey` and `secretKey` are both set or both `nil`; no other authentication
/// of the endpoint is set.
public struct SigV4Config: Sendable, Equatable {
    public var region: String?
    public var accessKey: String?
    public var secretKey: String?
    public var profile: String?
    /// The signing name; Prometheus's default is `aps`.
    public var serviceName = "aps"

    public init() {}
}
