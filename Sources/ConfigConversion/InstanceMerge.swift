import Yams

/// Several Grafana Agent metrics instances become one set of jobs and one set of endpoints.
///
/// Invariants of the result:
/// - job names are unique: a job whose name an earlier instance already used is renamed
///   `INSTANCE/JOB`, and a first relabel rule sets its `job` label back to `JOB`, so the series
///   are labelled as before;
/// - every endpoint receives exactly the jobs of the instances that sent to it in Grafana Agent
///   (its own `remote_write`, else `global.remote_write`). Identical endpoints of several
///   instances become one (Grafana Agent's shared instance mode did the same). When some
///   endpoint does not serve every instance, each series carries the label
///   ``instanceLabel`` (set by the last `relabel_configs` and `metric_relabel_configs` rules of
///   its job, so neither a target relabeling nor `honor_labels` can change it), each
///   endpoint's first `write_relabel_configs` keep only its instances' series, and every
///   endpoint drops the label before anything else sees it.
struct InstanceMerge {
    /// The label that routes series to endpoints when instances had different ones.
    static let instanceLabel = "grafana_agent_instance"

    var scrapeConfigs: [Node] = []
    var remoteWrite: [Node] = []

    /// One distinct endpoint and the instances (with jobs) that send to it.
    private struct Endpoint {
        var node: Node
        var instances: [String]
        /// The first instance that lists it and its index there, for names and messages.
        var firstPath: String
        var firstInstance: String
        var indexInFirst: Int
    }

    static func merge(_ file: StaticModeFile, report: inout ConversionReport) -> InstanceMerge {
        let active = file.instances.filter { !$0.scrapeConfigs.isEmpty }
        var endpoints: [Endpoint] = []
        var indexByKey: [String: Int] = [:]
        for instance in file.instances {
            let remotes = instance.remoteWrite ?? file.globalRemoteWrite
            guard !instance.scrapeConfigs.isEmpty else {
                if !remotes.isEmpty {
                    report.add(.note, instance.path, at: nil, "instance \(instance.name) has no scrape_configs: nothing of it is converted, and its remote_write receives nothing from it")
                }
                continue
            }
            let remotePath = instance.remoteWrite == nil ? "metrics.global.remote_write" : "\(instance.path).remote_write"
            for (index, remote) in remotes.enumerated() {
                let key = (try? Yams.serialize(node: remote.detached)) ?? "\(remote)"
                if let existing = indexByKey[key] {
                    if !endpoints[existing].instances.contains(instance.name) { endpoints[existing].instances.append(instance.name) }
                } else {
                    indexByKey[key] = endpoints.count
                    endpoints.append(
                        Endpoint(
                            node: remote, instances: [instance.name], firstPath: "\(remotePath)[\(index)]",
                            firstInstance: instance.name, indexInFirst: index))
                }
            }
        }
        let routed = endpoints.contains { $0.instances.count < active.count }

        var merge = InstanceMerge()
        var jobNames: Set<String> = []
        for instance in active {
            for (index, scrape) in instance.scrapeConfigs.enumerated() {
                var node = scrape.detached
                let path = "\(instance.path).scrape_configs[\(index)]"
                if let job = scrape["job_name"]?.scalar?.string {
                    if jobNames.contains(job) {
                        var renamed = "\(instance.name)/\(job)"
                        var suffix = 2
                        while jobNames.contains(renamed) {
                            renamed = "\(instance.name)/\(job)-\(suffix)"
                            suffix += 1
                        }
                        node = node.setting("job_name", to: .text(renamed))
                            .extendingList("relabel_configs", before: [setLabel("job", to: job)])
                        report.add(.note, "\(path).job_name", at: scrape["job_name"], "job \"\(job)\" is also a job of an earlier instance: renamed \"\(renamed)\" (job names must be unique in one file); its series keep job=\"\(job)\"")
                        jobNames.insert(renamed)
                    } else {
                        jobNames.insert(job)
                    }
                }
                if routed {
                    let rule = setLabel(instanceLabel, to: instance.name)
                    node = node.extendingList("relabel_configs", after: [rule]).extendingList("metric_relabel_configs", after: [rule])
                }
                merge.scrapeConfigs.append(node)
            }
        }

        var names: Set<String> = []
        var notedExemplars = false
        for endpoint in endpoints {
            var node = endpoint.node.detached
            if node["send_exemplars"] == nil {
                node = node.setting("send_exemplars", to: Node("true", Tag(.implicit), .plain))
                if !notedExemplars {
                    report.add(.note, endpoint.firstPath, at: endpoint.node, "send_exemplars: true added where it was not set (Grafana Agent's default; Prometheus's and this agent's is false)")
                    notedExemplars = true
                }
            }
            if let name = node["name"]?.scalar?.string {
                if names.contains(name) {
                    let renamed = "\(name)-\(endpoint.firstInstance)"
                    node = node.setting("name", to: .text(renamed))
                    report.add(.note, "\(endpoint.firstPath).name", at: endpoint.node["name"], "another instance has a different remote_write named \"\(name)\": renamed \"\(renamed)\" (names must be unique in one file)")
                    names.insert(renamed)
                } else {
                    names.insert(name)
                }
            } else if let url = node["url"]?.scalar?.string,
                endpoints.contains(where: { $0.node["url"]?.scalar?.string == url && $0.firstPath != endpoint.firstPath && $0.node["name"] == nil })
            {
                let named = "\(endpoint.firstInstance)-\(endpoint.indexInFirst)"
                node = node.setting("name", to: .text(named))
                report.add(.note, endpoint.firstPath, at: endpoint.node, "several different unnamed remote_write entries send to \(url): this one is named \"\(named)\"")
                names.insert(named)
            }
            if routed {
                var rules: [Node] = []
                if endpoint.instances.count < active.count {
                    let pattern = endpoint.instances.map(regexQuoted).joined(separator: "|")
                    rules.append(.map([("source_labels", Node([.text(instanceLabel)])), ("regex", .text(pattern)), ("action", .text("keep"))]))
                    report.add(.note, endpoint.firstPath, at: endpoint.node, "receives only the jobs of instance\(endpoint.instances.count == 1 ? "" : "s") \(endpoint.instances.joined(separator: ", ")), as in Grafana Agent: the jobs label their series \(instanceLabel)=INSTANCE and this endpoint's write_relabel_configs keep its instances' series and drop the label")
                }
                rules.append(.map([("regex", .text(instanceLabel)), ("action", .text("labeldrop"))]))
                node = node.extendingList("write_relabel_configs", before: rules)
            }
            merge.remoteWrite.append(node)
        }
        return merge
    }

    /// A relabel rule that sets `label` to the literal `value` on every target or series.
    private static func setLabel(_ label: String, to value: String) -> Node {
        .map([
            ("target_label", .text(label)),
            ("replacement", .text(value.replacingOccurrences(of: "$", with: "$$"))),
            ("action", .text("replace")),
        ])
    }

    /// `text` as an RE2 pattern that matches exactly it.
    static func regexQuoted(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\.+*?()|[]{}^$".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
