import Model
import Curl
import Foundation
import Relabel
import Testing
import TestSupport
import WAL

@testable import RemoteWrite

@Suite struct RetryRulesTests {
    let rules = RetryRules(retryOn429: true)

    func response(_ status: Int, headers: [(name: String, value: String)] = [], body: String = "") -> HTTPResponse {
        HTTPResponse(status: status, headers: headers.map { ($0.name.lowercased(), $0.value) }, body: Array(body.utf8))
    }

    @Test(arguments: [200, 204, 299])
    func successIsAccepted(status: Int) {
        #expect(rules.classify(response(status)) == .accepted(written: nil))
    }

    @Test func remoteWrite2WrittenCountsAreRead() {
        let answer = response(204, headers: [
            ("X-Prometheus-Remote-Write-Samples-Written", "7"), ("X-Prometheus-Remote-Write-Exemplars-Written", "1"),
        ])
        #expect(rules.classify(answer) == .accepted(written: WrittenCounts(samples: 7, histograms: nil, exemplars: 1)))
    }

    @Test(arguments: [500, 502, 503, 599, 429])
    func serverErrorsAndTooManyRequestsAreRetried(status: Int) {
        guard case .retry = rules.classify(response(status)) else {
            Issue.record("\(status) not retried")
            return
        }
    }

    @Test func tooManyRequestsIsDroppedWhenRetryOn429IsOff() {
        let strict = RetryRules(retryOn429: false)
        #expect(strict.classify(response(429, body: "slow down")) == .rejected(status: 429, message: "slow down"))
    }

    @Test func configuredStatusesAreRetried() {
        let rules = RetryRules(retryOn429: true, extraStatuses: [408, 425])
        guard case .retry = rules.classify(response(408)) else {
            Issue.record("408 not retried")
            return
        }
        #expect(rules.classify(response(409, body: "conflict")) == .rejected(status: 409, message: "conflict"))
    }

    @Test func refusedCredentialsAreRetriedOnlyWhenTheyComeFromAFile() {
        let fromFile = RetryRules(retryOn429: true, retryUnauthorized: true)
        for status in [401, 403] {
            guard case .retry = fromFile.classify(response(status)) else {
                Issue.record("\(status) not retried with a credential file")
                continue
            }
            #expect(rules.classify(response(status)) == .rejected(status: status, message: ""))
        }
    }

    @Test(arguments: [400, 401, 403, 404, 413])
    func otherClientErrorsDropTheBatch(status: Int) {
        #expect(rules.classify(response(status, body: "out of order sample\n")) == .rejected(status: status, message: "out of order sample"))
    }

    @Test func unsupportedMediaTypeIsReportedForTheFallback() {
        #expect(rules.classify(response(415, body: "v2 not supported")) == .unsupportedMediaType(message: "v2 not supported"))
    }

    @Test func retryAfterSecondsIsHonoured() {
        #expect(rules.classify(response(429, headers: [("Retry-After", "7")])) == .retry(reason: "server returned HTTP status 429: ", after: .seconds(7)))
    }

    @Test func retryAfterHTTPDatesAreRead() {
        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(RetryRules.parseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", now: now) == .seconds(30))
        #expect(RetryRules.parseRetryAfter("Sunday, 06-Nov-94 08:49:47 GMT", now: now) == .seconds(10))
        #expect(RetryRules.parseRetryAfter("Sun Nov  6 08:49:57 1994", now: now) == .seconds(20))
        #expect(RetryRules.parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero, "a date in the past means no wait")
        #expect(RetryRules.parseRetryAfter("soon", now: now) == nil)
        #expect(RetryRules.parseRetryAfter("-3", now: now) == nil)
    }

    @Test func longReceiverMessagesAreTruncated() {
        let message = RetryRules.message(of: response(400, body: String(repeating: "x", count: 2000)))
        #expect(message.count == RetryRules.maxMessageLength + 1)
        #expect(message.hasSuffix("…"))
    }
}

@Suite struct BackoffTests {
    @Test func doublesFromMinimumUpToMaximum() {
        var backoff = Backoff(minimum: .milliseconds(30), maximum: .milliseconds(200))
        let waits = (0..<6).map { _ in backoff.next() }
        #expect(waits == [.milliseconds(30), .milliseconds(60), .milliseconds(120), .milliseconds(200), .milliseconds(200), .milliseconds(200)])
    }

