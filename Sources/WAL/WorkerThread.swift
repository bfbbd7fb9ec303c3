#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import class Foundation.Thread

/// Thread creation failed (`pthread_create`, e.g. EAGAIN: too many threads).
public struct ThreadCreationError: Error, CustomStringConvertible {
    public var name: String
    public var errno: CInt

    public var description: String {
        "cannot start thread \(name): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// One dedicated OS thread (not part of Swift's cooperative pool) running a body once.
///
/// Whoever owns it ends the body (through whatever the body waits on) and then calls ``join()``
/// or, when that may run on the thread itself, ``joinOrDetach()``; each only once has effect.
final class WorkerThread: Sendable {
    let name: String
    /// The thread's handle until it is joined or detached (then nil).
    private let handle: Mutex<pthread_t?>

    /// Owns the body until the thread runs it.
    private final class Start {
        let body: @Sendable () -> Void
        let name: String
        init(body: @escaping @Sendable () -> Void, name: String) {
            self.body = body
            self.name = name
        }
    }

    /// Starts a thread named `name` (the first 15 bytes show in `top -H`, `ps -L`) running `body`.
    init(name: String, body: @escaping @Sendable () -> Void) throws(ThreadCreationError) {
        self.name = name
        let start = Unmanaged.passRetained(Start(body: body, name: name)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let rc = pthread_create(&thread, nil, { argument in
            #if canImport(Darwin)
            let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
            #else
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            #endif
            WorkerThread.setCurrentName(start.name)
            start.body()
            return nil
        }, start)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw ThreadCreationError(name: name, errno: rc)
        }
        #if canImport(Darwin)
        handle = Mutex(thread!)
        #else
        handle = Mutex(thread)
        #endif
    }

    private static func setCurrentName(_ name: String) {
        // Linux limits names to 15 bytes (plus the NUL); cut at a character boundary.
        var short = ""
        for c in name where short.utf8.count + String(c).utf8.count <= 15 { short.append(c) }
        // (Foundation calls pthread_setname_np, which Glibc's module map does not export.)
        Thread.current.name = short
    }

    /// Whether the caller runs on this thread.
    var isCurrent: Bool {
        handle.withLock { h in h.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Waits until the body has returned. Blocks the calling thread: call it once the body is
    /// known to be ending (it was told to stop, and has nothing left that blocks), never from the
    /// thread itself. Later calls return at once.
    func join() {
        guard let h = handle.withLock({ $0.take() }) else { return }
        precondition(pthread_equal(h, pthread_self()) == 0, "thread \(name) cannot join itself")
        pthread_join(h, nil)
    }

    /// ``join()``, or when called on the thread itself (e.g. its owner's last reference went
    /// away there), detaching it: it then ends on its own when the body returns.
    func joinOrDetach() {
        guard let h = handle.withLock({ $0.take() }) else { return }
        if pthread_equal(h, pthread_self()) != 0 {
            pthread_detach(h)
        } else {
            pthread_join(h, nil)
        }
    }
}
