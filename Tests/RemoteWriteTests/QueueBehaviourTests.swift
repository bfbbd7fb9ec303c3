import Model
import AgentConfig
import Foundation
import PrometheusProto
import Relabel
import Testing
import TestSupport
import WAL

@testable import RemoteWrite

// Issue 7's acceptance: a real RemoteWriteService over a real WAL in a temporary directory,
// sending to in-process receivers that decode every request. Each test states one rule of the
// queue and checks it on what arrives.
//
// Tests whose subject is time (batch deadlines, backoff, Retry-After, resharding, sample age)
// run the service on a ManualClock: the clock moves only when the test moves it, after the code
// under test is parked on it (`waitForSleeper(until:)` also checks what it waits for), so no
// wall-clock margin decides them. Real-time waits are only generous bounds for what must happen.

@Suite("Queue: ordering and sharding")
struct QueueOrderingTests {
    @Test func eachSeriesArrivesInTimestampOrderUnderConcurrentShardsWithNothingLostOrDuplicated() async throws {
        let receiver = try await Receiver { _, _ in CannedResponse(status: 204, delay: .milliseconds(Int.random(in: 0...50))) }
        let fixture = try WALFixture()
        let series = nodeSeries(64)
        for scrape in 0..<15 { try await fixture.scrape(series, at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 4, capacity: 100, maxPerSend: 25)])
        // More input while the shards send.
        for scrape in 15..<30 {
            try await fixture.scrape(series, at: baseTimestamp + Int64(scrape) * 1000) { Double($0 * 1000 + scrape) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let total = 64 * 30
        #expect(await receiver.waitForAccepted(total, timeout: .seconds(20)))
        await running.stop()  // anything extra would have arrived by the time it returns
        await receiver.stop()

        let accepted = receiver.accepted
        #expect(accepted.count == total)
        #expect(counts(accepted) == counts(fixture.committed), "every committed sample arrives exactly once")
        if let bad = firstOutOfOrder(accepted) {
            Issue.record("series \(bad.series): timestamp \(bad.next) arrived after \(bad.previous)")
        }
        // Sharding by ref % 4: a request carries series of one shard only, and all four shards sent.
        var shardsSeen: Set<UInt64> = []
        for arrival in receiver.arrivals {
            let residues = Set(arrival.series.compactMap { fixture.refs[$0] }.map { $0 % 4 })
            #expect(residues.count == 1, "a request mixes shards \(residues)")
            shardsSeen.formUnion(residues)
        }
        #expect(shardsSeen == [0, 1, 2, 3])
        #expect(running.metric("prometheus_remote_storage_samples_total") == Double(total))
    }
}

@Suite("Queue: batching on the endpoint's clock")
struct QueueBatchingTests {
    @Test func noRequestHoldsMoreThanMaxSamplesPerSendAndFullBatchesDoNotWaitForTheDeadline() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock)
        let fixture = try WALFixture()
        let series = nodeSeries(5)
        // One commit of 95 samples: 19 per series.
        var samples: [(labels: Labels, timestamp: Int64, value: Double)] = []
        for scrape in 0..<19 { for s in series { samples.append((s, baseTimestamp + Int64(scrape) * 1000, Double(scrape))) } }
        try await fixture.commit(samples)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 10, deadline: .seconds(60))], clock: clock)
        // The clock stands still: the 9 full batches go without it; the last 5 samples wait for
        // the 60 s deadline, counted from their arrival in the queue.
        #expect(await receiver.waitForAccepted(90, timeout: .seconds(20)), "full batches were held back")
        #expect(
            await clock.waitForSleeper(until: t0 + .seconds(60)),
            "the partial batch does not wait for batch_send_deadline; parked until \(clock.parkedDescription)")
        #expect(receiver.accepted.count == 90, "the partial batch went before its deadline")
        await running.stop()
        #expect(receiver.accepted.count == 95, "the shutdown flushed the partial batch")
        #expect(clock.now == t0, "nothing needed the clock to move")
        await receiver.stop()

        let sizes = receiver.arrivals.map(\.samples.count)
        #expect(sizes.allSatisfy { $0 <= 10 }, "request sizes \(sizes)")
        #expect(sizes.reduce(0, +) == 95)
        #expect(sizes.filter { $0 == 10 }.count == 9, "request sizes \(sizes)")
    }

    @Test func aPartialBatchIsSentAtBatchSendDeadlineAndNotBefore() async throws {
        let clock = ManualClock()
        let receiver = try await Receiver(clock: clock)
        let fixture = try WALFixture()
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, maxPerSend: 100, deadline: .milliseconds(400))], clock: clock)
        let committedAt = clock.now
        try await fixture.scrape(nodeSeries(3), at: baseTimestamp)
        let due = committedAt + .milliseconds(400)
        #expect(await clock.waitForSleeper(until: due), "the sender does not wait for the deadline; parked until \(clock.parkedDescription)")
        clock.advance(to: due - .milliseconds(1))
        #expect(await clock.waitForSleeper(until: due), "the sender stopped waiting 1 ms before the deadline")
        #expect(receiver.arrivals.isEmpty, "sent before batch_send_deadline")
        clock.advance(to: due)
        #expect(await receiver.waitForAccepted(3, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(arrivals.count == 1)
        guard let first = arrivals.first else { return }
        #expect(first.samples.count == 3)
        #expect(first.at == due, "sent \(first.at - committedAt) after the samples came, batch_send_deadline is 400 ms")
    }
}

