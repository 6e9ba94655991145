import BareosFD
import CLinux
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// The embedded CPython of this process (Debian's libpython3.11): initialized once, on its own thread, and that
/// thread is the only one that ever runs Python.
///
/// Worker threads hand it whole batches (`perform`) and wait; the GIL is never taken per item from several
/// threads (the engineering notes measured contended GIL hand-offs per call 11x slower, pitfall P3). A plugin
/// call that does not return within its timeout cannot be interrupted in-process: the waiting thread gives up,
/// the runtime is marked *wedged* (every later request fails at once), and the job is aborted cleanly (D6).
final class PythonRuntime: @unchecked Sendable {
    static let shared = PythonRuntime()

    /// The interpreter binary the isolated configuration names as `sys.executable`; its prefix (`/usr`) is where
    /// the standard library is found, whatever PYTHONHOME, PYTHONPATH or a pyenv `python3` on PATH say.
    static let executable = "/usr/bin/python3.11"

    /// One unit of work for the Python thread.
    private final class Request: @unchecked Sendable {
        let body: () -> Void
        var done = false
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var queue: [Request] = []
    private var started = false
    private var initializationError: String?
    /// Set when a call did not return in time: what it was.
    private var wedgedCall: String?
    /// The plugin call running now (monotonic seconds when it began, the entry point and the file), nil between
    /// calls. The description is only built when the call times out.
    private var runningCall: (started: Double, function: String, path: [UInt8]?)?

    private init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Runs `body` on the Python thread and waits for it. `timeout` bounds each plugin call `body` makes (marked by
    /// `beginCall`/`endCall`), not the time spent queued behind other work.
    func perform<T>(timeout: Double, _ body: @escaping () throws -> T) throws -> T {
        var outcome: Result<T, any Error>?
        let request = Request { outcome = Result { try body() } }
        pthread_mutex_lock(&mutex)
        if let wedgedCall {
            pthread_mutex_unlock(&mutex)
            throw PythonPluginError.wedged(wedgedCall)
        }
        if !started {
            started = true
            startThread()
        }
        queue.append(request)
        pthread_cond_broadcast(&condition)
        while !request.done {
            if let wedgedCall {
                pthread_mutex_unlock(&mutex)
                throw PythonPluginError.wedged(wedgedCall)
            }
            if let running = runningCall, Clock.monotonic() - running.started > timeout {
                let description =
                    running.path.map { "\(running.function)(\(String(decoding: $0, as: UTF8.self)))" } ?? running.function
                wedgedCall = description
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
                throw PythonPluginError.timeout(call: description, seconds: timeout)
            }
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let slice = min(max(timeout / 4, 0.01), 0.25)
            let nanoseconds = Int(deadline.tv_nsec) + Int(slice * 1e9)
            deadline.tv_sec += nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            pthread_cond_timedwait(&condition, &mutex, &deadline)
        }
        pthread_mutex_unlock(&mutex)
        return try outcome!.get()
    }

    /// Runs `body` on the Python thread without waiting for it (ending an interpreter whose owner went away).
    /// Dropped when the runtime is wedged: the work then never runs (the interpreter is leaked).
    func detach(_ body: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard wedgedCall == nil else { return }
        if !started {
            started = true
            startThread()
        }
        queue.append(Request(body))
        pthread_cond_broadcast(&condition)
    }

    /// Marks the start of one plugin call (on the Python thread), for the per-call timeout. Returns false, and marks
    /// nothing, once an earlier call did not return in time: nothing else may be started in Python then.
    @discardableResult
    func beginCall(_ function: String, path: [UInt8]? = nil) -> Bool {
        let entry = (Clock.monotonic(), function, path)
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard wedgedCall == nil else { return false }
        runningCall = entry
        return true
    }

    func endCall() {
        pthread_mutex_lock(&mutex)
        runningCall = nil
        pthread_mutex_unlock(&mutex)
    }

    /// Initialization failure (on the Python thread), nil once Python runs.
    var initializationProblem: String? { initializationError }

    private func startThread() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        // Plugins may recurse deeply (json, re, their own code); give the thread the stack of a main thread.
        pthread_attr_setstacksize(&attributes, 8 << 20)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { argument in
            let runtime = Unmanaged<PythonRuntime>.fromOpaque(argument!).takeRetainedValue()
            runtime.run()
            return nil
        }, context)
        pthread_attr_destroy(&attributes)
        if result != 0 { fatalError("cannot start the Python thread: \(String(cString: strerror(result)))") }
    }

    private func run() {
        _ = clinux_set_thread_name("op-python")
        var error = opfd_error()
        var callbacks = PythonCallbacks.table
        if opfd_runtime_initialize(PythonRuntime.executable, &callbacks, &error) != 0 {
            initializationError = error.text.map { String(cString: $0) } ?? "cannot initialize Python"
        }
        opfd_error_clear(&error)
        while true {
            pthread_mutex_lock(&mutex)
            while queue.isEmpty { pthread_cond_wait(&condition, &mutex) }
            let request = queue.removeFirst()
            pthread_mutex_unlock(&mutex)
            request.body()
            pthread_mutex_lock(&mutex)
            request.done = true
            runningCall = nil
            // After a timeout every waiter has given up: what is still queued belongs to jobs that are gone.
            let dropped = wedgedCall != nil ? queue : []
            if wedgedCall != nil { queue.removeAll() }
            pthread_cond_broadcast(&condition)
            pthread_mutex_unlock(&mutex)
            // `request` and `dropped` are released here, outside the lock: their captures' deinit may call
            // `detach`, which takes it.
            _ = dropped
        }
    }
}
