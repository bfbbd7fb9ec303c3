/// Decides how many shards an endpoint needs, from what was measured since the last decision.
///
/// The model is Prometheus's: sending one sample costs `timePerSample` seconds of a shard's time
/// (measured from the requests that succeeded); keeping up needs `timePerSample × rate in`
/// shards, plus enough to work off the backlog (5 % of the pending samples per second). A change
/// smaller than 30 % of the current count is ignored, the count never shrinks while more than
/// 10 s behind, and it never grows while requests fail (more shards would only hammer a
/// receiver that is down). A value type without I/O: the queue feeds it every
/// ``updateInterval``.
struct ReshardPolicy: Sendable {
    static let updateInterval: Duration = .seconds(10)
    /// Weight of the newest measurement in the moving averages.
    static let smoothing = 0.2
    static let tolerance = 0.3

    let minShards: Int
    let maxShards: Int

    private(set) var samplesInRate = MovingAverage()
    private(set) var samplesOutRate = MovingAverage()
    /// Seconds spent in successful requests per second of wall time.
    private(set) var sendSecondsRate = MovingAverage()

    init(minShards: Int, maxShards: Int) {
        self.minShards = max(1, minShards)
        self.maxShards = max(self.minShards, maxShards)
    }

    /// Adds one interval's measurements.
    mutating func observe(interval: Duration, samplesIn: Int, samplesOut: Int, sendTime: Duration) {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        guard seconds > 0 else { return }
        samplesInRate.add(Double(samplesIn) / seconds)
        samplesOutRate.add(Double(samplesOut) / seconds)
        let send = Double(sendTime.components.seconds) + Double(sendTime.components.attoseconds) / 1e18
        sendSecondsRate.add(send / seconds)
    }

    /// The shard count to run with.
    /// - Parameters:
    ///   - current: shards running now.
    ///   - delaySeconds: how far sending is behind reading (newest timestamp read − newest sent).
    ///   - failing: whether requests failed during the last interval.
    func desiredShards(current: Int, delaySeconds: Double, failing: Bool) -> Int {
        let inRate = samplesInRate.value, outRate = samplesOutRate.value
        guard outRate > 0 else { return clamp(current) }
        let timePerSample = sendSecondsRate.value / outRate
        let pending = max(0, delaySeconds) * inRate
        var desired = (timePerSample * (inRate + 0.05 * pending)).rounded(.up)
        if desired.isNaN || desired.isInfinite { desired = Double(current) }
        let lower = Double(current) * (1 - Self.tolerance), upper = Double(current) * (1 + Self.tolerance)
        if lower <= desired && desired <= upper { return clamp(current) }
        var wanted = Int(min(desired, Double(Int32.max)))
        if wanted < current && delaySeconds > 10 { wanted = current }
        if wanted > current && failing { wanted = current }
        return clamp(wanted)
    }

    private func clamp(_ n: Int) -> Int { min(maxShards, max(minShards, n)) }
}

/// An exponentially weighted moving average; the first value is taken as is.
struct MovingAverage: Sendable {
    private(set) var value = 0.0
    private var initialized = false

    mutating func add(_ x: Double) {
        if initialized {
            value += ReshardPolicy.smoothing * (x - value)
        } else {
            value = x
            initialized = true
        }
    }
}
