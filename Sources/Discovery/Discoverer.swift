/// A source of target groups (Prometheus's `discovery.Discoverer`).
public protocol Discoverer: Sendable {
    /// Runs until the task is cancelled, calling `send` with the groups that changed: each group
    /// it knows once it knows them, then each group again when it changes. A group with no targets
    /// reports that its source is gone. `send` is called one batch at a time.
    func run(send: @escaping @Sendable ([TargetGroup]) async -> Void) async
}
