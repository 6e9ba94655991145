internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A blocking FIFO with a fixed capacity, for hand-offs between dedicated threads (never the cooperative pool).
///
/// `put` blocks while the queue is full (backpressure), `take` blocks while it is empty and returns nil once the
/// queue is closed and drained. Items are batches, so the lock is taken once per batch, not per file.
final class BoundedQueue<Element>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var notEmpty = pthread_cond_t()
    private var notFull = pthread_cond_t()
    private var items: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        items = Array(repeating: nil, count: capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&notEmpty, nil)
        pthread_cond_init(&notFull, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&notEmpty)
        pthread_cond_destroy(&notFull)
    }

    /// Appends an item, waiting for room. Returns false (dropping the item) when the queue was closed.
    @discardableResult
    func put(_ element: Element) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while count == capacity && !closed { pthread_cond_wait(&notFull, &mutex) }
        if closed { return false }
        items[(head + count) % capacity] = element
        count += 1
        pthread_cond_signal(&notEmpty)
        return true
    }

    /// Removes the oldest item, waiting for one; nil when the queue is closed and empty.
    func take() -> Element? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while count == 0 && !closed { pthread_cond_wait(&notEmpty, &mutex) }
        if count == 0 { return nil }
        let element = items[head]
        items[head] = nil
        head = (head + 1) % capacity
        count -= 1
        pthread_cond_signal(&notFull)
        return element
    }

    /// No more puts: takers drain what is left, then get nil; blocked putters return false.
    func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&notEmpty)
        pthread_cond_broadcast(&notFull)
        pthread_mutex_unlock(&mutex)
    }
}

/// A started thread that can be joined (Foundation-free).
final class WorkerThread: @unchecked Sendable {
    private var thread = pthread_t()
    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, _ body: @escaping () -> Void) {
            self.name = String(name.prefix(15))
            self.body = body
        }
    }

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name: name, body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 8 << 20)
        let result = pthread_create(&thread, &attributes, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = box.name.withCString { clinux_set_thread_name($0) }
            box.body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        precondition(result == 0, "pthread_create failed: \(result)")
        _ = thread
    }

    func join() {
        pthread_join(thread, nil)
    }
}
