import AgentConfig
import Foundation

/// Where the Kubernetes API server is and how to talk to it: a base URL and an
/// ``HTTPClientConfig`` (TLS, bearer token or basic auth, proxy), so credentials go through
/// `Transport`'s ``HTTPClient`` and token files are re-read (at most a minute apart, and at
/// once after a 401).
///
/// Made one of three ways, as Prometheus's `kubernetes_sd_configs` does (``resolve(_:httpClient:)``):
/// - ``inCluster(environment:serviceAccountDirectory:)``: the pod's service account;
/// - ``init(server:httpClient:namespace:)``: an explicit `api_server` with the job's
///   `http_config`;
/// - ``kubeconfig(file:context:)``: a kubeconfig file.
public struct KubernetesAPIConfig: Sendable, Equatable {
    /// The default service-account directory mounted into every pod.
    public static let defaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The API server's base URL without a trailing slash, e.g. `https://10.96.0.1:443`.
    public var server: String
    /// TLS and credentials for every request.
    public var httpClient: HTTPClientConfig
    /// The namespace the agent runs in (in-cluster: the service account's `namespace` file;
    /// kubeconfig: the context's namespace), for `own_namespace`. `nil` when unknown.
    public var namespace: String?
    /// Limit for establishing a connection (TCP and TLS).
    public var connectTimeout: Duration = .seconds(10)
    /// Limit for each list request (one page of a paged list).
    public var listTimeout: Duration = .seconds(60)

    /// An explicit API server (`api_server`) with the job's `http_config`.
    public init(server: String, httpClient: HTTPClientConfig = HTTPClientConfig(), namespace: String? = nil) {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        self.server = server
        self.httpClient = httpClient
        self.namespace = namespace
    }

    /// The configuration a pod gets from its service account, as client-go's
    /// `rest.InClusterConfig`: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the
    /// CA bundle `ca.crt`, the bearer token file `token` (a path, re-read as it rotates, never
    /// kept open) and the namespace from `namespace`.
    ///
    /// - Throws: ``KubernetesClientError/configuration(_:)`` when the environment variables are
    ///   missing (not running in a cluster) or the token file does not exist.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = defaultServiceAccountDirectory
    ) throws(KubernetesClientError) -> KubernetesAPIConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw .configuration(
                "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")
        }
        let tokenFile = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenFile) else {
            throw .configuration("unable to load in-cluster configuration: cannot read token file \(tokenFile)")
        }
        var client = HTTPClientConfig()
        client.authorization = Authorization(type: "Bearer", credentials: .file(tokenFile))
        let caFile = serviceAccountDirectory + "/ca.crt"
        if FileManager.default.fileExists(atPath: caFile) {
            client.tls.caFile = caFile
        }
        let namespace = (try? String(contentsOfFile: serviceAccountDirectory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // An IPv6 address needs brackets in a URL.
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return KubernetesAPIConfig(
            server: "https://\(hostPart):\(port)", httpClient: client,
            namespace: namespace.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The configuration for one `kubernetes_sd_configs` entry: its `kubeconfig_file`, else its
    /// `api_server` with `httpClient` (the job's `http_config`), else in-cluster.
    ///
    /// - Parameters:
    ///   - environment, serviceAccountDirectory: For the in-cluster case; overridable in tests.
    public static func resolve(
        _ config: KubernetesSDConfig, httpClient: HTTPClientConfig,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = defaultServiceAccountDirectory
    ) throws(KubernetesClientError) -> KubernetesAPIConfig {
        if let file = config.kubeconfigFile, !file.isEmpty {
            return try kubeconfig(file: file)
        }
        if let server = config.apiServer, !server.isEmpty {
            return KubernetesAPIConfig(server: server, httpClient: httpClient)
        }
        return try inCluster(environment: environment, serviceAccountDirectory: serviceAccountDirectory)
    }
}
