import Foundation

/// The API objects of a ``GeneratedCluster``, as the API server would return them (what a
/// kubelet, the controllers and `kubectl apply` leave in a pod, including managed fields).
extension GeneratedCluster {
    static let created = "2026-11-20T08:15:42Z"

    static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    func namespaceObject(_ name: String) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": [
                "name": name, "creationTimestamp": Self.created,
                "labels": ["kubernetes.io/metadata.name": name, "team": name.split(separator: "-").first.map(String.init) ?? name],
            ],
            "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"],
        ]
    }

    func nodeObject(_ node: NodeModel) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Node",
            "metadata": [
                "name": node.name, "creationTimestamp": Self.created, "labels": node.labels,
                "annotations": [
                    "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    "csi.volume.kubernetes.io/nodeid": #"{"ebs.csi.aws.com":"i-0\#(node.ip.replacingOccurrences(of: ".", with: ""))"}"#,
                ],
            ],
            "spec": ["providerID": "aws:///\(node.zone)/i-0\(node.ip.replacingOccurrences(of: ".", with: ""))"],
            "status": [
                "addresses": [
                    ["type": "InternalIP", "address": node.ip], ["type": "Hostname", "address": node.name],
                    ["type": "InternalDNS", "address": node.name],
                ],
                "daemonEndpoints": ["kubeletEndpoint": ["Port": Self.kubeletPort]],
                "capacity": ["cpu": "8", "memory": "32386524Ki", "pods": "110", "ephemeral-storage": "104845292Ki"],
                "allocatable": ["cpu": "7910m", "memory": "31369692Ki", "pods": "110", "ephemeral-storage": "95551679124"],
                "conditions": ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"].map { type in
                    [
                        "type": type, "status": type == "Ready" ? "True" : "False", "reason": "Kubelet" + type,
                        "lastHeartbeatTime": Self.created, "lastTransitionTime": Self.created,
                    ]
                },
                "nodeInfo": [
                    "kubeletVersion": "v1.29.3", "kubeProxyVersion": "v1.29.3", "containerRuntimeVersion": "containerd://1.7.11",
                    "osImage": "Amazon Linux 2", "kernelVersion": "5.10.210-201.852.amzn2.x86_64", "operatingSystem": "linux",
                    "architecture": "amd64",
                ],
            ],
        ]
    }

    func podObject(_ pod: PodModel, of workload: Workload) -> [String: Any] {
        let node = nodes[pod.node]
        let containers: [[String: Any]] = workload.containers.map { container in
            var object: [String: Any] = [
                "name": container.name, "image": container.image, "imagePullPolicy": "IfNotPresent",
                "ports": container.ports.map { ["name": $0.name, "containerPort": $0.number, "protocol": $0.protocol] },
                "env": container.env.map { ["name": $0.name, "value": $0.value] }
                    + [
                        ["name": "POD_NAME", "valueFrom": ["fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.name"]]],
                        ["name": "POD_NAMESPACE", "valueFrom": ["fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.namespace"]]],
                    ],
                "resources": [
                    "requests": ["cpu": container.cpuRequest, "memory": container.memoryRequest],
                    "limits": ["memory": container.memoryLimit],
                ],
                "volumeMounts": [
                    ["name": "config", "mountPath": "/etc/\(container.name)", "readOnly": true],
                    ["name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true],
                ],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "securityContext": [
                    "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
                    "capabilities": ["drop": ["ALL"]],
                ],
            ]
            if let port = container.ports.first {
                object["readinessProbe"] = [
                    "httpGet": ["path": "/ready", "port": port.number, "scheme": "HTTP"], "periodSeconds": 10,
                    "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
                ]
                object["livenessProbe"] = [
                    "httpGet": ["path": "/healthz", "port": port.number, "scheme": "HTTP"], "initialDelaySeconds": 10,
                    "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
                ]
            }
            return object
        }

        var status: [String: Any] = [
            "phase": pod.phase.rawValue, "qosClass": "Burstable", "hostIP": node.ip,
            "hostIPs": [["ip": node.ip]],
        ]
        if pod.phase != .pending { status["startTime"] = Self.created }
        if let ip = pod.ip {
            status["podIP"] = ip
            status["podIPs"] = [["ip": ip]]
        }
        status["conditions"] = [
            ("PodReadyToStartContainers", pod.phase != .pending), ("Initialized", true), ("Ready", pod.isReady),
            ("ContainersReady", pod.isReady), ("PodScheduled", true),
        ].map { type, value in
            ["type": type, "status": value ? "True" : "False", "lastProbeTime": NSNull(), "lastTransitionTime": Self.created]
        }
        if pod.phase != .pending {
            status["containerStatuses"] = zip(workload.containers, pod.containerIDs).map { container, id -> [String: Any] in
                let state: [String: Any] =
                    pod.phase == .running
                    ? ["running": ["startedAt": Self.created]]
                    : ["terminated": ["exitCode": 0, "reason": "Completed", "startedAt": Self.created, "finishedAt": Self.created, "containerID": id]]
                return [
                    "name": container.name, "image": container.image, "imageID": container.image + "@sha256:" + id.suffix(64),
                    "containerID": id, "ready": pod.isReady, "started": pod.phase == .running, "restartCount": 0,
                    "state": state, "lastState": [String: Any](),
                ]
            }
        }

        return [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": pod.name, "generateName": "\(workload.name)-\(workload.templateHash)-", "namespace": workload.namespace,
                "uid": pod.uid, "creationTimestamp": Self.created, "labels": workload.podLabels,
                "annotations": workload.podAnnotations,
                "ownerReferences": [
                    [
                        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "\(workload.name)-\(workload.templateHash)",
                        "uid": workload.serviceUID, "controller": true, "blockOwnerDeletion": true,
                    ]
                ],
                "managedFields": [
                    [
                        "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": Self.created,
                        "fieldsType": "FieldsV1",
                        "fieldsV1": [
                            "f:metadata": [
                                "f:generateName": [String: Any](), "f:labels": [String: Any](), "f:ownerReferences": [String: Any](),
                                "f:annotations": Dictionary(uniqueKeysWithValues: workload.podAnnotations.keys.map { ("f:" + $0, [String: Any]()) }),
                            ],
                            "f:spec": [
                                "f:containers": Dictionary(uniqueKeysWithValues: workload.containers.map { container in
                                    (#"k:{"name":"\#(container.name)"}"#, [
                                        ".": [String: Any](), "f:env": [String: Any](), "f:image": [String: Any](),
                                        "f:ports": [String: Any](), "f:resources": [String: Any](), "f:volumeMounts": [String: Any](),
                                    ] as [String: Any])
                                }),
                                "f:dnsPolicy": [String: Any](), "f:restartPolicy": [String: Any](), "f:volumes": [String: Any](),
                            ],
                        ],
                    ],
                    [
                        "manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": Self.created,
                        "fieldsType": "FieldsV1", "subresource": "status",
                        "fieldsV1": [
                            "f:status": [
                                "f:conditions": [String: Any](), "f:containerStatuses": [String: Any](), "f:hostIP": [String: Any](),
                                "f:phase": [String: Any](), "f:podIP": [String: Any](), "f:podIPs": [String: Any](),
                                "f:startTime": [String: Any](),
                            ]
                        ],
                    ],
                ],
            ],
            "spec": [
                "containers": containers, "nodeName": node.name, "serviceAccountName": workload.name,
                "serviceAccount": workload.name, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "priority": 0,
                "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
                "securityContext": ["runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001, "seccompProfile": ["type": "RuntimeDefault"]],
                "affinity": [
                    "podAntiAffinity": [
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            [
                                "weight": 100,
                                "podAffinityTerm": [
                                    "topologyKey": "topology.kubernetes.io/zone",
                                    "labelSelector": ["matchLabels": ["app.kubernetes.io/instance": workload.name]],
                                ],
                            ]
                        ]
                    ],
                    "nodeAffinity": [
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            "nodeSelectorTerms": [
                                ["matchExpressions": [["key": "nodepool", "operator": "In", "values": ["general", "system"]]]]
                            ]
                        ]
                    ],
                ],
                "tolerations": [
                    ["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300],
                    ["key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300],
                ],
                "volumes": [
                    ["name": "config", "configMap": ["name": "\(workload.name)-config", "defaultMode": 420]],
                    [
                        "name": "kube-api-access",
                        "projected": [
                            "defaultMode": 420,
                            "sources": [
                                ["serviceAccountToken": ["expirationSeconds": 3607, "path": "token"]],
                                ["configMap": ["name": "kube-root-ca.crt", "items": [["key": "ca.crt", "path": "ca.crt"]]]],
                                ["downwardAPI": ["items": [["path": "namespace", "fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.namespace"]]]]],
                            ],
                        ],
                    ],
                ],
            ],
            "status": status,
        ]
    }

    func serviceObject(_ workload: Workload) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Service",
            "metadata": [
                "name": workload.name, "namespace": workload.namespace, "uid": workload.serviceUID,
                "creationTimestamp": Self.created, "labels": workload.serviceLabels, "annotations": workload.serviceAnnotations,
            ],
            "spec": [
                "type": "ClusterIP", "clusterIP": workload.clusterIP, "clusterIPs": [workload.clusterIP],
                "selector": ["app": workload.podLabels["app"] ?? "", "app.kubernetes.io/instance": workload.name],
                "ports": workload.slicePorts.map { port in
                    ["name": port.name, "port": port.number == Ports.http.number ? 80 : port.number, "targetPort": port.number, "protocol": port.protocol]
                },
                "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
            ],
            "status": ["loadBalancer": [String: Any]()],
        ]
    }

    /// The Deployment's slice: one endpoint per ready pod, the first container's ports.
    func sliceObject(_ workload: Workload) -> [String: Any] {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": [
                "name": workload.sliceName, "generateName": workload.name + "-", "namespace": workload.namespace,
                "uid": workload.sliceUID, "creationTimestamp": Self.created,
                "labels": [
                    "kubernetes.io/service-name": workload.name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    "app": workload.podLabels["app"] ?? "",
                ],
                "ownerReferences": [
                    ["apiVersion": "v1", "kind": "Service", "name": workload.name, "uid": workload.serviceUID, "controller": true, "blockOwnerDeletion": true]
                ],
            ],
            "addressType": "IPv4",
            "endpoints": workload.pods.filter(\.isReady).map { pod in
                [
                    "addresses": [pod.ip ?? ""], "conditions": ["ready": true, "serving": true, "terminating": false],
                    "nodeName": nodes[pod.node].name, "zone": nodes[pod.node].zone,
                    "targetRef": ["kind": "Pod", "namespace": workload.namespace, "name": pod.name, "uid": pod.uid],
                ] as [String: Any]
            },
            "ports": workload.slicePorts.map { ["name": $0.name, "port": $0.number, "protocol": $0.protocol] },
        ]
    }
}
