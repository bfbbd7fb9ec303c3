// Peak memory of one Kubernetes LIST of many pods, paged (`limit`/`continue`) against unpaged.
//
// The parent process serves `--pods` generated pods of about `--pod-bytes` of JSON each from the
// in-process fake API server (TestSupport), then runs itself once per mode as a child that
// lists them with the agent's `KubernetesClient` into the real `Pod` model and reports its
// resident memory: before the list, its peak (VmHWM), and after (the decoded pods kept). The
// server's own memory (the store, and the 70 MB body it builds for an unpaged list) stays in
// the parent, so the figures are the client's alone.
//
//   swift run -c release KubernetesListBenchmark [--pods 10000] [--pod-bytes 7000] [--runs 2]
//       [--page-sizes 500]   (comma-separated; each is compared with an unpaged list)
import CHeapStats
import Curl
import Foundation
import Discovery
import TestSupport

let arguments = CommandLine.arguments

func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
          let parsed = Int(arguments[index + 1]) else { return value }
    return parsed
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`).
func procStatusKiB(_ field: String) -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return 0
}

func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }

// MARK: Child: one list

if arguments.count >= 4, arguments[1] == "list" {
    let server = arguments[2]
    let pageSize = Int(arguments[3])  // "unpaged" → nil
    let client = KubernetesClient(
        config: KubernetesAPIConfig(server: server), transport: HTTPTransport(), listPageSize: pageSize)
    // Warm up the transport and the decoder on a tiny list, so their one-time costs are in the
    // baseline.
    _ = try await client.list(Namespace.self)
    let rssBefore = procStatusKiB("VmRSS")
    let heapBefore = cheapstats_bytes_in_use()
    let start = ContinuousClock.now
    let list = try await client.list(Pod.self)
    let elapsed = ContinuousClock.now - start
    let heapAfter = cheapstats_bytes_in_use()
    let result: [String: Any] = [
        "items": list.items.count, "rssBeforeKiB": rssBefore, "peakKiB": procStatusKiB("VmHWM"),
        "rssAfterKiB": procStatusKiB("VmRSS"), "heapKeptBytes": heapAfter - min(heapAfter, heapBefore),
        "seconds": Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: result), as: UTF8.self))
    withExtendedLifetime(list) {}
    exit(0)
}

// MARK: Parent: serve the pods, run the children

let podCount = option("--pods", default: 10_000)
let podBytes = option("--pod-bytes", default: 7_000)
let runs = option("--runs", default: 2)
let pageSizes = arguments.firstIndex(of: "--page-sizes").flatMap { index in
    index + 1 < arguments.count ? arguments[index + 1].split(separator: ",").compactMap { Int($0) } : nil
} ?? [KubernetesClient.defaultListPageSize]

/// A pod shaped like a Deployment's, padded with `managedFields` (which the agent ignores, as
/// it ignores most of a pod) to about `podBytes` of JSON.
func podJSON(_ index: Int) -> [String: Any] {
    let name = "web-\(index / 100)-\(String(index, radix: 36))-x7k2p"
    let namespace = "team-\(index % 40)"
    let env = (0..<12).map { ["name": "SETTING_\($0)", "value": "value-\($0)-\(index)"] }
    let container: ([String: Any]) -> [String: Any] = { extra in
        [
            "name": "app", "image": "registry.example.com/team/app:1.\(index % 17).3",
            "ports": [["name": "http", "containerPort": 8080, "protocol": "TCP"],
                      ["name": "metrics", "containerPort": 9090, "protocol": "TCP"]],
            "env": env, "resources": ["limits": ["cpu": "500m", "memory": "256Mi"], "requests": ["cpu": "100m", "memory": "128Mi"]],
            "volumeMounts": [["name": "config", "mountPath": "/etc/app"], ["name": "kube-api-access-\(index % 997)", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true]],
            "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
        ].merging(extra) { $1 }
    }
    var pod: [String: Any] = [
        "kind": "Pod", "apiVersion": "v1",
        "metadata": [
            "name": name, "namespace": namespace, "uid": UUID().uuidString.lowercased(),
            "labels": ["app": "web-\(index / 100)", "pod-template-hash": "5d8f7c9b6", "tier": "frontend", "version": "v1"],
            "annotations": ["prometheus.io/scrape": "true", "prometheus.io/port": "9090"],
            "ownerReferences": [["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-\(index / 100)-5d8f7c9b6",
                                 "uid": UUID().uuidString.lowercased(), "controller": true, "blockOwnerDeletion": true]],
            "creationTimestamp": "2026-12-01T10:00:00Z",
        ] as [String: Any],
        "spec": [
            "nodeName": "node-\(index % 200)", "serviceAccountName": "default", "restartPolicy": "Always",
            "containers": [container([:]), container(["name": "sidecar", "ports": [["containerPort": 15090, "protocol": "TCP"]]])],
            "volumes": [["name": "config", "configMap": ["name": "app-config"]]],
            "tolerations": [["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300]],
        ] as [String: Any],
        "status": [
            "phase": "Running", "hostIP": "10.0.\(index % 200).1", "podIP": "10.1.\(index / 250).\(index % 250)",
            "podIPs": [["ip": "10.1.\(index / 250).\(index % 250)"]],
            "conditions": ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map {
                ["type": $0, "status": "True", "lastTransitionTime": "2026-12-01T10:00:05Z"]
            },
            "containerStatuses": ["app", "sidecar"].map {
                ["name": $0, "ready": true, "restartCount": 0, "image": "registry.example.com/team/\($0):1.3",
                 "containerID": "containerd://\(String(repeating: String(index, radix: 16), count: 8).prefix(64))",
                 "state": ["running": ["startedAt": "2026-12-01T10:00:04Z"]]]
            },
        ] as [String: Any],
    ]
    let size = (try? JSONSerialization.data(withJSONObject: pod).count) ?? 0
    var metadata = pod["metadata"] as! [String: Any]
    metadata["managedFields"] = [["manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                                  "fieldsType": "FieldsV1", "fieldsV1": ["f:padding": String(repeating: "f", count: max(0, podBytes - size - 150))]]]
    pod["metadata"] = metadata
    return pod
}

let server = try await FakeKubernetesAPIServer()
var totalBytes = 0
for index in 0..<podCount {
    let object = podJSON(index)
    totalBytes += (try? JSONSerialization.data(withJSONObject: object).count) ?? 0
    server.add(path: Pod.clusterPath, object: object)
}
server.add(path: Namespace.clusterPath, object: ["kind": "Namespace", "apiVersion": "v1", "metadata": ["name": "default"]])
print("\(podCount) pods, \(totalBytes / podCount) bytes of JSON each on average, \(mib(totalBytes / 1024)) MiB in all")
print("mode        requests  items  RSS before  peak RSS  peak - before  RSS after  decoded heap kept  seconds")

let executable = URL(fileURLWithPath: CommandLine.arguments[0])
for run in 1...runs {
    for mode in ["unpaged"] + pageSizes.map(String.init) {
        let requestsBefore = server.requests.count
        let process = Process()
        process.executableURL = executable
        process.arguments = ["list", server.url, mode]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let result = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            print("run \(run) \(mode): the child failed (\(process.terminationStatus))")
            exit(1)
        }
        let before = result["rssBeforeKiB"] as! Int, peak = result["peakKiB"] as! Int
        let line = [
            (mode == "unpaged" ? "unpaged" : "limit=\(mode)").padding(toLength: 10, withPad: " ", startingAt: 0),
            "\(server.requests.count - requestsBefore - 1)", "\(result["items"] as! Int)",
            "\(mib(before)) MiB", "\(mib(peak)) MiB", "\(mib(peak - before)) MiB",
            "\(mib(result["rssAfterKiB"] as! Int)) MiB", "\(mib((result["heapKeptBytes"] as! Int) / 1024)) MiB",
            String(format: "%.2f", result["seconds"] as! Double),
        ]
        print(line.joined(separator: "  "))
    }
}
try await server.stop()