@Suite("Queue: retries and drops")
struct QueueRetryTests {
    struct StatusCase: Sendable, CustomTestStringConvertible {
        var status: Int
        var retryOn429 = true
        var extra: [Int] = []
        var retried: Bool
        var testDescription: String { "\(status) retryOn429=\(retryOn429) extra=\(extra) → \(retried ? "retried" : "dropped")" }
    }

    @Test(arguments: [
        StatusCase(status: 500, retried: true),
        StatusCase(status: 503, retried: true),
        StatusCase(status: 429, retried: true),
        StatusCase(status: 429, retryOn429: false, retried: false),
        StatusCase(status: 400, retried: false),
        StatusCase(status: 408, extra: [408], retried: true),
        StatusCase(status: 408, retried: false),
    ])
    func theAnswersStatusDecidesBetweenRetryAndDrop(_ c: StatusCase) async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock) { _, index in
            index == 0 ? CannedResponse(status: c.status, body: Array("simulated \(c.status)".utf8)) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        let first = try await fixture.scrape(nodeSeries(5), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 5) {
            $0.queueConfig.retryOnHTTP429 = c.retryOn429
            $0.queueConfig.retryOnHTTPStatus = c.extra
        }], clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 1 })
        if c.retried {
            // Retried after min_backoff (10 ms), on the endpoint's clock.
            #expect(await retry(after: [.milliseconds(10)], from: t0, clock: clock, receiver: receiver))
            #expect(await receiver.waitForAccepted(5, timeout: .seconds(20)))
        } else {
            // A later batch goes through; the dropped one never comes back.
            try await fixture.scrape(nodeSeries(5), at: baseTimestamp + 1000)
            #expect(await receiver.waitForAccepted(5, timeout: .seconds(20)))
            #expect(!clock.deadlines.contains(t0 + .milliseconds(10)), "the sender waits to retry a dropped batch")
        }
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(arrivals.count == 2, "requests: \(arrivals.map(\.status))")
        guard arrivals.count == 2 else { return }
        let hub = ["remote_name": "hub"]
        if c.retried {
            #expect(arrivals[1].samples == arrivals[0].samples, "the retry carries the same samples")
            #expect(Set(arrivals[1].samples) == Set(first))
            #expect(arrivals[0].request.header("Retry-Attempt") == nil)
            #expect(arrivals[1].request.header("Retry-Attempt") == "1")
            #expect(running.metric("prometheus_remote_storage_samples_retried_total", hub) == 5)
            #expect(running.metric("prometheus_remote_storage_samples_failed_total", hub) == 0)
            #expect(running.metric("prometheus_remote_storage_samples_total", hub) == 5)
        } else {
            #expect(Set(arrivals[0].samples) == Set(first))
            #expect(Set(arrivals[1].samples).isDisjoint(with: first), "the dropped batch was sent again")
            #expect(arrivals[1].request.header("Retry-Attempt") == nil)
            #expect(running.metric("prometheus_remote_storage_samples_failed_total", hub) == 5)
            #expect(running.metric("prometheus_remote_storage_samples_retried_total", hub) == 0)
            #expect(running.metric("prometheus_remote_storage_samples_total", hub) == 5)
        }
    }

    @Test func everyRetryCarriesItsAttemptNumber() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let script = [503, 500, 429]
        let receiver = try await Receiver(clock: clock) { _, index in CannedResponse(status: index < script.count ? script[index] : 204) }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(3), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 3)], clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 1 })
        #expect(await retry(after: [10, 20, 40].map { .milliseconds($0) }, from: t0, clock: clock, receiver: receiver))
        #expect(await receiver.waitForAccepted(3, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()
        let arrivals = receiver.arrivals
        #expect(arrivals.map { $0.request.header("Retry-Attempt") } == [nil, "1", "2", "3"])
        #expect(Set(arrivals.map { Set($0.samples) }).count == 1, "every attempt carries the same samples")
    }

    enum RetryAfterForm: String, Sendable, CaseIterable { case seconds, httpDate }

    @Test(arguments: RetryAfterForm.allCases)
    func retryAfterOnA429IsWaitedForExactly(_ form: RetryAfterForm) async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock) { _, index in
            guard index == 0 else { return CannedResponse(status: 204) }
            // Seven seconds from the receiver's now: as seconds, or as a date on the agent's wall clock.
            let value = form == .seconds ? "7" : httpDate(wallMilliseconds: clock.wallMilliseconds + 7_000)
            return CannedResponse(status: 429, headers: [("Retry-After", value)])
        }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(2), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 2)], clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 1 })
        // Longer than the backoff (10 ms): the receiver's word wins, to the millisecond.
        #expect(await clock.waitForSleeper(until: t0 + .seconds(7)), "parked until \(clock.parkedDescription)")
        clock.advance(to: t0 + .milliseconds(6_999))
        #expect(await retry(after: [.seconds(7)], from: t0, clock: clock, receiver: receiver))
        #expect(await receiver.waitForAccepted(2, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()
        let arrivals = receiver.arrivals
        #expect(arrivals.count == 2)
        #expect(arrivals.map { $0.at - t0 } == [.zero, .seconds(7)])
    }

    @Test func backoffDoublesFromMinBackoffUpToMaxBackoff() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let failures = 8
        let receiver = try await Receiver(clock: clock) { _, index in CannedResponse(status: index < failures ? 503 : 204) }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(1), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 1) {
            $0.queueConfig.minBackoff = .milliseconds(40)
            $0.queueConfig.maxBackoff = .milliseconds(160)
        }], clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 1 })
        let expected: [Duration] = [40, 80, 160, 160, 160, 160, 160, 160].map { .milliseconds($0) }
        #expect(await retry(after: expected, from: t0, clock: clock, receiver: receiver))
        #expect(await receiver.waitForAccepted(1, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()
        let times = receiver.arrivals.map(\.at)
        #expect(times.count == failures + 1)
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps == expected, "waits between attempts")
    }

    @Test func samplesOlderThanSampleAgeLimitAreDroppedWhenReadAndWhenTheyAgeWhileRetrying() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let now = clock.wallMilliseconds
        let receiver = try await Receiver(clock: clock) { _, index in
            index == 0 ? CannedResponse(status: 503, headers: [("Retry-After", "15")]) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        let (stale, aging, young) = (
            Labels(["__name__": "stale", "job": "a"]), Labels(["__name__": "aging", "job": "a"]), Labels(["__name__": "young", "job": "a"])
        )
        // sample_age_limit 30 s: 40 s old when read; 20 s old when read, 35 s at the retry; 5 s, then 20 s.
        try await fixture.commit([(stale, now - 40_000, 1), (aging, now - 20_000, 2), (young, now - 5_000, 3)])
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 2) {
            $0.queueConfig.sampleAgeLimit = .seconds(30)
        }], clock: clock)
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 1 })
        #expect(await retry(after: [.seconds(15)], from: t0, clock: clock, receiver: receiver))
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(arrivals.count == 2, "requests: \(arrivals.map(\.samples))")
        guard arrivals.count == 2 else { return }
        #expect(Set(arrivals[0].samples.map(\.series)) == [aging.description, young.description], "the stale sample was dropped when read")
        #expect(arrivals[1].samples.map(\.series) == [young.description], "the retry leaves out what grew too old meanwhile")
        #expect(running.metric("prometheus_remote_storage_samples_dropped_total", ["reason": "too_old"]) == 2)
        #expect(running.metric("prometheus_remote_storage_samples_total") == 1)
    }
}

