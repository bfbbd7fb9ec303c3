/// `attach_metadata.deployment`, `.job` and `.cronjob` (Prometheus `PodMetadataConfig`): the
/// controllers above a pod's own controller, read from the ReplicaSets and Jobs the discoverer
/// watches. The pod, endpoints and endpointslice roles add them to every pod's labels.
///
/// - `deployment`: a pod controlled by a ReplicaSet that is controlled by a Deployment gets
///   `__meta_kubernetes_pod_deployment_name`.
/// - `job`: a pod controlled by a Job gets `__meta_kubernetes_pod_job_name` (no lookup needed).
/// - `cronJob`: a pod controlled by a Job that is controlled by a CronJob gets
///   `__meta_kubernetes_pod_cronjob_name`.
///
/// A ReplicaSet or Job that is not (yet) known adds nothing, as in Prometheus.
public struct PodControllers {
    public var deployment: Bool
    public var job: Bool
    public var cronJob: Bool
    /// The ReplicaSet and the Job of a namespace and name, when known.
    private var replicaSet: (_ namespace: String, _ name: String) -> ReplicaSet?
    private var jobObject: (_ namespace: String, _ name: String) -> Job?

    /// Nothing attached: the default, and what the roles do without `attach_metadata`.
    public static var none: PodControllers { PodControllers() }

    /// Options with the ReplicaSets and Jobs given as lists.
    public init(deployment: Bool = false, job: Bool = false, cronJob: Bool = false, replicaSets: [ReplicaSet] = [], jobs: [Job] = []) {
        func byName<T: KubernetesResource>(_ objects: [T]) -> [String: T] {
            Dictionary(objects.map { (Meta.namespacedName($0.metadata.namespace ?? "", $0.metadata.name), $0) }, uniquingKeysWith: { $1 })
        }
        let (replicaSets, jobs) = (byName(replicaSets), byName(jobs))
        self.init(
            deployment: deployment, job: job, cronJob: cronJob,
            replicaSet: { replicaSets[Meta.namespacedName($0, $1)] }, job: { jobs[Meta.namespacedName($0, $1)] })
    }

    /// Options with the ReplicaSets and Jobs looked up through closures (the discoverer's join).
    public init(
        deployment: Bool, job: Bool, cronJob: Bool,
        replicaSet: @escaping (_ namespace: String, _ name: String) -> ReplicaSet?,
        job jobObject: @escaping (_ namespace: String, _ name: String) -> Job?
    ) {
        self.deployment = deployment
        self.job = job
        self.cronJob = cronJob
        self.replicaSet = replicaSet
        self.jobObject = jobObject
    }

    static let deploymentName = PodRole.prefix + "deployment_name"
    static let jobName = PodRole.prefix + "job_name"
    static let cronJobName = PodRole.prefix + "cronjob_name"

    /// Adds the labels for a pod in `namespace` whose controller reference is `controller`
    /// (the `switch createdBy.Kind` of Prometheus `podLabels`).
    func addLabels(_ labels: inout LabelMap, controller: OwnerReference, namespace: String) {
        switch controller.kind {
        case "ReplicaSet":
            if deployment, let replicaSet = replicaSet(namespace, controller.name),
                let owner = Self.controller(of: replicaSet.metadata), owner.kind == "Deployment"
            {
                labels[Self.deploymentName] = owner.name
            }
        case "Job":
            if job {
                labels[Self.jobName] = controller.name
            }
            if cronJob, let job = jobObject(namespace, controller.name),
                let owner = Self.controller(of: job.metadata), owner.kind == "CronJob"
            {
                labels[Self.cronJobName] = owner.name
            }
        default:
            break
        }
    }

    /// The first owner reference marked as controller (apimachinery `GetControllerOf`).
    static func controller(of metadata: ObjectMeta) -> OwnerReference? {
        metadata.ownerReferences?.first { $0.controller == true }
    }
}
