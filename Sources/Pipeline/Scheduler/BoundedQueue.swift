/// A blocking FIFO with a fixed capacity, for hand-offs between dedicated threads (never the cooperative pool).
///
/// `put` blocks while the queue is full (backpressure), `take` blocks while it is empty and returns nil once the
/// queue is closed and drained. Items are batches, so the lock is taken once per batch, not per file. Elements are
/// `Sendable`: what one thread puts, another takes.
final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `items`, `head`, `count` and `closed` are read and written only between `lock.lock()`
    // and `lock.unlock()` (every method below), and the elements themselves are Sendable.
    private let lock = ConditionLock(conditions: 2)
    private static var notEmpty: Int { 0 }
    private static var notFull: Int { 1 }
    private var items: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    let capacity: Int

    /// - Parameter capacity: at least 1 (smaller values are raised to 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
        items = Array(repeating: nil, count: self.capacity)
    }

    /// Appends an item, waiting for room. Returns false (dropping the item) when the queue was closed.
    @discardableResult
    func put(_ element: Element) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while count == capacity && !closed { lock.wait(Self.notFull) }
        if closed { return false }
        items[(head + count) % capacity] = element
        count += 1
        lock.signal(Self.notEmpty)
        return true
    }

    /// Removes the oldest item, waiting for one; nil when the queue is closed and empty.
    func take() -> Element? {
        lock.lock()
        defer { lock.unlock() }
        while count == 0 && !closed { lock.wait(Self.notEmpty) }
        return removeFirst()
    }

    /// Removes the oldest item without waiting; nil when the queue is empty.
    func tryTake() -> Element? {
        lock.lock()
        defer { lock.unlock() }
        return removeFirst()
    }

    /// The oldest item, removed (nil when empty); the caller holds the lock.
    private func removeFirst() -> Element? {
        if count == 0 { return nil }
        let element = items[head]
        items[head] = nil
        head = (head + 1) % capacity
        count -= 1
        lock.signal(Self.notFull)
        return element
    }

    /// No more puts: takers drain what is left, then get nil; blocked putters return false.
    func close() {
        lock.lock()
        closed = true
        lock.broadcast(Self.notEmpty)
        lock.broadcast(Self.notFull)
        lock.unlock()
    }

    /// True once `close()` was called.
    var isClosed: Bool { lock.withLock { closed } }
}
