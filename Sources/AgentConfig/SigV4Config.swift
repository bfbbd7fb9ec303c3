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
    /// `role_arn`: the role assumed through STS `AssumeRole` with the credentials found above;
    /// requests are signed with the role's temporary credentials.
    public var roleARN: String?
    /// `external_id`: sent with `AssumeRole` (only with ``roleARN``).
    public var externalID: String?
    /// `use_fips_sts_endpoint`: `AssumeRole` goes to `sts-fips.<region>.amazonaws.com`.
    public var useFIPSSTSEndpoint = false

    public init() {}
}
