@testable import Curl
import TestSupport
import Testing

/// What one I/O thread driving many transfers must guarantee: transfers run side by side, a
/// slow one holds nobody up, cancellation is immediate, idle connections survive.
@Suite struct ConcurrencyTests {
    @Test(.timeLimit(.minutes(1)))
    func twoHundredSlowRequestsRunAtOnceOnOneIOThread() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        try await transport.perform(HTTPRequest(url: server.url("/slow?ms=2000"), timeout: .seconds(60))).status
                    }
                }
                for try await status in group {
                    #expect(status == 200)
                }
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .seconds(2))
            // One after the other they would take 400 s; on a pool of 4 threads, 100 s.
            #expect(elapsed < .seconds(15))
            // All 200 were in libcurl at the same time, driven by the transport's one thread.
            #expect(transport.peakActiveTransfers == 200)
            #expect(transport.activeTransfers == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRequestThatNeverGetsAnAnswerDoesNotDelayALaterOne() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let slow = Task { try await transport.perform(HTTPRequest(url: server.url("/never"), timeout: .seconds(30))) }
            #expect(await eventually(timeout: .seconds(10)) { transport.activeTransfers == 1 })
            let start = ContinuousClock.now
            let fast = try await transport.perform(HTTPRequest(url: server.url("/hello")))
            #expect(fast.status == 200)
            // The slow one would hold it up for 30 s.
            #expect(ContinuousClock.now - start < .seconds(5))
            slow.cancel()
            _ = try? await slow.value
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingARequestInFlightAbortsItAtOnceAndClosesTheConnection() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let task = Task { try await transport.perform(HTTPRequest(url: server.url("/never"), timeout: .seconds(30))) }
            #expect(await eventually(timeout: .seconds(10)) { server.connectionsOpened == 1 && transport.activeTransfers == 1 })
            let start = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            // The timeout is 30 s; cancellation must not wait for it.
            #expect(ContinuousClock.now - start < .seconds(5), "the cancellation, not a timeout, ended it")
            #expect(transport.activeTransfers == 0)
            #expect(await eventually(timeout: .seconds(5)) { server.connectionsClosed == 1 })
        }
    }

    @Test func aRequestOfATaskCancelledBeforehandIsNeverSent() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            let task = Task {
                while !Task.isCancelled { await Task.yield() }
                return try await transport.perform(HTTPRequest(url: server.url("/hello")))
            }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(transport.peakActiveTransfers == 0)
            #expect(server.connectionsOpened == 0)
        }
    }

    /// Cancellation racing the add, the transfer and its completion: every call must return
    /// exactly once (a continuation resumed twice traps; one never resumed hangs the test).
    @Test(.timeLimit(.minutes(1)))
    func cancellationAtAnyMomentEndsEachRequestExactlyOnce() async throws {
        try await withServer { server in
            let transport = HTTPTransport()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let task = Task {
                            try await transport.perform(HTTPRequest(url: server.url("/slow?ms=\(index % 7)"), timeout: .seconds(30)))
                        }
                        if index % 3 != 0 {
                            try await Task.sleep(for: .microseconds((index * 37) % 8000))
                        }
                        task.cancel()
                        do {
                            let response = try await task.value
                            #expect(response.status == 200)
                        } catch {
                            #expect(error is CancellationError)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(transport.activeTransfers == 0)
            // The transport still works.
            #expect(try await transport.perform(HTTPRequest(url: server.url("/hello"))).status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func keepAliveConnectionSurvivesFiftyTransfersToOtherHosts() async throws {
        var others: [TestHTTPServer] = []
        for _ in 0..<50 { others.append(try await TestHTTPServer()) }
        do {
            try await withServer { server in
                for maxConnections in [4096, 8] {
                    let transport = HTTPTransport(maxConnections: maxConnections)
                    let first = try await transport.perform(HTTPRequest(url: server.url("/port")))
                    for other in others {
                        #expect(try await transport.perform(HTTPRequest(url: other.url("/hello"))).status == 200)
                    }
                    let again = try await transport.perform(HTTPRequest(url: server.url("/port")))
                    if maxConnections == 4096 {
                        #expect(first.body == again.body, "same client port: the idle connection was kept")
                    } else {
                        // The control: a pool of 8 closes the oldest idle connections.
                        #expect(first.body != again.body)
                    }
                }
            }
        } catch {
            for other in others { try? await other.stop() }
            throw error
        }
        for other in others { try await other.stop() }
    }

    @Test func concurrentRequestsToOneServerUseSeveralConnections() async throws {
        let slowPort: @Sendable (ReceivedRequest) -> CannedResponse = { request in
            CannedResponse(body: Array("\(request.remotePort ?? -1)".utf8), delay: .milliseconds(300))
        }
        try await withServer(slowPort) { server in
            let transport = HTTPTransport()
            let ports = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for _ in 0..<4 {
                    group.addTask { try await transport.perform(HTTPRequest(url: server.url("/"))).body }
                }
                return try await group.reduce(into: Set<[UInt8]>()) { $0.insert($1) }
            }
            #expect(ports.count == 4)
            // And keeps them for later requests.
            for _ in 0..<4 {
                #expect(try await transport.perform(HTTPRequest(url: server.url("/"))).status == 200)
            }
            #expect(server.connectionsOpened == 4)
        }
    }
}
