/// A value behind a lock that threads can wait on: `update` changes it and wakes every waiter, `wait(until:)`
/// blocks until a predicate holds. For turn-taking and counters a thread must block on (never poll with sleeps).
final class WaitableState<State: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `state` is read and written only between `lock.lock()` and `lock.unlock()` below, and
    // State is Sendable, so the copies handed out may cross threads.
    private let lock = ConditionLock()
    private var state: State

    init(_ initial: State) {
        state = initial
    }

    /// The current value.
    var value: State { lock.withLock { state } }

    /// Changes the value and wakes every waiting thread.
    func update(_ body: (inout State) -> Void) {
        lock.lock()
        body(&state)
        lock.broadcast()
        lock.unlock()
    }

    /// Blocks until `ready` holds, then changes the value (and wakes every waiting thread) and returns what `body`
    /// returns: a take from a queue.
    func wait<R>(until ready: (State) -> Bool, then body: (inout State) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        while !ready(state) { lock.wait() }
        let result = body(&state)
        lock.broadcast()
        return result
    }

    /// Blocks until `ready` holds (checked under the lock, again after every `update`).
    func wait(until ready: (State) -> Bool) {
        lock.lock()
        while !ready(state) { lock.wait() }
        lock.unlock()
    }
}
