import Model

/// Every ``ReshardPolicy/updateInterval`` feeds the endpoint's measurements to the
/// ``ReshardPolicy`` and asks for the shard count it wants (the watcher switches sets between
/// two records). Returns when cancelled or when shutdown begins.
struct Resharder {
    let context: EndpointContext

    func run() async {
        let queue = context.config.queueConfig
        var policy = ReshardPolicy(minShards: queue.minShards, maxShards: queue.maxShards)
        var last = context.clock.now
        while (try? await context.clock.sleep(for: ReshardPolicy.updateInterval)) != nil {
            if context.lifecycle.withLock({ $0.isShuttingDown }) { return }
            let now = context.clock.now
            let m = context.measurements.withLock { m -> SendMeasurements in
                defer { m.samplesIn = 0; m.samplesOut = 0; m.sendTime = .zero; m.failures = 0 }
                return m
            }
            policy.observe(interval: now - last, samplesIn: m.samplesIn, samplesOut: m.samplesOut, sendTime: m.sendTime)
            last = now
            let current = context.sets.current.count
            let desired = policy.desiredShards(current: current, delaySeconds: m.delaySeconds, failing: m.failures > 0)
            context.metrics.shardsDesired.set(Double(desired))
            if desired != current, !context.sets.isResharding {
                context.sets.requestReshard(to: desired)
                context.attention.notify()
            }
        }
    }
}
