import AgentConfig
import Discovery
import Model

/// A target as discovery reported it: its group (shared with discovery, not copied) and its
/// place in the group. Its labels before relabeling (``discoveredLabels``) are built when asked,
/// so that neither active nor dropped targets keep a label set of their own for the targets API.
public struct DiscoveredTarget: Sendable {
    /// The job the target was discovered for.
    public let job: String
    private let group: TargetGroup
    private let index: Int
    private let defaults: Labels

    /// A target known by its discovered labels alone.
    public init(job: String, discoveredLabels: Labels) {
        self.init(job: job, group: TargetGroup(source: "", targets: [discoveredLabels]), index: 0, defaults: .empty)
    }

    /// - Parameter defaults: ``defaults(of:)`` of the target's scrape config.
    init(job: String, group: TargetGroup, index: Int, defaults: Labels) {
        self.job = job
        self.group = group
        self.index = index
        self.defaults = defaults
    }

    /// Prometheus's `PopulateLabels` before relabeling: the target's own labels (with its base
    /// labels), then its group's
    /// (a target's own label wins), then the job's defaults (`job`, `__scheme__`,
    /// `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__`, `__param_<name>`).
    public var discoveredLabels: Labels {
        group.targetLabels(index).addingMissing(from: group.labels).addingMissing(from: defaults)
    }

    /// The job's default labels, shared by the targets of one relabeling pass.
    static func defaults(of config: ScrapeConfig) -> Labels {
        var defaults: [Label] = [
            Label("job", config.jobName), Label("__scheme__", config.scheme), Label("__metrics_path__", config.metricsPath),
            Label("__scrape_interval__", PrometheusDuration.format(config.scrapeInterval)),
            Label("__scrape_timeout__", PrometheusDuration.format(config.scrapeTimeout)),
        ]
        for param in config.params where !param.values.isEmpty {
            defaults.append(Label("__param_\(param.name)", param.values[0]))
        }
        return Labels(defaults)
    }
}
