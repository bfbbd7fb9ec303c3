import AgentConfig
import Model
import WAL

/// One shard's sender: takes batches from its ``ShardQueue``, encodes, compresses and POSTs
/// them, retrying what may succeed later with exponential backoff, and acknowledges each batch
/// the receiver accepted or refused for good.
///
/// Where each batch ends is stored (``EndpointProgressStore``) before the batch goes out, so
/// that after a crash it is resent exactly as it was. Returns when its queue is closed and
/// empty, or when its task is cancelled (the batch it holds then stays unacknowledged: it is
/// in the WAL and is sent after the next start).
struct ShardSender {
    let context: EndpointContext
    let progress: EndpointProgressStore

    func run(set: ShardSet, index: Int) async {
        if let previous = set.previousDrained { await previous.wait() }
        let queue = set.queues[index]
        var encoder = RequestEncoder()
        let limits = context.config.queueConfig
        while !Task.isCancelled, let batch = await queue.nextBatch(maxPerBatch: limits.maxSamplesPerSend, deadline: limits.batchSendDeadline) {
            // Where this batch ends is stored before it goes out: after a crash it is resent as is.
            await progress.store(durable: false)
            guard await send(batch, encoder: &encoder) else { return }
            queue.completeBatch()
            context.measurements.withLock { $0.samplesOut += batch.samples.count }
            context.updatePendingGauges()
            context.progressChanged.yield()
        }
    }

    /// Sends the batch until the receiver accepts it or refuses it for good. False when the
    /// endpoint stopped first (the batch stays unacknowledged, in the WAL).
    private func send(_ batch: ShardBatch, encoder: inout RequestEncoder) async -> Bool {
        let config = context.config
        let metrics = context.metrics
        let logger = context.logger
        var batch = batch
        var version = context.protocolVersion.withLock { $0 }
        var body = encode(batch, version: version, encoder: &encoder)
        var backoff = Backoff(minimum: config.queueConfig.minBackoff, maximum: config.queueConfig.maxBackoff)
        var attempt = 0
        while true {
            let answer = await context.client.post(body, version: version, attempt: attempt)
            if Task.isCancelled { return false }
            metrics.sentBatchDuration.recordNanoseconds(answer.elapsed.nanoseconds)
            switch answer.outcome {
            case .accepted(let written):
                context.lifecycle.withLock { $0.requestAnswered() }
                context.measurements.withLock { $0.sendTime += answer.elapsed }
                let sent = batch.samples.count
                let reported = written?.samples.map { min($0, sent) } ?? sent
                metrics.samplesSent.increment(by: Int64(reported))
                if reported < sent { metrics.samplesFailed.increment(by: Int64(sent - reported)) }
                metrics.exemplarsSent.increment(by: Int64(batch.exemplars.count))
                metrics.bytesSent.increment(by: Int64(body.count))
                if let highest = batch.samples.lazy.map(\.timestamp).max() {
                    let newest = context.measurements.withLock { m -> Int64 in
                        m.highestSent = max(m.highestSent, highest)
                        return m.highestSent
                    }
                    metrics.highestSentTimestamp.set(Double(newest) / 1000)
                }
                if attempt > 0 { logger.info("remote write recovered", metadata: ["attempts": "\(attempt + 1)"]) }
                return true
            case .rejected(let status, let message) where batch.isResend && status == 400:
                // Most likely the receiver stored it before the agent stopped and now refuses the
                // copy as out of order: not a loss.
                context.lifecycle.withLock { $0.requestAnswered() }
                logger.info(
                    "the batch in flight when the agent last stopped was refused when resent; the receiver most likely stored it already",
                    metadata: ["status": "\(status)", "samples": "\(batch.samples.count)", "response": "\(message)"])
                return true
            case .rejected(let status, let message):
                context.lifecycle.withLock { $0.requestAnswered() }
                metrics.requestFailures.increment()
                metrics.samplesFailed.increment(by: Int64(batch.samples.count))
                metrics.exemplarsFailed.increment(by: Int64(batch.exemplars.count))
                logger.error("remote write rejected a batch; dropped", metadata: [
                    "status": "\(status)", "samples": "\(batch.samples.count)", "response": "\(message)",
                ])
                return true
            case .unsupportedMediaType(let message):
                if version == .v2, config.protobufMessageFallback {
                    logger.warning("receiver does not accept Remote Write 2.0 (HTTP 415); falling back to 1.0", metadata: ["response": "\(message)"])
                    context.protocolVersion.withLock { $0 = .v1 }
                    version = .v1
                    body = encode(batch, version: version, encoder: &encoder)
                    continue
                }
                context.lifecycle.withLock { $0.requestAnswered() }
                metrics.requestFailures.increment()
                metrics.samplesFailed.increment(by: Int64(batch.samples.count))
                logger.error("remote write rejected a batch (unsupported media type); dropped", metadata: [
                    "status": "415", "samples": "\(batch.samples.count)", "response": "\(message)",
                ])
                return true
            case .retry(let reason, let after):
                metrics.requestFailures.increment()
                metrics.samplesRetried.increment(by: Int64(batch.samples.count))
                metrics.exemplarsRetried.increment(by: Int64(batch.exemplars.count))
                context.measurements.withLock { $0.failures += 1 }
                let action = context.lifecycle.withLock { $0.requestFailed() }
                if action == .stopNow {
                    logger.warning("remote write failed while shutting down; unsent samples stay in the WAL", metadata: [
                        "error": "\(reason)", "samples": "\(batch.samples.count)",
                    ])
                    context.perform(action)
                    return false
                }
                if attempt == 0 {
                    logger.warning("remote write failed; retrying", metadata: ["error": "\(reason)", "samples": "\(batch.samples.count)"])
                } else {
                    logger.debug("remote write failed again", metadata: ["error": "\(reason)", "attempt": "\(attempt)"])
                }
                attempt += 1
                do {
                    try await context.clock.sleep(for: backoff.next(retryAfter: after))
                } catch {
                    return false
                }
                // Samples that grew older than sample_age_limit while retrying are dropped.
                if config.queueConfig.sampleAgeLimit > .zero {
                    let oldest = context.clock.wallMilliseconds - config.queueConfig.sampleAgeLimit.milliseconds
                    let before = batch.samples.count
                    batch.samples.removeAll { $0.timestamp < oldest }
                    if batch.samples.count < before {
                        metrics.drop(before - batch.samples.count, reason: .tooOld)
                        if batch.isEmpty { return true }
                        body = encode(batch, version: version, encoder: &encoder)
                    }
                }
            }
        }
    }

    /// The request body; the series are looked up in the endpoint's cache once per series.
    private func encode(_ batch: ShardBatch, version: RemoteWriteConfig.ProtobufMessage, encoder: inout RequestEncoder) -> [UInt8] {
        let body = switch version {
        case .v1: encoder.encodeV1(samples: batch.samples, exemplars: batch.exemplars, series: context.series)
        case .v2: encoder.encodeV2(samples: batch.samples, exemplars: batch.exemplars, series: context.series)
        }
        // The cache keeps a series' labels while any sample of it is queued or in flight, so
        // this does not happen; should it, the samples are counted, not sent.
        if encoder.unknown.samples > 0 { context.metrics.drop(encoder.unknown.samples, reason: .unknownSeries) }
        return body
    }
}
