import AgentConfig
import Foundation
import Testing

/// `oauth2`, `sigv4`, and the authentication the agent rejects (`azuread`, `google_iam`).
@Suite struct AuthConfigTests {
    /// Expects `yaml` rejected with an error at `line` whose message contains `message`. A
    /// section's errors name the line where its value starts (the line after `oauth2:`).
    func expectError(_ yaml: String, _ message: String, line: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
            Issue.record("accepted:\n\(yaml)", sourceLocation: sourceLocation)
        } catch {
            #expect(
                error.errors.contains { $0.message.contains(message) && $0.line == line && $0.file == "f.yml" }, "\(error)",
                sourceLocation: sourceLocation)
        }
    }

    @Test func oauth2AndSigV4Load() throws {
        let path = try #require(Bundle.module.path(forResource: "auth", ofType: "yaml", inDirectory: "Fixtures"))
        let config = try ConfigLoader.load(file: path)
        let oauth2 = try #require(config.scrapeConfigs[0].httpClient.oauth2)
        #expect(oauth2.clientID == "agent")
        #expect(oauth2.clientSecret == .file("/etc/agent/oauth2-secret"))
        #expect(oauth2.scopes == ["metrics.read", "openid"])
        #expect(oauth2.tokenURL == "https://login.example/oauth2/token")
        #expect(oauth2.endpointParams == ["audience": "https://metrics.example/"])
        #expect(oauth2.tls.caFile == "/etc/agent/login-ca.pem" && oauth2.tls.serverName == "login.internal")
        #expect(oauth2.proxyURL == "http://proxy.example:3128")
        #expect(config.scrapeConfigs[0].httpClient.proxyURL == nil, "the token request's proxy is its own")
        #expect(config.scrapeConfigs[0].kubernetesSDConfigs.first?.httpClient.oauth2?.clientSecret == .inline("sd-secret"))

        let signed = try #require(config.remoteWrite[0].sigv4)
        #expect(signed.region == "us-east-1" && signed.accessKey == "AKIDEXAMPLE" && signed.secretKey == "secret")
        #expect(signed.serviceName == "aps")
        #expect(config.remoteWrite[1].sigv4 == SigV4Config(), "sigv4: {} uses the AWS default chain")
        #expect(config.remoteWrite[2].httpClient.oauth2?.clientID == "writer")
        #expect(config.remoteWrite[2].sigv4 == nil)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    @Test func oauth2ExcludesTheOtherCredentials() {
        expectError("""
            scrape_configs:
              - job_name: a
                basic_auth: {username: u, password: p}
                oauth2:
                  client_id: c
                  token_url: https://login.example/token
            """, "at most one of basic_auth, oauth2, authorization", line: 5)
        expectError("""
            remote_write:
              - url: https://hub.example/write
                bearer_token: t
                oauth2: {client_id: c, token_url: "https://login.example/token"}
            """, "at most one of basic_auth, oauth2, authorization", line: 4)
    }

    @Test func oauth2NeedsAClientIDAndATokenURL() {
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_secret: s
                  token_url: https://login.example/token
            """, "oauth2 client_id must be configured", line: 4)
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
            """, "oauth2 token_url must be configured", line: 4)
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
                  token_url: login.example/token
            """, "invalid token URL", line: 5)
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
                  client_secret: s
                  client_secret_file: /f
                  token_url: https://login.example/token
            """, "at most one of client_secret and client_secret_file", line: 6)
    }

    @Test func whatOAuth2CannotDoIsAnError() {
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
                  token_url: https://login.example/token
                  grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer
            """, "is not supported (only client_credentials)", line: 6)
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
                  token_url: https://login.example/token
                  client_certificate_key_file: /key.pem
            """, "jwt-bearer grant", line: 6)
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
                  token_url: https://login.example/token
                  no_proxy: localhost
            """, "if no_proxy is configured, proxy_url must also be configured", line: 6)
        expectError("""
            scrape_configs:
              - job_name: a
                oauth2:
                  client_id: c
                  token_url: https://login.example/token
                  scopes: [a]
                  endpoint_params:
                    scope: b
            """, "scope cannot be set both", line: 8)
    }

    @Test func sigv4AssumesARoleWithAnExternalID() throws {
        let config = try ConfigLoader.parse(yaml: """
            remote_write:
              - url: https://aps.example/write
                sigv4:
                  region: eu-west-1
                  role_arn: arn:aws:iam::123456789012:role/prometheus
                  external_id: tenant-7
                  use_fips_sts_endpoint: true
            """, file: "f.yml")
        let sigv4 = try #require(config.remoteWrite.first?.sigv4)
        #expect(sigv4.roleARN == "arn:aws:iam::123456789012:role/prometheus")
        #expect(sigv4.externalID == "tenant-7" && sigv4.useFIPSSTSEndpoint)
    }

    @Test func sigv4RulesAreChecked() {
        expectError("""
            remote_write:
              - url: https://aps.example/write
                sigv4:
                  access_key: AKID
            """, "access_key and secret_key must be given together", line: 4)
        expectError("""
            remote_write:
              - url: https://aps.example/write
                sigv4:
                  external_id: x
            """, "external_id can only be used with role_arn", line: 4)
        expectError("""
            remote_write:
              - url: https://aps.example/write
                basic_auth: {username: u, password: p}
                sigv4: {region: us-east-1}
            """, "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam", line: 4)
        expectError("""
            remote_write:
              - url: https://aps.example/write
                headers: {Authorization: "Bearer x"}
                sigv4: {region: us-east-1}
            """, "authorization header conflicts", line: 3)
    }

    @Test func azureADAndGoogleIAMAreRejected() {
        expectError("""
            remote_write:
              - url: https://hub.example/write
                azuread:
                  cloud: AzurePublic
                  managed_identity: {client_id: x}
            """, "azuread is not supported", line: 4)
        expectError("""
            remote_write:
              - url: https://hub.example/write
                google_iam:
                  credentials_file: /creds.json
            """, "google_iam is not supported", line: 4)
    }
}
