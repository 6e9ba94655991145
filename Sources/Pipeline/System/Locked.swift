/// A value behind a pthread mutex: `withLock` is the only way to it.
///
/// The scheduler's shared state uses this rather than `Synchronization.Mutex`: on Linux `Mutex` is a futex taken
/// with raw system calls, which the thread sanitizer cannot see, so every access it guards is reported as a data
/// race and real races drown among them. A pthread mutex is intercepted, so `Tests/tsan.sh` checks this state.
package final class Locked<State: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `state` is read and written only inside `withLock`, between `lock.lock()` and
    // `lock.unlock()`, and State is Sendable, so what `withLock` returns may cross threads.
    private let lock = ConditionLock()
    private var state: State

    package init(_ initial: State) {
        state = initial
    }

    package func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}