/// `Retry-After`'s HTTP-date (IMF-fixdate) for a wall time in milliseconds since the epoch.
func httpDate(wallMilliseconds: Int64) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: Date(timeIntervalSince1970: Double(wallMilliseconds) / 1000))
}

@Suite("Queue: what arrives")
struct QueueContentTests {
    @Test func externalLabelsGiveWayToTheSeriesOwnAndWriteRelabelingSeesThem() async throws {
        let receiver = try await Receiver()
        let fixture = try WALFixture()
        let own = Labels(["__name__": "up", "job": "node", "cluster": "own", "tmp_id": "7"])
        let plain = Labels(["__name__": "up", "job": "api"])
        let secret = Labels(["__name__": "secret_tokens", "job": "api"])
        try await fixture.commit([(own, baseTimestamp, 1), (plain, baseTimestamp, 2), (secret, baseTimestamp, 3)])
        try await fixture.commit([(own, baseTimestamp + 1000, 4), (plain, baseTimestamp + 1000, 5), (secret, baseTimestamp + 1000, 6)])
        let relabel = [
            try RelabelConfig(sourceLabels: ["__name__"], regex: "secret_.*", action: .drop),
            try RelabelConfig(sourceLabels: ["region"], targetLabel: "zone", replacement: "zone-$1"),
            try RelabelConfig(regex: "tmp_.*", action: .labeldrop),
        ]
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url) { $0.writeRelabelConfigs = relabel }],
            externalLabels: Labels(["cluster": "ext", "region": "eu"]))
        #expect(await receiver.waitForAccepted(4, timeout: .seconds(20)))
        try await Task.sleep(for: .milliseconds(300))
        await running.stop()
        await receiver.stop()

        let ownSent = Labels(["__name__": "up", "job": "node", "cluster": "own", "region": "eu", "zone": "zone-eu"])
        let plainSent = Labels(["__name__": "up", "job": "api", "cluster": "ext", "region": "eu", "zone": "zone-eu"])
        let expected = [
            SeenSample(series: ownSent.description, timestamp: baseTimestamp, value: 1),
            SeenSample(series: plainSent.description, timestamp: baseTimestamp, value: 2),
            SeenSample(series: ownSent.description, timestamp: baseTimestamp + 1000, value: 4),
            SeenSample(series: plainSent.description, timestamp: baseTimestamp + 1000, value: 5),
        ]
        #expect(counts(receiver.accepted) == counts(expected))
        #expect(running.metric("prometheus_remote_storage_samples_dropped_total", ["reason": "dropped_series"]) == 2)
    }

    @Test func remoteWrite2RequestsCarryItsHeadersSymbolsLabelsSamplesAndMetadata() async throws {
        let receiver = try await Receiver()
        let fixture = try WALFixture()
        let requests = Labels(["__name__": "http_requests_total", "job": "api", "code": "200"])
        let temperature = Labels(["__name__": "temperature", "job": "api", "room": "ünïcødé"])
        try await fixture.commit(
            [(requests, baseTimestamp, 10), (temperature, baseTimestamp, -0.5)],
            metadata: [
                MetricMetadata(family: "http_requests", type: .counter, help: "Requests served."),
                MetricMetadata(family: "temperature", type: .gauge, help: "Room temperature.", unit: "celsius"),
            ])
        try await fixture.commit([(requests, baseTimestamp + 1000, 12), (temperature, baseTimestamp + 1000, 21.5)])
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url) { $0.protobufMessage = .v2 }])
        #expect(await receiver.waitForAccepted(4, timeout: .seconds(20)))
        try await Task.sleep(for: .milliseconds(200))
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(!arrivals.isEmpty)
        for arrival in arrivals {
            #expect(arrival.request.header("Content-Type") == "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            #expect(arrival.request.header("X-Prometheus-Remote-Write-Version") == "2.0.0")
            #expect(arrival.request.header("Content-Encoding") == "snappy")
            guard let message = arrival.v2 else {
                Issue.record("request is not a decodable io.prometheus.write.v2.Request")
                continue
            }
            #expect(message.symbols.first == "", "symbols must start with the empty string")
            #expect(Set(message.symbols).count == message.symbols.count, "a symbol is listed twice")
            for ts in message.timeseries {
                guard let labels = message.labels(ts.labelsRefs) else {
                    Issue.record("labels_refs out of the symbol table")
                    continue
                }
                let name = labels.first { $0.name == "__name__" }?.value
                guard let meta = ts.metadata else {
                    Issue.record("series \(labels) without metadata")
                    continue
                }
                if name == "http_requests_total" {
                    #expect(meta.type == .counter)
                    #expect(message.symbol(meta.helpRef) == "Requests served.")
                    #expect(message.symbol(meta.unitRef) == "")
                } else {
                    #expect(meta.type == .gauge)
                    #expect(message.symbol(meta.helpRef) == "Room temperature.")
                    #expect(message.symbol(meta.unitRef) == "celsius")
                }
            }
        }
        #expect(counts(receiver.accepted) == counts(fixture.committed))
    }

    @Test func aReceiverAnswering415ToRemoteWrite2GetsTheSameSamplesAsRemoteWrite1WithFallback() async throws {
        let receiver = try await Receiver { request, _ in
            request.header("Content-Type")?.contains("v2") ?? false ? CannedResponse(status: 415, body: Array("v1 only".utf8)) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        for scrape in 0..<5 { try await fixture.scrape(nodeSeries(8), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, maxPerSend: 10) {
            $0.protobufMessage = .v2
            $0.protobufMessageFallback = true
        }])
        #expect(await receiver.waitForAccepted(40, timeout: .seconds(20)))
        try await Task.sleep(for: .milliseconds(300))
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(arrivals.contains { $0.isV2 }, "no Remote Write 2.0 request was tried")
        #expect(arrivals.filter(\.accepted).allSatisfy { !$0.isV2 && $0.request.header("X-Prometheus-Remote-Write-Version") == "0.1.0" })
        #expect(counts(receiver.accepted) == counts(fixture.committed), "each sample once, as 1.0")
        #expect(running.metric("prometheus_remote_storage_samples_failed_total") == 0)
    }

    @Test func withoutFallbackA415DropsTheRemoteWrite2Batch() async throws {
        let receiver = try await Receiver { request, _ in
            request.header("Content-Type")?.contains("v2") ?? false ? CannedResponse(status: 415) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(6), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url) { $0.protobufMessage = .v2 }])
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.reduce(0) { $0 + $1.samples.count } >= 6 })
        try await Task.sleep(for: .milliseconds(400))
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(arrivals.count == 1, "requests: \(arrivals.map { ($0.isV2, $0.status) })")
        #expect(arrivals.allSatisfy { $0.isV2 })
        #expect(running.metric("prometheus_remote_storage_samples_failed_total") == 6)
        #expect(running.metric("prometheus_remote_storage_samples_total") == 0)
    }

    @Test func remoteWrite1MetadataRequestsCarryTheFamiliesOfTheWALsMetricMetadatasEverySendInterval() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock)
        let fixture = try WALFixture()
        let families = [
            MetricMetadata(family: "http_requests", type: .counter, help: "Requests served."),
            MetricMetadata(family: "temperature", type: .gauge, help: "Room temperature.", unit: "celsius"),
            MetricMetadata(family: "latency_seconds", type: .histogram, help: "Latency.", unit: "seconds"),
        ]
        try await fixture.commit([(Labels(["__name__": "http_requests_total", "job": "api"]), baseTimestamp, 1)], metadata: families)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 1) {
            $0.metadataConfig.send = true
            $0.metadataConfig.sendInterval = .seconds(7)
        }], clock: clock)
        // The watcher has read the metadata; the sender waits for send_interval.
        #expect(await eventually(timeout: .seconds(20)) { running.context()?.metadata.withLock { $0.count } == 3 })
        #expect(await receiver.waitForAccepted(1, timeout: .seconds(20)))
        #expect(await clock.waitForSleeper(until: t0 + .seconds(7)), "parked until \(clock.parkedDescription)")
        let early = receiver.arrivals.contains(where: \.isMetadataOnly)
        #expect(!early, "metadata went before send_interval")
        clock.advance(to: t0 + .seconds(7))
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.contains(where: \.isMetadataOnly) })
        // And again one interval later.
        #expect(await clock.waitForSleeper(until: t0 + .seconds(14)), "parked until \(clock.parkedDescription)")
        clock.advance(to: t0 + .seconds(14))
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.filter(\.isMetadataOnly).count >= 2 })
        await running.stop(timeout: .seconds(15))
        await receiver.stop()

        let metadataRequests = receiver.arrivals.filter(\.isMetadataOnly)
        #expect(metadataRequests.map { $0.at - t0 } == [.seconds(7), .seconds(14)])
        guard let request = metadataRequests.first, let metadata = request.v1?.metadata else {
            Issue.record("no metadata request")
            return
        }
        let got = Set(metadata.map { "\($0.metricFamilyName)|\($0.type)|\($0.help)|\($0.unit)" })
        let wanted: Set<String> = [
            "http_requests|\(ProtoMetricMetadata.MetricType.counter)|Requests served.|",
            "temperature|\(ProtoMetricMetadata.MetricType.gauge)|Room temperature.|celsius",
            "latency_seconds|\(ProtoMetricMetadata.MetricType.histogram)|Latency.|seconds",
        ]
        #expect(got == wanted)
        #expect(request.request.header("Content-Type") == "application/x-protobuf")
        #expect((running.metric("prometheus_remote_storage_metadata_total") ?? 0) >= 6)
        #expect(receiver.arrivals.filter { !$0.isMetadataOnly }.flatMap(\.samples).count == 1)
    }
}

