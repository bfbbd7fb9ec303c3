import AgentConfig
import Prometheus

/// What `agent_build_info` reports, after Prometheus's `prometheus_build_info`: the agent's
/// version, the Swift compiler it was built with (where Prometheus has `goversion`), and the
/// operating system and architecture it was built for (`goos`, `goarch`).
struct BuildInfo: Equatable, Sendable {
    var version: String
    var swiftVersion: String
    var os: String
    var arch: String

    /// This binary's build.
    static let current = BuildInfo(version: AgentVersion.current, swiftVersion: compilerVersion, os: operatingSystem, arch: architecture)

    /// The label pairs of `agent_build_info`, in exposition order.
    var labels: [(String, String)] {
        [("version", version), ("swiftversion", swiftVersion), ("os", os), ("arch", arch)]
    }

    /// Registers `agent_build_info{…} 1`.
    func register(in registry: PrometheusCollectorRegistry) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "agent_build_info", unitName: "",
                helpText: "A metric with a constant '1' value labeled by version, swiftversion, os and arch from which the agent was built."),
            labels: labels
        ).set(1.0)
    }

    /// The compiler's major.minor version, known at compile time only through `#if compiler`.
    private static var compilerVersion: String {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    private static var operatingSystem: String {
        #if os(Linux)
        return "linux"
        #elseif os(macOS)
        return "darwin"
        #else
        return "unknown"
        #endif
    }

    private static var architecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }
}
