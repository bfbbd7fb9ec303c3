import CCurl
import Synchronization

/// What other threads ask of the I/O thread.
enum TransportCommand: Sendable {
    /// Start a transfer.
    case add(id: UInt64, request: PreparedRequest, completion: TransferCompletion)
    /// Abort a transfer at once (removing its easy handle closes its connection). Ignored for an
    /// id that is not running (finished, or never queued).
    case abort(UInt64)
    /// `curl_easy_pause(CURLPAUSE_CONT)` a stream whose consumer caught up.
    case unpause(UInt64)
}

/// Who learns how a transfer ended.
enum TransferCompletion: Sendable {
    /// ``HTTPTransport/perform(_:)``: resumed once, with the response or the error.
    case response(CheckedContinuation<HTTPResponse, any Error>)
    /// ``HTTPTransport/stream(_:idleTimeout:maxBufferedBytes:)``: head, body and end go to the state.
    case stream(StreamState)

    /// Ends the transfer with `error` (one that never ran, or was aborted).
    func fail(_ error: any Error) {
        switch self {
        case .response(let continuation): continuation.resume(throwing: error)
        case .stream(let state): state.finish(.failure(error))
        }
    }
}

/// The `CURLM *` of one transport.
///
/// `@unchecked Sendable`, and why that is safe:
/// 1. `pointer` never changes.
/// 2. It is created and configured (`curl_multi_setopt`) by ``HTTPTransport/init(maxConnections:)``
///    before the I/O thread starts (`pthread_create` orders those writes before the thread).
/// 3. Every libcurl call on it after that, except `curl_multi_wakeup`, is made by the I/O thread
///    (``IOLoop``), including the final `curl_multi_cleanup`.
/// 4. `curl_multi_wakeup` is documented as callable from any thread. ``TransportCore`` calls it
///    only while holding its queue lock and only while the queue is open; the I/O thread closes
///    the queue under that lock before `curl_multi_cleanup`, so no wakeup overlaps or follows
///    the cleanup.
final class MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init(_ pointer: UnsafeMutableRawPointer) {
        self.pointer = pointer
    }
}

/// The part of a transport shared by the callers and the I/O thread: the command queue, the
/// multi handle (for wakeups), and counters.
///
/// Never references the public ``HTTPTransport``, so that dropping the transport shuts it down.
final class TransportCore: Sendable {
    private struct Queue {
        var commands: [TransportCommand] = []
        /// Set by ``requestShutdown()``; the I/O thread then closes the queue and exits.
        var stopping = false
        /// No more commands are accepted (shut down, or never started).
        var closed = false
    }

    let multi: MultiHandle?
    private let queue: Mutex<Queue>
    private let ids = Atomic<UInt64>(0)
    /// Transfers currently added to the multi handle.
    let activeTransfers = Atomic<Int>(0)
    /// The most transfers ever active at once.
    let peakActiveTransfers = Atomic<Int>(0)

    /// - Parameter multi: `nil` when libcurl could not be initialised: every request then
    ///   fails with ``CurlError/initializationFailed``.
    init(multi: MultiHandle?) {
        self.multi = multi
        queue = Mutex(Queue(closed: multi == nil))
    }

    /// A new transfer id.
    func makeID() -> UInt64 {
        ids.add(1, ordering: .relaxed).newValue
    }

    /// Queues a transfer, unless the transport is shut down or the calling task is cancelled; in
    /// those cases `completion` is failed at once (outside the lock), and nothing is queued.
    ///
    /// The cancellation check is made under the queue lock. A task's cancellation flag is set
    /// before its cancellation handlers run, so either this check sees it, or the handler's
    /// ``TransportCommand/abort(_:)`` is queued after this transfer's `add`: an abort can never
    /// precede the add it is meant for.
    func submitAdd(id: UInt64, request: PreparedRequest, completion: TransferCompletion) {
        enum Refusal { case shutDown, cancelled }
        let refusal: Refusal? = queue.withLock { queue in
            if queue.closed || queue.stopping { return .shutDown }
            if Task.isCancelled { return .cancelled }
            enqueue(.add(id: id, request: request, completion: completion), into: &queue)
            return nil
        }
        switch refusal {
        case .shutDown: completion.fail(multi == nil ? CurlError.initializationFailed : CurlError.transportShutDown)
        case .cancelled: completion.fail(CancellationError())
        case nil: break
        }
    }

    /// Queues an abort or unpause; dropped when the transport is shut down (every transfer has
    /// then ended).
    func submit(_ command: TransportCommand) {
        queue.withLock { queue in
            guard !queue.closed else { return }
            enqueue(command, into: &queue)
        }
    }

    /// Appends `command` and wakes the I/O thread if the queue was empty (if it was not, a
    /// wakeup is already pending: the I/O thread has not taken the queue since it was sent).
    /// Must be called under the queue lock, with the queue open.
    private func enqueue(_ command: TransportCommand, into queue: inout Queue) {
        queue.commands.append(command)
        if queue.commands.count == 1, let multi {
            curl_multi_wakeup(multi.pointer)
        }
    }

    /// Asks the I/O thread to stop. Idempotent.
    func requestShutdown() {
        queue.withLock { queue in
            guard !queue.closed, !queue.stopping else { return }
            queue.stopping = true
            if queue.commands.isEmpty, let multi {
                curl_multi_wakeup(multi.pointer)
            }
        }
    }

    // MARK: I/O thread only

    /// Takes the queued commands, and whether the transport is stopping.
    func takeCommands() -> (commands: [TransportCommand], stopping: Bool) {
        queue.withLock { queue in
            let commands = queue.commands
            queue.commands = []
            return (commands, queue.stopping)
        }
    }

    /// Closes the queue for good and returns what was still in it. After this, no thread calls
    /// `curl_multi_wakeup` any more.
    func close() -> [TransportCommand] {
        queue.withLock { queue in
            queue.closed = true
            defer { queue.commands = [] }
            return queue.commands
        }
    }

    /// Counts a transfer added to the multi handle.
    func transferStarted() {
        let active = activeTransfers.add(1, ordering: .relaxed).newValue
        var peak = peakActiveTransfers.load(ordering: .relaxed)
        while active > peak {
            let (exchanged, original) = peakActiveTransfers.compareExchange(
                expected: peak, desired: active, ordering: .relaxed)
            if exchanged { break }
            peak = original
        }
    }

    /// Counts a transfer removed from the multi handle.
    func transferEnded() {
        activeTransfers.subtract(1, ordering: .relaxed)
    }
}