@Suite("Queue: isolation and backpressure")
struct QueueIsolationTests {
    enum Trouble: String, CaseIterable, Sendable { case down, slow }

    @Test(arguments: Trouble.allCases)
    func anEndpointWhoseReceiverIsInTroubleDoesNotHoldUpTheOther(_ trouble: Trouble) async throws {
        let clock = ManualClock()
        let good = try await Receiver(clock: clock)
        // Down: every request fails (the sender waits in backoff); slow: no request is ever answered.
        let held = HeldResponses()
        let bad = try await Receiver(clock: clock) { _, _ in trouble == .down ? CannedResponse(status: 503) : held.hold() }
        let fixture = try WALFixture()
        for scrape in 0..<10 { try await fixture.scrape(nodeSeries(20), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(
            fixture,
            endpoints: [
                endpoint(bad.url, name: "bad", maxPerSend: 20) { $0.remoteTimeout = .seconds(600) },
                endpoint(good.url, name: "good", maxPerSend: 20),
            ],
            flushDeadline: .milliseconds(500), clock: clock)
        // The clock stands still and the bad receiver never lets a request through: the healthy
        // endpoint sends everything all the same.
        #expect(await good.waitForAccepted(200, timeout: .seconds(20)))
        #expect(counts(good.accepted) == counts(fixture.committed))
        #expect(!bad.arrivals.isEmpty)
        #expect(bad.accepted.isEmpty)
        await running.beginStop()
        if trouble == .slow {
            // The bad endpoint drains (its last request did not fail) until the flush deadline.
            let deadline = clock.now + .milliseconds(500)
            #expect(await clock.waitForSleeper(until: deadline), "parked until \(clock.parkedDescription)")
            clock.advance(to: deadline)
        }
        #expect(await running.waitUntilFinished(), "run() did not return")
        await good.stop()
        await bad.stop()
    }

    @Test func pendingSamplesStayWithinCapacityTimesShardsWhileTheReceiverIsDownAndAllArriveAfter() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let receiver = try await Receiver(clock: clock, Receiver.answering(503))
        let fixture = try WALFixture()
        for scrape in 0..<40 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, capacity: 20, maxPerSend: 10)], clock: clock)
        // Retry after retry (backoff 10, 20, 40, 80 ms), each time once both senders wait to retry
        // and the watcher waits for room, what is pending stays within capacity × shards. Before
        // the last retry the receiver comes back: the retries succeed and everything follows (in
        // full batches: 200 samples per shard).
        let backoffs = [10, 20, 40, 80].map { Duration.milliseconds($0) }
        var retryAt = t0
        for (i, backoff) in backoffs.enumerated() {
            retryAt = retryAt + backoff
            #expect(
                await clock.waitForSleeper(until: retryAt, count: 2, timeout: .seconds(20)),
                "both senders should wait to retry at \(retryAt - t0); parked until \(clock.parkedDescription)")
            #expect(await eventually(timeout: .seconds(20)) { running.watcherWaitsForRoom() }, "the watcher never waited for room")
            let pending = running.metric("prometheus_remote_storage_samples_pending") ?? -1
            #expect(pending > 0 && pending <= 40, "samples_pending is \(pending); capacity × shards = 40")
            let queues = running.context()?.sets.current.queues.map { $0.pendingCounts.samples } ?? []
            #expect(queues.count == 2 && queues.allSatisfy { $0 <= 20 }, "queued and in flight per shard: \(queues)")
            #expect(receiver.accepted.isEmpty)
            if i == backoffs.count - 1 { receiver.answer(Receiver.answering(204)) }
            clock.advance(to: retryAt)
        }
        #expect(await receiver.waitForAccepted(400, timeout: .seconds(20)))
        await running.stop(timeout: .seconds(30))
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed))
        if let bad = firstOutOfOrder(receiver.accepted) {
            Issue.record("series \(bad.series): \(bad.next) arrived after \(bad.previous)")
        }
    }

    @Test func shardsGrowAtTheReshardIntervalWhenSendingCannotKeepUpAndOrderHoldsAcrossTheReshard() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let held = HeldResponses()
        let receiver = try await Receiver(clock: clock) { _, _ in held.hold() }
        let fixture = try WALFixture()
        let series = nodeSeries(20)
        // A backlog of 150 scrapes, one second apart.
        for scrape in 0..<150 { try await fixture.scrape(series, at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 10) {
            $0.queueConfig.minShards = 1
            $0.queueConfig.maxShards = 4
            $0.queueConfig.capacity = 200
        }], clock: clock)
        // Every request takes 100 ms of the endpoint's clock: the test answers it after moving the
        // clock. One shard sends 100 samples/s while the backlog waits: it cannot keep up.
        var answered = 0
        var grewAfter: Duration?
        while clock.now - t0 < .seconds(30) {
            guard await receiver.wait(timeout: .seconds(20), until: { $0.count > answered }) else {
                Issue.record("no request after \(answered) at \(clock.now - t0): \(running.service.endpoints["hub"]?.debugState ?? "-")")
                break
            }
            clock.advance(by: .milliseconds(100))
            answered = receiver.arrivals.count
            held.releaseAll()
            if (running.metric("prometheus_remote_storage_shards") ?? 1) > 1 {
                grewAfter = clock.now - t0
                break
            }
            if clock.now - t0 < .seconds(10) {
                #expect(running.metric("prometheus_remote_storage_shards_desired") == 1, "a reshard decided before the interval")
            }
        }
        #expect(grewAfter != nil, "prometheus_remote_storage_shards stayed at 1 (desired \(running.metric("prometheus_remote_storage_shards_desired") ?? -1))")
        if let grewAfter { #expect(grewAfter >= ReshardPolicy.updateInterval, "resharded after \(grewAfter)") }
        // Answer at once from now on; the shutdown drains the rest.
        receiver.answer(Receiver.answering(204))
        held.releaseAll()
        await running.stop(timeout: .seconds(30))
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed))
        if let bad = firstOutOfOrder(receiver.accepted) {
            Issue.record("series \(bad.series): \(bad.next) arrived after \(bad.previous)")
        }
    }
}

