import ServiceLifecycle
import Synchronization

/// `--web.enable-lifecycle`: whether the admin server serves `POST /-/reload` and `/-/quit`
/// (off by default, as in Prometheus, since anyone who reaches the port could use them), and the
/// shutdown that `/-/quit` asks for.
///
/// A quit request triggers the service group's graceful shutdown, the path SIGTERM takes: the
/// scraper stops, remote write drains, the WAL closes, and the admin server, still answering,
/// goes last. Only the first request does anything.
final class LifecycleAPI: Sendable {
    /// The body of the 403 answer when the API is off (Prometheus's words).
    static let disabledMessage = "Lifecycle API is not enabled."

    let isEnabled: Bool
    private let requests: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let quitRequested = Atomic<Bool>(false)

    init(enabled: Bool) {
        isEnabled = enabled
        (requests, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a graceful shutdown; true for the first request, false once one was made.
    func requestQuit() -> Bool {
        guard !quitRequested.exchange(true, ordering: .relaxed) else { return false }
        continuation.yield()
        return true
    }

    /// Runs `group` until it returns, shutting it down gracefully when a quit is requested.
    func run(_ group: ServiceGroup) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [continuation] in
                defer { continuation.finish() }
                try await group.run()
            }
            tasks.addTask { [requests] in
                for await _ in requests {
                    await group.triggerGracefulShutdown()
                    return
                }
            }
            try await tasks.waitForAll()
        }
    }
}
