/// One thing a conversion reports about its input: something it could not carry over, something
/// it left out because this agent does that job by itself, a command-line flag to pass instead,
/// or how a setting was carried over when the meaning shifts a little.
public struct ConversionFinding: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// The input asks for something the output does not do (an integration, logs, a key
        /// with no equivalent). Any of these makes `agent config convert` fail unless
        /// `--allow-partial`.
        case dropped
        /// Left out because it only tuned the old agent's own machinery (WAL cleanup of instance
        /// folders, restart backoff, gRPC): what is scraped and sent does not change.
        case ignored
        /// Carried over as a flag of `agent run` rather than in the file; `message` is the flag.
        case flag
        /// Carried over, with a remark on how (a renamed job, per-instance routing, a default).
        case note
    }

    public var kind: Kind
    /// The file the finding is about.
    public var file: String
    /// The 1-based line of the key in the input, 0 when unknown.
    public var line: Int
    /// The dotted path of the key in the input, e.g. `metrics.configs[0].host_filter`.
    public var path: String
    public var message: String

    public init(kind: Kind, file: String, line: Int, path: String, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    /// `dropped: agent.yaml:12: integrations.node_exporter: …`, one line.
    public var description: String {
        let place = line > 0 ? "\(file):\(line)" : file
        return path.isEmpty ? "\(kind.rawValue): \(place): \(message)" : "\(kind.rawValue): \(place): \(path): \(message)"
    }
}

/// An input the conversion cannot read at all (not YAML, not a Grafana Agent static-mode file,
/// or one Grafana Agent itself would reject in a way that leaves no meaning to carry over).
public struct ConversionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}
