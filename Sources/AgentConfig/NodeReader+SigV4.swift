import Yams

/// The authentication only `remote_write` has: `sigv4`, and `azuread` and `google_iam`, which
/// the agent rejects.
extension NodeReader {
    /// Keys of a `remote_write` entry read here.
    static let remoteWriteAuthKeys: Set<String> = ["sigv4", "azuread", "google_iam"]

    /// The `sigv4` section of the remote-write entry `map` at `path`, or `nil`. Also rejects
    /// `azuread` and `google_iam`, and more than one authentication method.
    mutating func sigv4(_ map: [String: Node], _ path: String, _ client: HTTPClientConfig) -> SigV4Config? {
        for key in ["azuread", "google_iam"] where map[key] != nil {
            fail(map[key], "\(path).\(key)", "\(key) is not supported; the endpoint would be sent requests without authentication")
        }
        let configured = [
            ("basic_auth", client.basicAuth != nil), ("authorization", client.authorization != nil),
            ("oauth2", client.oauth2 != nil), ("sigv4", map["sigv4"] != nil), ("azuread", map["azuread"] != nil),
            ("google_iam", map["google_iam"] != nil),
        ].filter { $0.1 }.map { $0.0 }
        if configured.count > 1, let node = map["sigv4"] ?? map["azuread"] ?? map["google_iam"] {
            fail(node, path, "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam may be set, got \(configured.joined(separator: ", "))")
        }
        guard let node = map["sigv4"] else { return nil }
        let sigPath = "\(path).sigv4"
        let s = mapping(
            node, sigPath,
            known: ["region", "access_key", "secret_key", "profile", "role_arn", "external_id", "use_fips_sts_endpoint", "service_name"])
        var config = SigV4Config()
        func text(_ key: String) -> String? {
            s[key].flatMap { string($0, "\(sigPath).\(key)") }.flatMap { $0.isEmpty ? nil : $0 }
        }
        config.region = text("region")
        config.accessKey = text("access_key")
        config.secretKey = text("secret_key")
        config.profile = text("profile")
        if let name = text("service_name") { config.serviceName = name }
        if (config.accessKey == nil) != (config.secretKey == nil) {
            fail(s["access_key"] ?? s["secret_key"], sigPath, "access_key and secret_key must be given together")
        }
        config.roleARN = text("role_arn")
        config.externalID = text("external_id")
        if config.externalID != nil, config.roleARN == nil {
            fail(s["external_id"], "\(sigPath).external_id", "external_id can only be used with role_arn")
        }
        if let n = s["use_fips_sts_endpoint"], let value = bool(n, "\(sigPath).use_fips_sts_endpoint") { config.useFIPSSTSEndpoint = value }
        return config
    }
}
