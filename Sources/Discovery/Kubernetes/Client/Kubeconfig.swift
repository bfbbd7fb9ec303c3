import AgentConfig
import Foundation
import Yams

extension KubernetesAPIConfig {
    /// The configuration of a kubeconfig file's current context (or `context`): the cluster's
    /// `server`, `certificate-authority`(`-data`), `insecure-skip-tls-verify`,
    /// `tls-server-name`, `proxy-url`; the user's `token`, `tokenFile`,
    /// `client-certificate`(`-data`), `client-key`(`-data`), `username`/`password`; the
    /// context's `namespace`.
    ///
    /// Relative paths are resolved against the file's directory. libcurl takes certificates
    /// and keys as files, so `-data` fields (base64 PEM) are written to files readable only by
    /// this user in a private temporary directory (one file per distinct content, reused).
    ///
    /// The file is read now, once: a changed kubeconfig takes effect on the next configuration
    /// reload. A `tokenFile` is re-read like any token file.
    ///
    /// Not supported: `exec` and `auth-provider` credential plugins (an error when the user has
    /// no other credentials). The file is decoded with Yams, so any YAML (and so JSON) works.
    public static func kubeconfig(file: String, context: String? = nil) throws(KubernetesClientError) -> KubernetesAPIConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw .configuration("cannot read kubeconfig \(file): \(error.localizedDescription)")
        }
        let document: KubeconfigFile
        do {
            document = try YAMLDecoder().decode(KubeconfigFile.self, from: text)
        } catch {
            throw .configuration("cannot parse kubeconfig \(file): \(error)")
        }
        let directory = (file as NSString).deletingLastPathComponent
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
        }
        func named<Value>(_ entries: [KubeconfigFile.Named<Value>]?, _ field: String, _ name: String) throws(KubernetesClientError) -> Value? {
            guard let entry = entries?.first(where: { $0.name == name }) else {
                throw .configuration("kubeconfig \(file): no \(field) named \(String(reflecting: name))")
            }
            return entry.value
        }

        guard let contextName = context ?? document.currentContext, !contextName.isEmpty else {
            throw .configuration("kubeconfig \(file) has no current-context")
        }
        let contextEntry = try named(document.contexts, "context", contextName) ?? KubeconfigFile.Context()
        guard let clusterName = contextEntry.cluster else {
            throw .configuration("kubeconfig \(file): context \(String(reflecting: contextName)) names no cluster")
        }
        let cluster = try named(document.clusters, "cluster", clusterName) ?? KubeconfigFile.Cluster()
        var user = KubeconfigFile.User()
        if let userName = contextEntry.user {
            user = try named(document.users, "user", userName) ?? user
        }

        guard let server = cluster.server, !server.isEmpty else {
            throw .configuration("kubeconfig \(file): cluster \(String(reflecting: clusterName)) has no server")
        }
        var client = HTTPClientConfig()
        if let data = cluster.certificateAuthorityData {
            client.tls.caFile = try writePrivateFile(base64: data, suffix: "ca.crt", field: "certificate-authority-data")
        } else if let path = cluster.certificateAuthority {
            client.tls.caFile = resolve(path)
        }
        client.tls.insecureSkipVerify = cluster.insecureSkipTLSVerify?.value ?? false
        client.tls.serverName = cluster.tlsServerName
        client.proxyURL = cluster.proxyURL

        if let data = user.clientCertificateData {
            client.tls.certFile = try writePrivateFile(base64: data, suffix: "client.crt", field: "client-certificate-data")
        } else if let path = user.clientCertificate {
            client.tls.certFile = resolve(path)
        }
        if let data = user.clientKeyData {
            client.tls.keyFile = try writePrivateFile(base64: data, suffix: "client.key", field: "client-key-data")
        } else if let path = user.clientKey {
            client.tls.keyFile = resolve(path)
        }
        if let token = user.token, !token.isEmpty {
            client.authorization = Authorization(type: "Bearer", credentials: .inline(token))
        } else if let path = user.tokenFile, !path.isEmpty {
            client.authorization = Authorization(type: "Bearer", credentials: .file(resolve(path)))
        } else if let username = user.username, !username.isEmpty {
            client.basicAuth = BasicAuth(username: username, password: user.password.map(Secret.inline))
        } else if client.tls.certFile == nil, user.exec != nil || user.authProvider != nil {
            throw .configuration("kubeconfig \(file): exec and auth-provider credential plugins are not supported")
        }

        let namespace = contextEntry.namespace.flatMap { $0.isEmpty ? nil : $0 }
        return KubernetesAPIConfig(server: server, httpClient: client, namespace: namespace ?? "default")
    }

    /// Decodes base64 `data` into a `0600` file in a `0700` per-user temporary directory,
    /// named by a hash of the content (so rereading the same kubeconfig reuses it).
    private static func writePrivateFile(base64 text: String, suffix: String, field: String) throws(KubernetesClientError) -> String {
        guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
            throw .configuration("kubeconfig \(field) is not valid base64")
        }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let directory = NSTemporaryDirectory() + "metrics-agent-kubeconfig-\(getuid())"
        let path = directory + "/" + String(hash, radix: 16) + "-" + suffix
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // The directory may already exist, made by someone else: it must be ours and private.
            let attributes = try manager.attributesOfItem(atPath: directory)
            guard (attributes[.ownerAccountID] as? NSNumber)?.uint32Value == getuid(),
                  ((attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777) & 0o077 == 0
            else {
                throw KubernetesClientError.configuration("temporary directory \(directory) is not private to this user")
            }
            if manager.contents(atPath: path) == data { return path }
            let temporary = path + ".\(UUID().uuidString)"
            guard manager.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw KubernetesClientError.configuration("cannot write \(temporary)")
            }
            // rename(2) replaces atomically, so a reader never sees half a file.
            guard rename(temporary, path) == 0 else {
                let code = errno
                try? manager.removeItem(atPath: temporary)
                throw KubernetesClientError.configuration("cannot rename \(temporary) to \(path): \(String(cString: strerror(code)))")
            }
            return path
        } catch let error as KubernetesClientError {
            throw error
        } catch {
            throw .configuration("cannot write kubeconfig \(field) to \(path): \(error.localizedDescription)")
        }
    }
}

