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

@Suite("Queue: ordering, batching and sharding")
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
        try await Task.sleep(for: .milliseconds(200))  // anything extra would arrive now
        await running.stop()
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

    @Test func noRequestHoldsMoreThanMaxSamplesPerSendAndFullBatchesDoNotWaitForTheDeadline() async throws {
        let receiver = try await Receiver()
        let fixture = try WALFixture()
        let series = nodeSeries(5)
        // One commit of 95 samples: 19 per series.
        var samples: [(labels: Labels, timestamp: Int64, value: Double)] = []
        for scrape in 0..<19 { for s in series { samples.append((s, baseTimestamp + Int64(scrape) * 1000, Double(scrape))) } }
        try await fixture.commit(samples)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 10, deadline: .seconds(60))])
        // 9 full batches go at once; only the last 5 samples would wait for the 60 s deadline
        // (the shutdown below flushes them).
        #expect(await receiver.waitForAccepted(90, timeout: .seconds(25)), "full batches were held back")
        #expect(receiver.accepted.count == 90, "the partial batch went before its deadline")
        await running.stop()
        #expect(receiver.accepted.count == 95, "the shutdown flushed the partial batch")
        await receiver.stop()

        let sizes = receiver.arrivals.map(\.samples.count)
        #expect(sizes.allSatisfy { $0 <= 10 }, "request sizes \(sizes)")
        #expect(sizes.reduce(0, +) == 95)
        #expect(sizes.filter { $0 == 10 }.count == 9, "request sizes \(sizes)")
    }

    @Test func aPartialBatchIsSentAfterBatchSendDeadline() async throws {
        let receiver = try await Receiver()
        let fixture = try WALFixture()
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 100, deadline: .milliseconds(400))])
        try await Task.sleep(for: .milliseconds(200))  // the watcher is waiting at the WAL's end
        let committedAt = ContinuousClock.now
        try await fixture.scrape(nodeSeries(3), at: baseTimestamp)
        #expect(await receiver.waitForAccepted(3, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()

        let arrivals = receiver.arrivals
        #expect(arrivals.count == 1)
        guard let first = arrivals.first else { return }
        #expect(first.samples.count == 3)
        let waited = first.at - committedAt
        #expect(waited >= .milliseconds(390), "sent after \(waited), before batch_send_deadline")
        #expect(waited < .seconds(8), "sent only after \(waited)")
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
        let receiver = try await Receiver { _, index in
            index == 0 ? CannedResponse(status: c.status, body: Array("simulated \(c.status)".utf8)) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        let first = try await fixture.scrape(nodeSeries(5), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url) {
            $0.queueConfig.retryOnHTTP429 = c.retryOn429
            $0.queueConfig.retryOnHTTPStatus = c.extra
        }])
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 1 })
        if c.retried {
            #expect(await receiver.waitForAccepted(5, timeout: .seconds(20)))
        } else {
            // A later batch goes through; the dropped one never comes back.
            try await Task.sleep(for: .milliseconds(300))
            try await fixture.scrape(nodeSeries(5), at: baseTimestamp + 1000)
            #expect(await receiver.waitForAccepted(5, timeout: .seconds(20)))
        }
        try await Task.sleep(for: .milliseconds(300))
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
        let script = [503, 500, 429]
        let receiver = try await Receiver { _, index in CannedResponse(status: index < script.count ? script[index] : 204) }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(3), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url)])
        #expect(await receiver.waitForAccepted(3, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()
        let arrivals = receiver.arrivals
        #expect(arrivals.map { $0.request.header("Retry-Attempt") } == [nil, "1", "2", "3"])
        #expect(Set(arrivals.map { Set($0.samples) }).count == 1, "every attempt carries the same samples")
    }

    @Test func retryAfterOnA429IsWaitedFor() async throws {
        let receiver = try await Receiver { _, index in
            index == 0 ? CannedResponse(status: 429, headers: [("Retry-After", "1")]) : CannedResponse(status: 204)
        }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(2), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url)])
        #expect(await receiver.waitForAccepted(2, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()
        let arrivals = receiver.arrivals
        #expect(arrivals.count == 2)
        guard arrivals.count == 2 else { return }
        let gap = arrivals[1].at - arrivals[0].at
        #expect(gap >= .milliseconds(990), "retried after \(gap) despite Retry-After: 1")
        #expect(gap < .seconds(8), "retried only after \(gap)")
    }

    @Test func backoffDoublesFromMinBackoffUpToMaxBackoff() async throws {
        let failures = 8
        let receiver = try await Receiver { _, index in CannedResponse(status: index < failures ? 503 : 204) }
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(1), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url) {
            $0.queueConfig.minBackoff = .milliseconds(40)
            $0.queueConfig.maxBackoff = .milliseconds(160)
        }])
        #expect(await receiver.waitForAccepted(1, timeout: .seconds(20)))
        await running.stop()
        await receiver.stop()
        let times = receiver.arrivals.map(\.at)
        #expect(times.count == failures + 1)
        guard times.count == failures + 1 else { return }
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        let expected: [Duration] = [40, 80, 160, 160, 160, 160, 160, 160].map { .milliseconds($0) }
        for (i, (gap, wanted)) in zip(gaps, expected).enumerated() {
            #expect(gap >= wanted, "attempt \(i + 1) came \(gap) after the previous one, before its backoff \(wanted)")
        }
        // Uncapped doubling would wait 1280 ms before the last attempt; the cap is 160 ms (a
        // loaded machine adds some, not 800 ms).
        #expect((gaps.last ?? .zero) < .milliseconds(1000), "max_backoff not applied: last gaps \(gaps.suffix(3))")
    }
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
                MetadataRecord(family: "http_requests", type: .counter, help: "Requests served."),
                MetadataRecord(family: "temperature", type: .gauge, unit: "celsius", help: "Room temperature."),
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

    @Test func remoteWrite1MetadataRequestsCarryTheFamiliesOfTheWALsMetadataRecords() async throws {
        let receiver = try await Receiver()
        let fixture = try WALFixture()
        let families = [
            MetadataRecord(family: "http_requests", type: .counter, help: "Requests served."),
            MetadataRecord(family: "temperature", type: .gauge, unit: "celsius", help: "Room temperature."),
            MetadataRecord(family: "latency_seconds", type: .histogram, unit: "seconds", help: "Latency."),
        ]
        try await fixture.commit([(Labels(["__name__": "http_requests_total", "job": "api"]), baseTimestamp, 1)], metadata: families)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url) {
            $0.metadataConfig.send = true
            $0.metadataConfig.sendInterval = .milliseconds(200)
        }])
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.contains(where: \.isMetadataOnly) })
        await running.stop(timeout: .seconds(15))
        await receiver.stop()

        guard let request = receiver.arrivals.first(where: \.isMetadataOnly), let metadata = request.v1?.metadata else {
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
        #expect((running.metric("prometheus_remote_storage_metadata_total") ?? 0) >= 3)
        #expect(receiver.arrivals.filter { !$0.isMetadataOnly }.flatMap(\.samples).count == 1)
    }
}