    @Test func retryAfterLongerThanTheBackoffWins() {
        var backoff = Backoff(minimum: .milliseconds(30), maximum: .seconds(5))
        #expect(backoff.next(retryAfter: .seconds(2)) == .seconds(2))
        #expect(backoff.next(retryAfter: .milliseconds(1)) == .milliseconds(60), "a shorter Retry-After does not undercut the backoff")
    }
}

@Suite struct SeriesCacheTests {
    @Test func externalLabelsAreAddedAndTheSeriesOwnLabelWins() {
        var cache = SeriesCache(externalLabels: Labels(["cluster": "prod", "job": "external"]), writeRelabelConfigs: [], attachMetadata: false)
        let labels = Labels(["__name__": "up", "job": "node"])
        cache.add(SeriesRecord(ref: 1, labels: labels))
        #expect(cache.status(of: 1) == .live)
        #expect(cache.labelsAsSent(1) == Labels(["__name__": "up", "cluster": "prod", "job": "node"]))
        // Without write relabeling the WAL's own labels are kept (their buffer shared, not
        // copied) and the external labels are merged when encoding.
        #expect(cache.resolvedForTest([1]).first??.labels == labels)
        #expect(cache.mergedLabels == Labels(["cluster": "prod", "job": "external"]))
    }

    @Test func writeRelabelingSeesExternalLabelsAndCanDropSeries() throws {
        var cache = SeriesCache(
            externalLabels: Labels(["cluster": "prod"]),
            writeRelabelConfigs: [
                try RelabelConfig(sourceLabels: ["__name__"], regex: "expensive_.*", action: .drop),
                try RelabelConfig(sourceLabels: ["cluster"], targetLabel: "region", replacement: "eu-$1"),
            ],
            attachMetadata: false)
        cache.add(SeriesRecord(ref: 1, labels: Labels(["__name__": "expensive_total"])))
        cache.add(SeriesRecord(ref: 2, labels: Labels(["__name__": "cheap_total"])))
        #expect(cache.status(of: 1) == .dropped)
        #expect(cache.status(of: 2) == .live)
        #expect(cache.labelsAsSent(2) == Labels(["__name__": "cheap_total", "cluster": "prod", "region": "eu-prod"]))
        #expect(cache.mergedLabels == .empty, "relabeled series are kept as sent")
        #expect(cache.status(of: 3) == .unknown)
        #expect(cache.resolvedForTest([1, 2, 3]).map { $0 == nil } == [true, false, true])
    }

    @Test func seriesMissingFromASegmentHeadAreForgotten() {
        var cache = SeriesCache(externalLabels: .empty, writeRelabelConfigs: [], attachMetadata: false)
        cache.beginSegment(0)
        for ref in 1...3 { cache.add(SeriesRecord(ref: SeriesRef(ref), labels: Labels(["__name__": "m\(ref)"]))) }
        cache.endHead()
        #expect(cache.count == 3)
        // The next segment's head lists only series 2 and 3 (the WAL released series 1).
        cache.beginSegment(1)
        cache.add(SeriesRecord(ref: 2, labels: Labels(["__name__": "m2"])))
        cache.add(SeriesRecord(ref: 3, labels: Labels(["__name__": "m3"])))
        cache.endHead()
        #expect(cache.count == 2)
        #expect(cache.status(of: 1) == .unknown)
        // Samples of series 1 read before segment 1 may still be queued: its labels stay until
        // nothing before segment 1 is pending.
        #expect(cache.resolvedForTest([1]).first??.labels == Labels(["__name__": "m1"]))
        cache.dropRetired(oldestPending: Cursor(position: WALPosition(segment: 0, offset: 4096), samplesDone: 3))
        #expect(cache.resolvedForTest([1]).first! != nil, "a sample of segment 0 is still pending")
        cache.dropRetired(oldestPending: Cursor(position: WALPosition(segment: 1, offset: 0)))
        #expect(cache.resolvedForTest([1, 2]).map { $0 == nil } == [true, false])
        #expect(!cache.hasRetired)
    }

