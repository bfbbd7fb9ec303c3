import Curl

/// Why a Kubernetes API request failed.
public enum KubernetesClientError: Error, Sendable, CustomStringConvertible {
    /// 410 Gone: the requested resource version is too old (compacted). An informer must
    /// list again; the watch cannot resume.
    case gone(message: String)
    /// The API server answered with an error status (a non-2xx response, or a watch `ERROR`
    /// event other than 410), with its `Status` object's reason and message when it sent one.
    case status(code: Int, reason: String?, message: String)
    /// No (complete) response: connection refused or broken, TLS failure, timeout.
    case transport(CurlError)
    /// The response or an event could not be decoded.
    case decoding(String)
    /// The configuration is unusable: not in a cluster, unreadable kubeconfig or credentials.
    case configuration(String)

    /// The HTTP status (410 for ``gone(message:)``), if the server answered.
    public var statusCode: Int? {
        switch self {
        case .gone: 410
        case .status(let code, _, _): code
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .gone(let message): "resource version expired (410 Gone): \(message)"
        case .status(let code, let reason, let message):
            "Kubernetes API error \(code)\(reason.map { " \($0)" } ?? ""): \(message)"
        case .transport(let error): "Kubernetes API request failed: \(error)"
        case .decoding(let message): "cannot decode Kubernetes API response: \(message)"
        case .configuration(let message): "Kubernetes client configuration: \(message)"
        }
    }
}

/// A Kubernetes `Status` object, as sent with error responses and in watch `ERROR` events.
struct KubernetesStatus: Decodable, Sendable {
    var code: Int?
    var reason: String?
    var message: String?

    /// The error for this status; `fallbackCode` when the object has no code.
    func error(fallbackCode: Int) -> KubernetesClientError {
        let code = self.code ?? fallbackCode
        let message = self.message ?? reason ?? "HTTP \(code)"
        return code == 410 ? .gone(message: message) : .status(code: code, reason: reason, message: message)
    }
}