/// The parts of a kubeconfig file (`kind: Config`) the agent reads; other fields are ignored.
struct KubeconfigFile: Decodable {
    /// What a `clusters`, `contexts` or `users` entry holds, under the key `field`.
    protocol Entry: Decodable {
        static var field: String { get }
    }

    /// A `clusters`, `contexts` or `users` entry: its `name` and its value (under `cluster`,
    /// `context` or `user`; `nil` when missing).
    struct Named<Value: Entry>: Decodable {
        var name: String
        var value: Value?

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            name = try container.decode(String.self, forKey: Key(stringValue: "name"))
            value = try container.decodeIfPresent(Value.self, forKey: Key(stringValue: Value.field))
        }
    }

    struct Cluster: Entry {
        static let field = "cluster"

        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Flag?
        var tlsServerName: String?
        var proxyURL: String?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
            case proxyURL = "proxy-url"
        }
    }

    struct Context: Entry {
        static let field = "context"

        var cluster: String?
        var user: String?
        var namespace: String?
    }

    struct User: Entry {
        static let field = "user"

        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var username: String?
        var password: String?
        var exec: Present?
        var authProvider: Present?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, username, password, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }

    /// A boolean written as a YAML boolean or as a string (`"true"`, `"yes"`, `"on"`).
    struct Flag: Decodable {
        var value: Bool

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let bool = try? container.decode(Bool.self) {
                value = bool
            } else {
                value = ["true", "yes", "on"].contains(try container.decode(String.self).lowercased())
            }
        }
    }

    /// Any value at all: only whether the key is there (and not null) matters.
    struct Present: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    var currentContext: String?
    var clusters: [Named<Cluster>]?
    var contexts: [Named<Context>]?
    var users: [Named<User>]?

    enum CodingKeys: String, CodingKey {
        case currentContext = "current-context"
        case clusters, contexts, users
    }
}