    @Test func manySeriesComeAndGo() {
        // Enough series to grow and shrink the ref table several times; every other one released.
        var cache = SeriesCache(externalLabels: .empty, writeRelabelConfigs: [], attachMetadata: false)
        cache.beginSegment(0)
        for ref in 1...5000 { cache.add(SeriesRecord(ref: SeriesRef(ref), labels: Labels(["__name__": "m", "i": "\(ref)"]))) }
        cache.endHead()
        cache.beginSegment(1)
        for ref in stride(from: 2, through: 5000, by: 2) {
            cache.add(SeriesRecord(ref: SeriesRef(ref), labels: Labels(["__name__": "m", "i": "\(ref)"])))
        }
        cache.endHead()
        cache.dropRetired(oldestPending: nil)
        #expect(cache.count == 2500)
        for ref in 1...5000 {
            #expect(cache.status(of: SeriesRef(ref)) == (ref % 2 == 0 ? .live : .unknown))
        }
        #expect(cache.resolvedForTest([4000, 4001]).map { $0?.labels } == [Labels(["__name__": "m", "i": "4000"]), nil])
    }

    @Test func remoteWrite2SeriesCarryTheirMetricMetadata() {
        var cache = SeriesCache(externalLabels: .empty, writeRelabelConfigs: [], attachMetadata: true)
        cache.add(SeriesRecord(ref: 1, labels: Labels(["__name__": "http_requests_total"])))
        cache.add(SeriesRecord(ref: 2, labels: Labels(["__name__": "latency_seconds_bucket", "le": "1"])))
        cache.setMetadata([
            MetricMetadata(family: "http_requests_total", type: .counter, help: "Requests."),
            MetricMetadata(family: "latency_seconds", type: .histogram, help: "Latency.", unit: "seconds"),
        ])
        #expect(cache.metadata(of: 1)?.type == .counter)
        #expect(cache.metadata(of: 2)?.family == "latency_seconds")
        #expect(cache.metadata(of: 2)?.unit == "seconds")
        // A changed family is seen by its series at once.
        cache.setMetadata([MetricMetadata(family: "latency_seconds", type: .histogram, help: "Latency, changed.", unit: "seconds")])
        #expect(cache.metadata(of: 2)?.help == "Latency, changed.")
        #expect(cache.resolvedForTest([1, 2]).map { $0?.family } == ["http_requests_total", "latency_seconds"])
    }
}

@Suite struct ReshardPolicyTests {
    @Test func growsWhenSendingCannotKeepUp() {
        var policy = ReshardPolicy(minShards: 1, maxShards: 50)
        // 10 000 samples/s come in; each sample costs 1 ms of a shard's time: 10 shards needed.
        policy.observe(interval: .seconds(10), samplesIn: 100_000, samplesOut: 10_000, sendTime: .seconds(10))
        #expect(policy.desiredShards(current: 1, delaySeconds: 0, failing: false) == 10)
    }

    @Test func staysWithinToleranceAndBounds() {
        var policy = ReshardPolicy(minShards: 2, maxShards: 4)
        policy.observe(interval: .seconds(10), samplesIn: 100_000, samplesOut: 10_000, sendTime: .seconds(10))
        #expect(policy.desiredShards(current: 2, delaySeconds: 0, failing: false) == 4, "capped at max_shards")
        var idle = ReshardPolicy(minShards: 2, maxShards: 4)
        idle.observe(interval: .seconds(10), samplesIn: 100, samplesOut: 100, sendTime: .milliseconds(10))
        #expect(idle.desiredShards(current: 4, delaySeconds: 0, failing: false) == 2, "never below min_shards")
        var steady = ReshardPolicy(minShards: 1, maxShards: 50)
        steady.observe(interval: .seconds(10), samplesIn: 10_000, samplesOut: 10_000, sendTime: .seconds(115))
        #expect(steady.desiredShards(current: 10, delaySeconds: 0, failing: false) == 10, "12 wanted by 10 running is within the 30 % tolerance")
    }

    @Test func doesNotGrowWhileFailingNorShrinkWhileBehind() {
        var policy = ReshardPolicy(minShards: 1, maxShards: 50)
        policy.observe(interval: .seconds(10), samplesIn: 100_000, samplesOut: 10_000, sendTime: .seconds(10))
        #expect(policy.desiredShards(current: 2, delaySeconds: 0, failing: true) == 2)
        var idle = ReshardPolicy(minShards: 1, maxShards: 50)
        idle.observe(interval: .seconds(10), samplesIn: 100, samplesOut: 100, sendTime: .milliseconds(10))
        #expect(idle.desiredShards(current: 8, delaySeconds: 60, failing: false) == 8)
        #expect(idle.desiredShards(current: 8, delaySeconds: 0, failing: false) == 1)
    }
}

@Suite struct ShardQueueTests {
    let clock = ManualClock()
    func sample(_ i: Int) -> QueuedSample {
        QueuedSample(ref: 1, timestamp: Int64(i), value: Double(i), place: Cursor(position: WALPosition(segment: 0, offset: i)))
    }

