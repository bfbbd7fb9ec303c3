import NIOCore
import NIOPosix
import Synchronization

/// The one NIO event loop thread that DNS discovery's sockets use: started when the first DNS
/// provider starts, shut down when the last one stops, so that an agent without `dns_sd_configs`
/// has no such thread, and one with many shares a single thread.
final class DNSEventLoop: Sendable {
    private struct State {
        var group: MultiThreadedEventLoopGroup?
        var users = 0
    }

    private let state = Mutex(State())

    init() {}

    /// Runs `body` with the event loop group, starting it if nobody uses it yet and shutting it
    /// down afterwards if nobody else does.
    func withGroup(_ body: (any EventLoopGroup) async -> Void) async {
        let group = state.withLock { state in
            let group = state.group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
            state.group = group
            state.users += 1
            return group
        }
        await body(group)
        let idle = state.withLock { state -> MultiThreadedEventLoopGroup? in
            state.users -= 1
            guard state.users == 0 else { return nil }
            defer { state.group = nil }
            return state.group
        }
        try? await idle?.shutdownGracefully()
    }
}
