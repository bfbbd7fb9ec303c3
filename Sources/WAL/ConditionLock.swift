#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex, with a condition variable to sleep on until the value
/// changes. (`Synchronization.Mutex` cannot wait; the WAL's writer thread and the threads of a
/// ``BlockingIOPool`` sleep here until there is work.)
///
/// Invariant: the lock is held only for short, non-blocking work on the value (appending to a
/// queue, taking it, copying a snapshot), never across I/O, so taking it from the cooperative
/// pool is fine.
final class ConditionLock<Value: Sendable>: @unchecked Sendable {
    // Why @unchecked Sendable is safe: `value` is read and written only inside `withLock` and
    // `withLock(waitingUntil:_:)`, which hold `mutex` for the whole access (pthread_cond_wait
    // gives it up only while asleep, before the predicate or body looks at `value` again); the
    // mutex and condition live at fixed heap addresses allocated in `init` and destroyed in
    // `deinit`, when no other thread can hold a reference. `Value: Sendable`, so what goes in on
    // one thread may come out on another.
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init")
        precondition(pthread_cond_init(condition, nil) == 0, "pthread_cond_init")
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deinitialize(count: 1)
        condition.deallocate()
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held.
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Sleeps (with the lock given up) until `ready` is true of the value, then runs `body` with
    /// the lock held. `ready` is checked with the lock held, before sleeping and after every
    /// wake-up (spurious ones included). Blocks the calling thread: only for dedicated threads.
    func withLock<T>(waitingUntil ready: (Value) -> Bool, _ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) { pthread_cond_wait(condition, mutex) }
        return try body(&value)
    }

    /// Wakes one thread sleeping in `withLock(waitingUntil:_:)`, to check its predicate again.
    /// Call after changing the value (with or without the lock held).
    func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes every thread sleeping in `withLock(waitingUntil:_:)`.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
