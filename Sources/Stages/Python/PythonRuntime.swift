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
    // @unchecked Sendable: every stored `var` below is read and written only while `lock` is held (the Python
    // thread included), and a request's `outcome` is written by the Python thread before it sets `done` under the
    // lock and read by the waiter only after it saw `done` under the lock.
    static let shared = PythonRuntime()

    /// The interpreter binary the isolated configuration names as `sys.executable`; its prefix (`/usr`) is where
    /// the standard library is found, whatever PYTHONHOME, PYTHONPATH or a pyenv `python3` on PATH say.
    static let executable = "/usr/bin/python3.11"

    /// One unit of work for the Python thread.
    private final class Request: @unchecked Sendable {
        // @unchecked Sendable: `body` runs on the Python thread only; `done` is guarded by the runtime's `lock`.
        let body: () -> Void
        var done = false
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Guards the state below; its one condition signals "queue or request state changed". Timed waits use the
    /// monotonic clock.
    private let lock = ConditionLock(monotonicClock: true)
    private var queue: [Request] = []
    private var started = false
    private var initializationError: String?
    /// Set when a call did not return in time: what it was.
    private var wedgedCall: String?
    /// The plugin call running now (monotonic seconds when it began, the entry point and the file), nil between
    /// calls. The description is only built when the call times out.
    private var runningCall: (started: Double, function: String, path: [UInt8]?)?

    private init() {}

    /// Runs `body` on the Python thread and waits for it. `timeout` bounds each plugin call `body` makes (marked by
    /// `beginCall`/`endCall`), not the time spent queued behind other work.
    func perform<T>(timeout: Double, _ body: @escaping () throws -> T) throws -> T {
        var outcome: Result<T, any Error>?
        let request = Request { outcome = Result { try body() } }
        lock.lock()
        if let wedgedCall {
            lock.unlock()
            throw PythonPluginError.wedged(wedgedCall)
        }
        if !started {
            if let problem = startThread() {
                lock.unlock()
                throw PythonPluginError.unavailable(problem)
            }
        }
        queue.append(request)
        lock.broadcast()
        while !request.done {
            if let wedgedCall {
                lock.unlock()
                throw PythonPluginError.wedged(wedgedCall)
            }
            if let running = runningCall, Clock.monotonic() - running.started > timeout {
                let description =
                    running.path.map { "\(running.function)(\(String(decoding: $0, as: UTF8.self)))" } ?? running.function
                wedgedCall = description
                lock.broadcast()
                lock.unlock()
                throw PythonPluginError.timeout(call: description, seconds: timeout)
            }
            lock.wait(seconds: min(max(timeout / 4, 0.01), 0.25))
        }
        lock.unlock()
        return try outcome!.get()
    }

    /// Runs `body` on the Python thread without waiting for it (ending an interpreter whose owner went away).
    /// Dropped when the runtime is wedged: the work then never runs (the interpreter is leaked).
    func detach(_ body: @escaping () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard wedgedCall == nil else { return }
        // No thread to run it: the work is dropped (the interpreter it would end is leaked).
        if !started && startThread() != nil { return }
        queue.append(Request(body))
        lock.broadcast()
    }

    /// Marks the start of one plugin call (on the Python thread), for the per-call timeout. Returns false, and marks
    /// nothing, once an earlier call did not return in time: nothing else may be started in Python then.
    @discardableResult
    func beginCall(_ function: String, path: [UInt8]? = nil) -> Bool {
        let entry = (Clock.monotonic(), function, path)
        lock.lock()
        defer { lock.unlock() }
        guard wedgedCall == nil else { return false }
        runningCall = entry
        return true
    }

    func endCall() {
        lock.withLock { runningCall = nil }
    }

    /// Initialization failure (on the Python thread), nil once Python runs.
    var initializationProblem: String? { lock.withLock { initializationError } }

    /// Starts the Python thread (with the lock held; detached, with a main thread's 8 MiB stack: plugins may
    /// recurse deeply). Returns why it could not start, nil once it runs; a later request tries again.
    private func startThread() -> String? {
        do {
            _ = try WorkerThread(name: "op-python", detached: true) { [self] in run() }
            started = true
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func run() {
        // A fatal signal during a plugin call names the plugin and file and ends with "failed" (3); a handler
        // that cannot be installed only loses that line.
        _ = opfd_crash_guard_install()
        var error = opfd_error()
        var callbacks = PythonCallbacks.table
        if opfd_runtime_initialize(PythonRuntime.executable, &callbacks, &error) != 0 {
            let problem = error.text.map { String(cString: $0) } ?? "cannot initialize Python"
            lock.withLock { initializationError = problem }
        }
        opfd_error_clear(&error)
        while true {
            lock.lock()
            while queue.isEmpty { lock.wait() }
            let request = queue.removeFirst()
            lock.unlock()
            request.body()
            lock.lock()
            request.done = true
            runningCall = nil
            // After a timeout every waiter has given up: what is still queued belongs to jobs that are gone.
            let dropped = wedgedCall != nil ? queue : []
            if wedgedCall != nil { queue.removeAll() }
            lock.broadcast()
            lock.unlock()
            // `request` and `dropped` are released here, outside the lock: their captures' deinit may call
            // `detach`, which takes it.
            _ = dropped
        }
    }
}
