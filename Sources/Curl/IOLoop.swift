#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl

/// The I/O thread of an ``HTTPTransport``: drives its multi handle and owns every easy handle.
///
/// Confined to that thread: created there by the thread's entry function and used by nothing
/// else. Other threads reach it only through ``TransportCore``'s command queue and
/// `curl_multi_wakeup`. libcurl's callbacks (``TransferContext``) run inside
/// `curl_multi_perform` and `curl_easy_pause`, so on this thread too.
///
/// Each loop turn applies the queued commands, lets libcurl do all the work it can
/// (`curl_multi_perform`), completes the finished transfers, then sleeps in `curl_multi_poll`
/// until a socket is ready, libcurl's next timeout (connect, total, low-speed) is due, a command
/// arrives, or a second passed.
final class IOLoop {
    /// A transfer added to the multi handle.
    private final class Active {
        let id: UInt64
        let handle: EasyHandle
        let context: TransferContext
        let completion: TransferCompletion

        init(id: UInt64, handle: EasyHandle, context: TransferContext, completion: TransferCompletion) {
            self.id = id
            self.handle = handle
            self.context = context
            self.completion = completion
        }
    }

    /// Reset easy handles kept for reuse; more than this are freed.
    static let maxIdleHandles = 256
    /// The longest `curl_multi_poll` sleeps (libcurl shortens it to its own next timeout).
    static let pollTimeoutMilliseconds: Int32 = 1000

    private let core: TransportCore
    private let multi: UnsafeMutableRawPointer
    private var transfers: [UInt64: Active] = [:]
    private var idByHandle: [UnsafeMutableRawPointer: UInt64] = [:]
    private var idle: [EasyHandle] = []

    init(core: TransportCore, multi: UnsafeMutableRawPointer) {
        self.core = core
        self.multi = multi
    }

    /// Runs until the transport shuts down; then fails what is left and frees the multi handle.
    func run() {
        while true {
            let (commands, stopping) = core.takeCommands()
            for command in commands {
                apply(command)
            }
            if stopping { break }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            completeFinishedTransfers()
            if curl_multi_poll(multi, nil, 0, Self.pollTimeoutMilliseconds, nil) != CURLM_OK {
                // Not expected (out of memory, say); do not spin.
                usleep(10_000)
            }
        }
        stop()
    }

    private func apply(_ command: TransportCommand) {
        switch command {
        case .add(let id, let request, let completion):
            start(id: id, request: request, completion: completion)
        case .abort(let id):
            abort(id, with: CancellationError())
        case .unpause(let id):
            // May call the write callback at once with the bytes held back when it paused.
            if let transfer = transfers[id] {
                _ = curl_easy_pause(transfer.handle.pointer, ccurl_pause_cont())
            }
        }
    }

    private func start(id: UInt64, request: PreparedRequest, completion: TransferCompletion) {
        guard let handle = idle.popLast() ?? EasyHandle() else {
            completion.fail(CurlError.initializationFailed)
            return
        }
        let stream: StreamState? = if case .stream(let state) = completion { state } else { nil }
        let context = TransferContext(request: request, stream: stream)
        do {
            try handle.apply(request, context: context)
        } catch {
            release(handle)
            completion.fail(error)
            return
        }
        let code = curl_multi_add_handle(multi, handle.pointer)
        guard code == CURLM_OK else {
            release(handle)
            completion.fail(CurlError(kind: .other, code: Int32(CURLE_FAILED_INIT.rawValue),
                                      message: String(cString: curl_multi_strerror(code))))
            return
        }
        transfers[id] = Active(id: id, handle: handle, context: context, completion: completion)
        idByHandle[handle.pointer] = id
        core.transferStarted()
    }

    /// Completes every transfer libcurl reports done.
    private func completeFinishedTransfers() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            // The message is freed by curl_multi_remove_handle: read it first.
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = ccurl_msg_result(message)
            guard let id = idByHandle.removeValue(forKey: easy), let transfer = transfers.removeValue(forKey: id) else {
                continue
            }
            _ = curl_multi_remove_handle(multi, easy)
            core.transferEnded()
            switch transfer.completion {
            case .response(let continuation):
                let outcome = transfer.handle.outcome(code, context: transfer.context)
                release(transfer.handle)
                continuation.resume(with: outcome.mapError { $0 as any Error })
            case .stream(let state):
                let outcome: Result<StreamState.Head, any Error>
                if transfer.context.abandonedByConsumer {
                    outcome = .failure(CancellationError())
                } else {
                    outcome = transfer.handle.outcome(code, context: transfer.context)
                        .map { response in StreamState.Head(status: response.status, headers: response.headers) }
                        .mapError { $0 as any Error }
                }
                release(transfer.handle)
                state.finish(outcome)
            }
        }
    }

    /// Removes a running transfer at once and fails it with `error`. Removing an unfinished
    /// transfer makes libcurl close its connection. Ignores ids that are not running.
    private func abort(_ id: UInt64, with error: any Error) {
        guard let transfer = transfers.removeValue(forKey: id) else { return }
        idByHandle.removeValue(forKey: transfer.handle.pointer)
        _ = curl_multi_remove_handle(multi, transfer.handle.pointer)
        core.transferEnded()
        release(transfer.handle)
        transfer.completion.fail(error)
    }

    /// Resets a handle no longer in the multi handle (so it references no context or list) and
    /// keeps it for the next transfer.
    private func release(_ handle: EasyHandle) {
        handle.reset()
        if idle.count < Self.maxIdleHandles {
            idle.append(handle)
        }
    }

    /// Shutdown: closes the queue, fails the commands left in it and the running transfers with
    /// ``CurlError/transportShutDown``, frees every handle.
    private func stop() {
        for command in core.close() {
            if case .add(_, _, let completion) = command {
                completion.fail(CurlError.transportShutDown)
            }
        }
        for id in Array(transfers.keys) {
            abort(id, with: CurlError.transportShutDown)
        }
        idle.removeAll()
        curl_multi_cleanup(multi)
    }
}