    @Test func pushStopsAtCapacityAndTakingMakesRoom() async {
        let queue = ShardQueue(capacity: 3, clock: clock)
        let items = (0..<5).map(sample)
        #expect(queue.push(items, from: 0) == 3)
        #expect(queue.firstPending == items[0].place)
        let batch = await queue.nextBatch(maxPerBatch: 2, deadline: .seconds(60))
        #expect(batch?.samples.map(\.timestamp) == [0, 1])
        #expect(queue.firstPending == items[0].place, "the batch in flight is still pending")
        #expect(queue.push(items, from: 3) == 3, "the batch in flight still counts against the capacity")
        queue.completeBatch()
        #expect(queue.firstPending == items[2].place)
        #expect(queue.push(items, from: 3) == 5)
    }

    @Test func afterARestartTheBatchThatWasInFlightIsResentAloneWithoutWaitingForTheDeadline() async {
        let items = (0..<5).map(sample)
        let queue = ShardQueue(capacity: 100, firstBatchEnd: items[2].place, clock: clock)
        _ = queue.push(items, from: 0)
        // The manual clock never moves: a wait for the deadline would never end.
        let first = await queue.nextBatch(maxPerBatch: 10, deadline: .seconds(60))
        #expect(first?.samples.map(\.timestamp) == [0, 1], "the first batch ends where the stored one did")
        #expect(queue.inFlightEnd == Cursor(position: items[1].place.position, samplesDone: 1))
        queue.completeBatch()
        #expect(queue.inFlightEnd == nil)
        queue.close()
        #expect(await queue.nextBatch(maxPerBatch: 10, deadline: .seconds(60))?.samples.map(\.timestamp) == [2, 3, 4])
    }

    @Test func aPartialBatchGoesAtTheDeadlineAndNotBefore() async {
        let queue = ShardQueue(capacity: 100, clock: clock)
        _ = queue.push([sample(1)], from: 0)
        let taken = Locked<ShardBatch?>(nil)
        let consumer = Task {
            let batch = await queue.nextBatch(maxPerBatch: 10, deadline: .milliseconds(200))
            taken.withLock { $0 = batch }
        }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .milliseconds(199))
        #expect(await clock.waitForSleepers(1), "still waiting 1 ms before the deadline")
        #expect(taken.value == nil)
        clock.advance(by: .milliseconds(1))
        await consumer.value
        #expect(taken.value?.samples.count == 1)
    }

    @Test func theDeadlineCountsFromTheOldestQueuedSample() async {
        let queue = ShardQueue(capacity: 100, clock: clock)
        _ = queue.push([sample(1)], from: 0)
        clock.advance(by: .milliseconds(150))
        _ = queue.push([sample(2)], from: 0)
        let consumer = Task { await queue.nextBatch(maxPerBatch: 10, deadline: .milliseconds(200)) }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .milliseconds(50))
        #expect(await consumer.value?.samples.count == 2)
    }

    @Test func closingFlushesAtOnceThenEnds() async {
        let queue = ShardQueue(capacity: 100, clock: clock)
        _ = queue.push([sample(1), sample(2)], from: 0)
        queue.close()
        let batch = await queue.nextBatch(maxPerBatch: 10, deadline: .seconds(60))
        #expect(batch?.samples.count == 2)
        queue.completeBatch()
        #expect(await queue.nextBatch(maxPerBatch: 10, deadline: .seconds(60)) == nil)
    }

    @Test func aWaitingProducerIsWokenWhenRoomAppears() async {
        let queue = ShardQueue(capacity: 1, clock: clock)
        #expect(queue.push([sample(1)], from: 0) == 1)
        async let waited: Void = queue.waitForRoom()
        _ = await queue.nextBatch(maxPerBatch: 1, deadline: .seconds(60))
        queue.completeBatch()
        await waited
        #expect(queue.push([sample(2)], from: 0) == 1)
    }

    @Test func cancellingTheWaitingConsumerOrProducerEndsTheWaitAtOnce() async {
        let queue = ShardQueue(capacity: 1, clock: clock)
        let consumer = Task { await queue.nextBatch(maxPerBatch: 10, deadline: .seconds(60)) }
        consumer.cancel()
        #expect(await consumer.value == nil)
        #expect(queue.push([sample(1)], from: 0) == 1)
        let producer = Task { await queue.waitForRoom() }
        producer.cancel()
        await producer.value
        #expect(queue.count == 1)
    }
}
