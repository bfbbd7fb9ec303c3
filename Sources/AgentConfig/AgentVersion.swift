/// The agent's version, as `agent --version`, the User-Agent header and build info report it.
public enum AgentVersion {
    public static let current = "0.1.0"
}