@Suite("Queue: shutdown and restart")
struct QueueShutdownTests {
    @Test func samplesQueuedWhenShutdownBeginsAreSentBeforeRunReturns() async throws {
        let receiver = try await Receiver()
        let fixture = try WALFixture()
        for scrape in 0..<5 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        // A long batch deadline: nothing is sent before the shutdown.
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, deadline: .seconds(30))], flushDeadline: .seconds(10))
        try await Task.sleep(for: .milliseconds(400))
        #expect(receiver.arrivals.isEmpty)
        // Some more, not yet read when the shutdown begins.
        try await fixture.scrape(nodeSeries(10), at: baseTimestamp + 5000)
        let shutdownAt = ContinuousClock.now
        let took = await running.stop(timeout: .seconds(30))
        #expect(took != nil, "run() did not return")
        #expect(counts(receiver.accepted) == counts(fixture.committed))
        if let last = receiver.arrivals.last {
            #expect(last.at - shutdownAt < .seconds(15), "the flush waited for the 30 s batch deadline")
        }
        await receiver.stop()
    }

    @Test func runReturnsByTheFlushDeadlineWhenTheReceiverIsDown() async throws {
        let receiver = try await Receiver(Receiver.answering(503))
        let fixture = try WALFixture()
        try await fixture.scrape(nodeSeries(10), at: baseTimestamp)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url)], flushDeadline: .seconds(1))
        #expect(await receiver.wait(timeout: .seconds(20)) { !$0.isEmpty })
        let took = await running.stop(timeout: .seconds(30))
        await receiver.stop()
        #expect(took != nil, "run() did not return within 30 s")
        if let took { #expect(took < .seconds(8), "run() returned \(took) after shutdown began; flush deadline 1 s") }
    }

    @Test func runReturnsByTheFlushDeadlineWhenTheBacklogExceedsTheQueues() async throws {
        let receiver = try await Receiver(Receiver.answering(503))
        let fixture = try WALFixture()
        for scrape in 0..<20 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, capacity: 20, maxPerSend: 10)], flushDeadline: .seconds(1))
        #expect(await receiver.wait(timeout: .seconds(20)) { !$0.isEmpty })
        try await Task.sleep(for: .milliseconds(300))  // the watcher now waits for room
        let took = await running.stop(timeout: .seconds(15))
        await receiver.stop()
        #expect(took != nil, "run() had not returned 15 s after shutdown began (flush deadline 1 s)")
        if let took { #expect(took < .seconds(8), "run() returned \(took) after shutdown began; flush deadline 1 s") }
    }

    @Test func aRestartSendsExactlyWhatTheStoredProgressLeftUnsent() async throws {
        // Run 1: the first two requests are accepted, then the receiver fails.
        let receiver = try await Receiver { _, index in CannedResponse(status: index < 2 ? 204 : 503) }
        let fixture = try WALFixture()
        for scrape in 0..<10 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let first = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, maxPerSend: 10)], flushDeadline: .seconds(1))
        #expect(await receiver.wait(timeout: .seconds(20)) { $0.count >= 4 })
        let took = await first.stop(timeout: .seconds(30))
        #expect(took != nil, "run 1 did not return")
        let acceptedFirst = receiver.accepted
        #expect(!acceptedFirst.isEmpty, "run 1 had nothing accepted")

        // The stored progress covers no sample that was not accepted.
        let progress = try EndpointProgressFile(directory: fixture.progressDirectory, endpointName: "hub").load()
        #expect(progress != nil, "no progress stored")
        if let progress {
            let accepted = Set(acceptedFirst)
            for entry in try fixture.samplesWithPlaces() where !accepted.contains(entry.sample) {
                #expect(!progress.isAcknowledged(ref: entry.ref, at: entry.place), "unsent \(entry.sample) counted as acknowledged")
            }
        }

        // Run 2, receiver healthy: exactly the rest.
        receiver.answer(Receiver.answering(204))
        let second = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, maxPerSend: 10)], flushDeadline: .seconds(1))
        #expect(await receiver.waitForAccepted(100, timeout: .seconds(20)))
        try await Task.sleep(for: .milliseconds(300))
        #expect(await second.stop(timeout: .seconds(30)) != nil, "run 2 did not return")
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed), "nothing twice, nothing skipped")
    }
}

