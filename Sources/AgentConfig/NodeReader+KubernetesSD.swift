import Yams

extension NodeReader {
    /// A `kubernetes_sd_configs` entry: read and validated. `attach_metadata.node` is accepted for
    /// every role and, as in Prometheus, ignored where the role has no node (service, ingress, node).
    mutating func kubernetesSD(_ node: Node, _ path: String) -> KubernetesSDConfig? {
        let map = mapping(
            node, path,
            known: Set(["role", "api_server", "kubeconfig_file", "namespaces", "selectors", "attach_metadata"]).union(Self.httpClientKeys))
        guard let roleNode = map["role"], let roleText = string(roleNode, "\(path).role") else {
            fail(node, "\(path).role", "role is required")
            return nil
        }
        guard let role = KubernetesSDConfig.Role(rawValue: roleText) else {
            fail(roleNode, "\(path).role", "unknown role \"\(roleText)\" (one of \(KubernetesSDConfig.Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        var sd = KubernetesSDConfig(role: role)
        sd.apiServer = map["api_server"].flatMap { string($0, "\(path).api_server") }
        sd.kubeconfigFile = map["kubeconfig_file"].flatMap { string($0, "\(path).kubeconfig_file") }.flatMap { $0.isEmpty ? nil : $0 }
        if sd.apiServer != nil, sd.kubeconfigFile != nil {
            fail(map["kubeconfig_file"], "\(path).kubeconfig_file", "api_server and kubeconfig_file are mutually exclusive")
        }
        if let n = map["namespaces"] {
            let namespaces = mapping(n, "\(path).namespaces", known: ["names", "own_namespace"])
            sd.namespaces = optionalSequence(namespaces["names"], "\(path).namespaces.names").compactMap { string($0, "\(path).namespaces.names") }
            if let v = namespaces["own_namespace"], let value = bool(v, "\(path).namespaces.own_namespace") { sd.ownNamespace = value }
        }
        if let n = map["attach_metadata"], !isNull(n) {
            let attach = mapping(n, "\(path).attach_metadata", known: ["node", "namespace", "deployment", "job", "cronjob"])
            if let v = attach["node"], let value = bool(v, "\(path).attach_metadata.node") { sd.attachMetadata.node = value }
            if let v = attach["namespace"], let value = bool(v, "\(path).attach_metadata.namespace") { sd.attachMetadata.namespace = value }
            if let v = attach["deployment"], let value = bool(v, "\(path).attach_metadata.deployment") { sd.attachMetadata.deployment = value }
            if let v = attach["job"], let value = bool(v, "\(path).attach_metadata.job") { sd.attachMetadata.job = value }
            if let v = attach["cronjob"], let value = bool(v, "\(path).attach_metadata.cronjob") { sd.attachMetadata.cronJob = value }
        }
        sd.httpClient = httpClient(map, node, path)
        for (index, selectorNode) in optionalSequence(map["selectors"], "\(path).selectors").enumerated() {
            let selectorPath = "\(path).selectors[\(index)]"
            let selector = mapping(selectorNode, selectorPath, known: ["role", "label", "field"])
            guard let roleNode = selector["role"], let roleText = string(roleNode, "\(selectorPath).role"),
                let selectorRole = KubernetesSDConfig.Role(rawValue: roleText)
            else {
                fail(selector["role"] ?? selectorNode, "\(selectorPath).role", "a selector needs a valid role")
                continue
            }
            sd.selectors.append(
                KubernetesSDConfig.Selector(
                    role: selectorRole, label: selector["label"].flatMap { string($0, "\(selectorPath).label") },
                    field: selector["field"].flatMap { string($0, "\(selectorPath).field") }))
        }
        return sd
    }
}
