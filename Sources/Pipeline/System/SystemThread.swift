internal import CLinux
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// A thread that cannot be started (`pthread_create` failed: the process is out of threads or memory). Callers
/// turn it into a job error; it is never a crash.
package struct ThreadStartError: Error, Sendable, CustomStringConvertible {
    package var name: String
    package var errno: Errno
    package var description: String { errno.message("cannot start thread \(name)") }
}

/// A dedicated, named thread (Foundation-free): blocking work (file I/O, SQLite, Python, GPG) runs on these,
/// never on the cooperative pool. Joinable unless started `detached`.
package final class WorkerThread: Sendable {
    // pthread_t is an integer handle on Linux: a plain immutable value.
    private let thread: pthread_t
    private let detached: Bool

    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, _ body: @escaping () -> Void) {
            self.name = String(name.prefix(15))
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept, the kernel's limit) with an 8 MiB
    /// stack (Python plugins and deep directory trees want a main thread's stack).
    /// - Throws: `ThreadStartError` when the thread cannot be created.
    package init(name: String, detached: Bool = false, _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        let box = Unmanaged.passRetained(Box(name: name, body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, WorkerThread.stackBytes.load(ordering: .relaxed))
        if detached { pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) }
        var handle = pthread_t()
        let result = pthread_create(&handle, &attributes, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = box.name.withCString { clinux_set_thread_name($0) }
            box.body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        if result != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw ThreadStartError(name: name, errno: Errno(result))
        }
        thread = handle
        self.detached = detached
    }

    /// The stack size of new threads: 8 MiB. Tests raise it past what the address space holds to make
    /// `pthread_create` fail for real.
    package static let stackBytes = Atomic<Int>(8 << 20)

    /// Waits for the thread to end (not for detached threads).
    package func join() {
        guard !detached else { return }
        pthread_join(thread, nil)
    }
}
