import Model
import Testing

@testable import Discovery

// attach_metadata.deployment / .job / .cronjob (Prometheus pod.go `podLabels`, the
// `switch createdBy.Kind`): the Deployment above a pod's ReplicaSet, the pod's Job, the CronJob
// above the pod's Job. Cases from pod_test.go TestPodDiscoveryWith{Deployment,Job,CronJob}.

@Suite struct PodControllersTests {
    /// The target of makeReplicaSetOwnedPod / makeJobOwnedPod.
    static let target = labelSet([
        "__address__": "1.2.3.4:9000",
        "__meta_kubernetes_pod_container_name": "testcontainer",
        "__meta_kubernetes_pod_container_image": "testcontainer:latest",
        "__meta_kubernetes_pod_container_port_name": "testport",
        "__meta_kubernetes_pod_container_port_number": "9000",
        "__meta_kubernetes_pod_container_port_protocol": "TCP",
        "__meta_kubernetes_pod_container_init": "false",
        "__meta_kubernetes_pod_container_id": "docker://a1b2c3d4e5f6",
    ])

    /// The group labels of makeReplicaSetOwnedPod / makeJobOwnedPod without attached controllers.
    static func podLabels(controllerKind: String, controllerName: String) -> [String: String] {
        [
            "__meta_kubernetes_pod_name": "testpod",
            "__meta_kubernetes_namespace": "default",
            "__meta_kubernetes_pod_node_name": "testnode",
            "__meta_kubernetes_pod_ip": "1.2.3.4",
            "__meta_kubernetes_pod_host_ip": "2.3.4.5",
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_uid": "pod123",
            "__meta_kubernetes_pod_controller_kind": controllerKind,
            "__meta_kubernetes_pod_controller_name": controllerName,
        ]
    }

    static let replicaSetPod = podLabels(controllerKind: "ReplicaSet", controllerName: "testdeployment-rs-abc")
    static let jobPod = podLabels(controllerKind: "Job", controllerName: "testcronjob-job-abc")

    @Test func deploymentOfTheReplicaSet() throws {
        let pod: Pod = try roleFixture("pod-prometheus-replicaset-owned")
        let replicaSet: ReplicaSet = try roleFixture("replicaset-prometheus-testdeployment-rs-abc")
        expectGroup(
            PodRole.groups(for: pod, controllers: PodControllers(deployment: true, replicaSets: [replicaSet])),
            TargetGroup(
                source: "pod/default/testpod", targets: [Self.target],
                labels: labelSet(Self.replicaSetPod, ["__meta_kubernetes_pod_deployment_name": "testdeployment"])))
    }

    @Test func deploymentNeedsTheOptionAndAKnownReplicaSet() throws {
        let pod: Pod = try roleFixture("pod-prometheus-replicaset-owned")
        let replicaSet: ReplicaSet = try roleFixture("replicaset-prometheus-testdeployment-rs-abc")
        let plain = labelSet(Self.replicaSetPod)
        #expect(PodRole.groups(for: pod).labels == plain)
        #expect(PodRole.groups(for: pod, controllers: PodControllers(replicaSets: [replicaSet])).labels == plain)
        #expect(PodRole.groups(for: pod, controllers: PodControllers(deployment: true)).labels == plain)
        // A ReplicaSet controlled by something other than a Deployment adds nothing.
        var orphan = replicaSet
        orphan.metadata.ownerReferences = [OwnerReference(kind: "Rollout", name: "canary", controller: true)]
        #expect(PodRole.groups(for: pod, controllers: PodControllers(deployment: true, replicaSets: [orphan])).labels == plain)
    }

    // TestPodDiscoveryWithJob and TestPodDiscoveryWithCronJob (which sets only `job`: no cronjob label).
    @Test func jobNameNeedsNoLookup() throws {
        let pod: Pod = try roleFixture("pod-prometheus-job-owned")
        expectGroup(
            PodRole.groups(for: pod, controllers: PodControllers(job: true)),
            TargetGroup(
                source: "pod/default/testpod", targets: [Self.target],
                labels: labelSet(Self.jobPod, ["__meta_kubernetes_pod_job_name": "testcronjob-job-abc"])))
    }

    @Test func cronJobOfTheJob() throws {
        let pod: Pod = try roleFixture("pod-prometheus-job-owned")
        let job: Job = try roleFixture("job-prometheus-testcronjob-job-abc")
        #expect(
            PodRole.groups(for: pod, controllers: PodControllers(cronJob: true, jobs: [job])).labels
                == labelSet(Self.jobPod, ["__meta_kubernetes_pod_cronjob_name": "testcronjob"]))
        #expect(
            PodRole.groups(for: pod, controllers: PodControllers(job: true, cronJob: true, jobs: [job])).labels
                == labelSet(
                    Self.jobPod,
                    ["__meta_kubernetes_pod_job_name": "testcronjob-job-abc", "__meta_kubernetes_pod_cronjob_name": "testcronjob"]))
        // A Job of another namespace is not this pod's.
        var elsewhere = job
        elsewhere.metadata.namespace = "other"
        #expect(PodRole.groups(for: pod, controllers: PodControllers(cronJob: true, jobs: [elsewhere])).labels == labelSet(Self.jobPod))
    }

    @Test func endpointSliceTargetsBackedByThePodGetThemToo() throws {
        let pod: Pod = try roleFixture("pod-prometheus-replicaset-owned")
        let replicaSet: ReplicaSet = try roleFixture("replicaset-prometheus-testdeployment-rs-abc")
        let slice = EndpointSlice(
            metadata: ObjectMeta(name: "s", namespace: "default"), addressType: "IPv4",
            endpoints: [SliceEndpoint(addresses: ["1.2.3.4"], targetRef: ObjectReference(kind: "Pod", name: "testpod", namespace: "default"))],
            ports: [SlicePort(port: 9000)])
        let controllers = PodControllers(deployment: true, replicaSets: [replicaSet])
        let sliceGroup = EndpointSliceRole.groups(for: slice, services: [], pods: [pod], controllers: controllers)
        #expect(sliceGroup.allTargetLabels.map { $0["__meta_kubernetes_pod_deployment_name"] } == ["testdeployment"])
        let endpoints = Endpoints(
            metadata: ObjectMeta(name: "e", namespace: "default"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointAddress(ip: "1.2.3.4", targetRef: ObjectReference(kind: "Pod", name: "testpod", namespace: "default"))],
                    ports: [EndpointPort(port: 8080)])
            ])
        // The endpoint's target and the uncovered container port 9000: both carry it.
        let endpointsGroup = EndpointsRole.groups(for: endpoints, services: [], pods: [pod], controllers: controllers)
        #expect(endpointsGroup.allTargetLabels.map { $0["__meta_kubernetes_pod_deployment_name"] } == ["testdeployment", "testdeployment"])
    }

    @Test func decodesReplicaSetsAndJobs() throws {
        let replicaSet: ReplicaSet = try roleFixture("replicaset-prometheus-testdeployment-rs-abc")
        let job: Job = try roleFixture("job-prometheus-testcronjob-job-abc")
        #expect(PodControllers.controller(of: replicaSet.metadata) == OwnerReference(kind: "Deployment", name: "testdeployment", controller: true))
        #expect(PodControllers.controller(of: job.metadata) == OwnerReference(kind: "CronJob", name: "testcronjob", controller: true))
        #expect(ReplicaSet.namespacedPath("apps") == "/apis/apps/v1/namespaces/apps/replicasets")
        #expect(Job.clusterPath == "/apis/batch/v1/jobs")
    }
}
