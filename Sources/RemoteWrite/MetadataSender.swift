import Model

/// Remote Write 1.0 metadata: every `metadata_config.send_interval`, the HELP/TYPE/UNIT of every
/// family the watcher has read, in metadata-only requests of at most `max_samples_per_send`
/// entries. A request that keeps failing is given up after a few tries: the same metadata goes
/// again at the next interval. Returns when cancelled.
struct MetadataSender {
    let context: EndpointContext

    func run() async {
        var encoder = RequestEncoder()
        let config = context.config
        let meta = config.metadataConfig
        while (try? await context.clock.sleep(for: meta.sendInterval)) != nil {
            if context.lifecycle.withLock({ $0.isShuttingDown }) { return }
            let entries = context.metadata.withLock { Array($0.values) }.sorted { $0.family < $1.family }
            var start = 0
            while start < entries.count {
                let chunk = Array(entries[start..<min(entries.count, start + max(1, meta.maxSamplesPerSend))])
                start += chunk.count
                guard await send(encoder.encodeV1Metadata(chunk), entries: chunk.count) else { return }
            }
        }
    }

    /// Sends one metadata request; false when the task was cancelled.
    private func send(_ body: [UInt8], entries: Int) async -> Bool {
        let metrics = context.metrics
        var backoff = Backoff(minimum: context.config.queueConfig.minBackoff, maximum: context.config.queueConfig.maxBackoff)
        var attempt = 0
        while true {
            let answer = await context.client.post(body, version: .v1, attempt: attempt)
            if Task.isCancelled { return false }
            switch answer.outcome {
            case .accepted:
                metrics.metadataSent.increment(by: Int64(entries))
                metrics.metadataBytes.increment(by: Int64(body.count))
                return true
            case .rejected(let status, let message):
                metrics.metadataFailed.increment(by: Int64(entries))
                context.logger.error("remote write rejected metadata; dropped", metadata: ["status": "\(status)", "response": "\(message)"])
                return true
            case .unsupportedMediaType(let message):
                metrics.metadataFailed.increment(by: Int64(entries))
                context.logger.error("remote write rejected metadata; dropped", metadata: ["status": "415", "response": "\(message)"])
                return true
            case .retry(_, let after):
                metrics.metadataRetried.increment(by: Int64(entries))
                attempt += 1
                // Metadata is sent again at the next interval anyway: give up after a few tries.
                if attempt > 3 || context.lifecycle.withLock({ $0.isShuttingDown }) {
                    metrics.metadataFailed.increment(by: Int64(entries))
                    return true
                }
                guard (try? await context.clock.sleep(for: backoff.next(retryAfter: after))) != nil else { return false }
            }
        }
    }
}