@Suite("Queue: isolation and backpressure")
struct QueueIsolationTests {
    enum Trouble: String, CaseIterable, Sendable { case down, slow }

    @Test(arguments: Trouble.allCases)
    func anEndpointWhoseReceiverIsInTroubleDoesNotHoldUpTheOther(_ trouble: Trouble) async throws {
        let good = try await Receiver()
        let bad = try await Receiver { _, _ in
            trouble == .down ? CannedResponse(status: 503) : CannedResponse(status: 204, delay: .seconds(5))
        }
        let fixture = try WALFixture()
        for scrape in 0..<10 { try await fixture.scrape(nodeSeries(20), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(
            fixture,
            endpoints: [endpoint(bad.url, name: "bad", maxPerSend: 20), endpoint(good.url, name: "good", maxPerSend: 20)],
            flushDeadline: .milliseconds(500))
        let started = ContinuousClock.now
        #expect(await good.waitForAccepted(200, timeout: .seconds(20)))
        let took = ContinuousClock.now - started
        // A slow receiver takes 5 s per request: waiting on it would cost the healthy endpoint's
        // 10 requests 50 s; a loaded CI machine needed up to 8 s without any such wait.
        #expect(took < .seconds(20), "the healthy endpoint needed \(took)")
        #expect(counts(good.accepted) == counts(fixture.committed))
        #expect(!bad.arrivals.isEmpty)
        await running.stop(timeout: .seconds(30))
        await good.stop()
        await bad.stop()
    }

    @Test func pendingSamplesStayWithinCapacityTimesShardsWhileTheReceiverIsDownAndAllArriveAfter() async throws {
        let receiver = try await Receiver(Receiver.answering(503))
        let fixture = try WALFixture()
        for scrape in 0..<40 { try await fixture.scrape(nodeSeries(10), at: baseTimestamp + Int64(scrape) * 1000) }
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, shards: 2, capacity: 20, maxPerSend: 10)])
        var observed: [Double] = []
        // Watch for 2.5 s after the backlog first shows (on a loaded machine the endpoint may
        // take a while to start), at most 20 s in all.
        let giveUp = ContinuousClock.now + .seconds(20)
        var until = giveUp
        while ContinuousClock.now < until {
            if let pending = running.metric("prometheus_remote_storage_samples_pending") {
                observed.append(pending)
                if pending > 0, until == giveUp { until = min(giveUp, ContinuousClock.now + .seconds(2.5)) }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(observed.max() ?? 0 > 0, "samples_pending never showed the backlog")
        #expect(observed.allSatisfy { $0 <= 40 }, "samples_pending reached \(observed.max() ?? 0) > capacity × shards = 40")
        #expect(receiver.accepted.isEmpty)

        receiver.answer(Receiver.answering(204))
        #expect(await receiver.waitForAccepted(400, timeout: .seconds(20)))
        try await Task.sleep(for: .milliseconds(300))
        await running.stop(timeout: .seconds(30))
        await receiver.stop()
        #expect(counts(receiver.accepted) == counts(fixture.committed))
        if let bad = firstOutOfOrder(receiver.accepted) {
            Issue.record("series \(bad.series): \(bad.next) arrived after \(bad.previous)")
        }
    }

    /// Slow: the reshard decision is taken every 10 s (ReshardPolicy.updateInterval).
    @Test(.timeLimit(.minutes(1)))
    func shardsGrowWhenSendingCannotKeepUpAndOrderHoldsAcrossTheReshard() async throws {
        let receiver = try await Receiver { _, _ in CannedResponse(status: 204, delay: .milliseconds(100)) }
        let fixture = try WALFixture()
        let series = nodeSeries(20)
        let running = try RunningService(fixture, endpoints: [endpoint(receiver.url, maxPerSend: 10) {
            $0.queueConfig.minShards = 1
            $0.queueConfig.maxShards = 4
            $0.queueConfig.capacity = 200
        }])
        // About 400 samples/s in; one shard sends at most 10 per 100 ms.
        var scrape: Int64 = 0
        let until = ContinuousClock.now + .seconds(20)
        var grew = false
        while ContinuousClock.now < until {
            try await fixture.scrape(series, at: baseTimestamp + scrape * 50)
            scrape += 1
            try await Task.sleep(for: .milliseconds(50))
            if (running.metric("prometheus_remote_storage_shards") ?? 1) > 1 {
                grew = true
                break
            }
        }
        #expect(grew, "prometheus_remote_storage_shards stayed at 1 (desired \(running.metric("prometheus_remote_storage_shards_desired") ?? -1))")
        // Keep the input going across the reshard, then let everything drain.
        for _ in 0..<20 {
            try await fixture.scrape(series, at: baseTimestamp + scrape * 50)
            scrape += 1
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await receiver.waitForAccepted(fixture.committed.count, timeout: .seconds(20)))
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
