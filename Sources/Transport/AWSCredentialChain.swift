import AgentConfig

/// Finds the credentials and region for a `sigv4` config the way the AWS SDK for Go v2 (which
/// Prometheus uses) does, as far as it can be done without calling AWS:
///
/// 1. `access_key` and `secret_key` of the config;
/// 2. a profile named by `profile` or `AWS_PROFILE`, from the shared files;
/// 3. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`;
/// 4. the `default` profile of the shared files.
///
/// The region is the config's `region`, else `AWS_REGION` (or `AWS_DEFAULT_REGION`), else the
/// profile's `region`. Profiles that assume a role, run a process or use SSO, web identity
/// tokens, and container or instance credentials are not supported: the error says so.
struct AWSCredentialChain: Sendable {
    var config: SigV4Config
    var environment: [String: String]

    /// The credentials and region to sign with.
    ///
    /// - Throws: ``SigV4Error`` naming what was looked at when nothing was found.
    func resolve() throws(SigV4Error) -> (credentials: AWSCredentials, region: String) {
        let files = AWSSharedConfigFiles(environment: environment)
        let explicitProfile = config.profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let profileName = explicitProfile ?? "default"
        let credentials: AWSCredentials
        if let key = config.accessKey, let secret = config.secretKey {
            credentials = AWSCredentials(accessKeyID: key, secretAccessKey: secret)
        } else if let explicitProfile {
            guard let profile = files.profiles[explicitProfile] else {
                throw SigV4Error(description: "sigv4: AWS profile \"\(explicitProfile)\" not found in the shared credentials or config file")
            }
            credentials = try Self.credentials(profile: profile, named: explicitProfile)
        } else if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        {
            credentials = AWSCredentials(
                accessKeyID: key, secretAccessKey: secret,
                sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        } else if let profile = files.profiles["default"] {
            credentials = try Self.credentials(profile: profile, named: "default")
        } else {
            throw SigV4Error(
                description: "sigv4: no AWS credentials: set access_key and secret_key, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (web identity, container and instance credentials are not supported)")
        }
        let region = config.region
            ?? [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"], files.profiles[profileName]?["region"]]
                .compactMap { $0 }.first { !$0.isEmpty }
        guard let region else {
            throw SigV4Error(description: "sigv4: no AWS region: set region in sigv4, AWS_REGION, or region in the profile")
        }
        return (credentials, region)
    }

    /// A profile's static credentials.
    static func credentials(profile: [String: String], named name: String) throws(SigV4Error) -> AWSCredentials {
        if let key = profile["aws_access_key_id"], !key.isEmpty, let secret = profile["aws_secret_access_key"], !secret.isEmpty {
            return AWSCredentials(
                accessKeyID: key, secretAccessKey: secret,
                sessionToken: profile["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let unsupported = ["role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"]
            .filter { profile[$0] != nil }
        if !unsupported.isEmpty {
            throw SigV4Error(description: "sigv4: AWS profile \"\(name)\" uses \(unsupported.joined(separator: ", ")), which is not supported; give it aws_access_key_id and aws_secret_access_key")
        }
        throw SigV4Error(description: "sigv4: AWS profile \"\(name)\" has no aws_access_key_id and aws_secret_access_key")
    }
}
