#if canImport(Glibc)
    import Glibc
#endif

/// A mutex with condition variables, for threads that block until another thread changes shared state (bounded
/// queues, turn-taking, the Python thread's request queue).
///
/// The pthread objects live on the heap, allocated once in `init` and freed in `deinit`: a `pthread_mutex_t`
/// stored as a class property and passed with `&` has no address Swift promises to keep stable, and a mutex or
/// condition variable must never move while in use. Waits take the condition's index (a queue waits on
/// "not empty" and "not full" separately, so a put wakes only takers).
///
/// Usage: `lock.lock()`, loop on the predicate with `wait(…)`, change state, `signal`/`broadcast`, `unlock()`;
/// or `withLock { … }` for a section that does not wait.
package final class ConditionLock: @unchecked Sendable {
    // @unchecked Sendable: both pointers are set once in `init` and never reassigned; what they point to is a
    // pthread mutex and condition variables, which exist to be used from several threads at once.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let conditions: UnsafeMutablePointer<pthread_cond_t>
    private let conditionCount: Int

    /// - Parameters:
    ///   - conditions: how many condition variables share the mutex.
    ///   - monotonicClock: timed waits measure against `CLOCK_MONOTONIC` (immune to the wall clock being set).
    package init(conditions: Int = 1, monotonicClock: Bool = false) {
        conditionCount = max(1, conditions)
        monotonic = monotonicClock
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.conditions = .allocate(capacity: conditionCount)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        if monotonicClock { pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) }
        for index in 0..<conditionCount {
            (self.conditions + index).initialize(to: pthread_cond_t())
            pthread_cond_init(self.conditions + index, &attributes)
        }
        pthread_condattr_destroy(&attributes)
    }

    private let monotonic: Bool

    deinit {
        for index in 0..<conditionCount { pthread_cond_destroy(conditions + index) }
        conditions.deinitialize(count: conditionCount)
        conditions.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }

    package func unlock() { pthread_mutex_unlock(mutex) }

    package func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Releases the mutex, waits for a signal on condition `index`, and holds the mutex again (the caller holds it
    /// before, and re-checks its predicate after: wake-ups may be spurious).
    package func wait(_ index: Int = 0) {
        pthread_cond_wait(conditions + index, mutex)
    }

    /// Like `wait(_:)`, giving up after `seconds`. Returns false when the time ran out.
    @discardableResult
    package func wait(_ index: Int = 0, seconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(max(0, seconds) * 1e9)
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return pthread_cond_timedwait(conditions + index, mutex, &deadline) != ETIMEDOUT
    }

    /// Wakes one thread waiting on condition `index`.
    package func signal(_ index: Int = 0) { pthread_cond_signal(conditions + index) }

    /// Wakes every thread waiting on condition `index`.
    package func broadcast(_ index: Int = 0) { pthread_cond_broadcast(conditions + index) }
}
