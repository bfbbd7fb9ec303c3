import AgentConfig
import Foundation
import Testing

@testable import Transport

@Suite struct AWSCredentialChainTests {
    /// An environment whose shared files are the fixtures (and whose HOME has none).
    static func environment(_ extra: [String: String] = [:]) throws -> [String: String] {
        let credentials = try #require(Bundle.module.url(forResource: "Fixtures/aws/credentials", withExtension: nil))
        let config = try #require(Bundle.module.url(forResource: "Fixtures/aws/config", withExtension: nil))
        return ["HOME": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": credentials.path, "AWS_CONFIG_FILE": config.path]
            .merging(extra) { _, new in new }
    }

    static func resolve(_ configure: (inout SigV4Config) -> Void = { _ in }, env: [String: String]) throws -> (AWSCredentials, String) {
        var config = SigV4Config()
        configure(&config)
        let (credentials, region) = try AWSCredentialChain(config: config, environment: env).resolve()
        return (credentials, region)
    }

    @Test func keysInTheConfigComeFirst() throws {
        let (credentials, region) = try Self.resolve({
            $0.accessKey = "AKIDCONFIG"
            $0.secretKey = "config-secret"
            $0.region = "sa-east-1"
        }, env: try Self.environment(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_REGION": "us-west-1"]))
        #expect(credentials == AWSCredentials(accessKeyID: "AKIDCONFIG", secretAccessKey: "config-secret"))
        #expect(region == "sa-east-1")
    }

    @Test func environmentVariablesComeBeforeTheDefaultProfile() throws {
        let (credentials, region) = try Self.resolve(env: try Self.environment([
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
            "AWS_REGION": "us-west-1",
        ]))
        #expect(credentials == AWSCredentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        #expect(region == "us-west-1")
    }

    @Test func theDefaultProfileAndItsRegionWhenNothingElseIsSet() throws {
        let (credentials, region) = try Self.resolve(env: try Self.environment())
        #expect(credentials == AWSCredentials(accessKeyID: "AKIDDEFAULT", secretAccessKey: "default-secret"))
        #expect(region == "us-east-1")
    }

    @Test func aNamedProfileWinsOverEnvironmentKeys() throws {
        let env = try Self.environment(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"])
        let (credentials, region) = try Self.resolve({ $0.profile = "prod" }, env: env)
        #expect(credentials == AWSCredentials(accessKeyID: "AKIDPROD", secretAccessKey: "prod-secret", sessionToken: "prod-token"))
        #expect(region == "eu-central-1", "the region of [profile prod] in the config file")
        let (fromVariable, _) = try Self.resolve(env: env.merging(["AWS_PROFILE": "prod"]) { _, new in new })
        #expect(fromVariable.accessKeyID == "AKIDPROD")
    }

    @Test func unsupportedAndMissingSourcesAreNamedInTheError() throws {
        let env = try Self.environment()
        #expect(throws: SigV4Error.self) { try Self.resolve({ $0.profile = "missing" }, env: env) }
        do {
            _ = try Self.resolve({ $0.profile = "assumer" }, env: env)
            Issue.record("a role profile resolved")
        } catch {
            #expect("\(error)".contains("role_arn"), "\(error)")
        }
        do {
            _ = try Self.resolve(env: ["HOME": "/nonexistent"])
            Issue.record("credentials from nowhere")
        } catch {
            #expect("\(error)".contains("no AWS credentials"), "\(error)")
        }
        do {
            _ = try Self.resolve(env: ["HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"])
            Issue.record("signed without a region")
        } catch {
            #expect("\(error)".contains("no AWS region"), "\(error)")
        }
    }
}