@Suite("Queue: WAL caps")
struct QueueWALCapTests {
    static let segmentSize = 4096
    static let maxSize = 16384

    static var caps: WALConfig {
        var caps = WALConfig()
        caps.segmentSize = segmentSize
        caps.maxSize = maxSize
        caps.maxAge = .zero
        caps.compression = false
        return caps
    }

    /// Runs `maintain()` with a time limit; false when it did not return in time.
    static func maintain(_ running: RunningService, within limit: Duration = .seconds(20)) async -> Bool {
        let done = Locked(false)
        let service = running.service
        Task {
            await service.maintain()
            done.withLock { $0 = true }
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if done.value { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        print("STALLED: \(running.service.endpoints.mapValues(\.debugState)) head=\(running.service.walHead)")
        return done.value
    }

    /// With small queues the watcher is stuck in the oldest segments; the cap makes it skip them.
    @Test func droppedForWALMaxSizePlusReceivedEqualsCommittedWhenTheWatcherIsBehind() async throws {
        try await checkCap(capacity: 30)
    }

    /// With big queues the watcher has read everything; what the cap removes is already queued.
    @Test func droppedForWALMaxSizePlusReceivedEqualsCommittedWhenTheQueuesHoldTheBacklog() async throws {
        try await checkCap(capacity: 100_000)
    }

    /// The cap enforcement picks the endpoints that must skip by their read segment; a watcher
    /// that has meanwhile moved into the cap's segment and waits there for room (the receiver
    /// failing) is past what it is asked to skip, and answers at once instead of after the skip
    /// timeout.
    @Test func aSkipRequestForTheSegmentTheWatcherWaitsInIsAnsweredAtOnce() async throws {
        let receiver = try await Receiver(Receiver.answering(503))
        let fixture = try WALFixture(segmentSize: Self.segmentSize, compression: .none)
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, capacity: 30, maxPerSend: 10)], walConfig: Self.caps)
        let series = nodeSeries(10)
        for scrape in 0..<10 { try await fixture.scrape(series, at: baseTimestamp + Int64(scrape) * 1000) }
        // The service starts its endpoint in a task of its own.
        #expect(await eventually(timeout: .seconds(20)) { !running.service.endpoints.isEmpty }, "the endpoint never started")
        let remote = try #require(running.service.endpoints.values.first)
        // The queue holds 30 samples: the watcher waits for room in the record it is pushing.
        #expect(
            await eventually(timeout: .seconds(20)) {
                remote.context?.sets.all.contains { $0.queues.contains(where: \.isProducerWaiting) } ?? false
            }, "the watcher never waited for room: \(remote.debugState)")
        let segment = try #require(remote.readSegment)
        let start = ContinuousClock.now
        await remote.skipSegments(before: segment, reason: .walMaxSize, timeout: .seconds(10))
        #expect(ContinuousClock.now - start < .seconds(5), "the skip request waited for its timeout")
        receiver.answer(Receiver.answering(204))
        await running.stop(timeout: .seconds(30))
        await receiver.stop()
    }

    func checkCap(capacity: Int) async throws {
        let receiver = try await Receiver(Receiver.answering(503))
        let fixture = try WALFixture(segmentSize: Self.segmentSize, compression: .none)
        let running = try RunningService(
            fixture, endpoints: [endpoint(receiver.url, capacity: capacity, maxPerSend: 10)], walConfig: Self.caps)
        let series = nodeSeries(10)
        var stalled = false
        for scrape in 0..<300 {
            try await fixture.scrape(series, at: baseTimestamp + Int64(scrape) * 1000)
            if scrape % 10 == 9 {
                if !(await Self.maintain(running)) {
                    stalled = true
                    break
                }
                let size = fixture.wal.sizeOnDisk
                #expect(size <= Self.maxSize, "WAL is \(size) bytes after maintain(), max_size \(Self.maxSize)")
                if size > Self.maxSize { break }
            }
        }
        #expect(!stalled, "maintain() did not return within 20 s")
        let dropped = { Int(running.metric("prometheus_remote_storage_samples_dropped_total", ["reason": "wal_max_size"]) ?? 0) }
        #expect(running.metric("agent_wal_segments_removed_total", ["reason": "wal_max_size"]) ?? 0 > 0, "the cap never removed a segment")

        receiver.answer(Receiver.answering(204))
        let total = fixture.committed.count
        #expect(await receiver.wait(timeout: .seconds(15)) { arrivals in
            arrivals.filter(\.accepted).reduce(0) { $0 + $1.samples.count } + dropped() >= total
        })
        try await Task.sleep(for: .milliseconds(500))
        await running.stop(timeout: .seconds(30))
        await receiver.stop()
        let accepted = receiver.accepted
        let otherDrops = DropReason.allCases.filter { $0 != .walMaxSize }.map {
            "\($0.rawValue)=\(Int(running.metric("prometheus_remote_storage_samples_dropped_total", ["reason": $0.rawValue]) ?? 0))"
        }
        #expect(
            accepted.count + dropped() == total,
            "received \(accepted.count) + dropped \(dropped()) ≠ committed \(total); other drops: \(otherDrops.joined(separator: " "))")
        #expect(counts(accepted).values.allSatisfy { $0 == 1 }, "a sample arrived twice")
        #expect(Set(accepted).isSubset(of: Set(fixture.committed)))
    }
}
