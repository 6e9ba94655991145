import Synchronization

/// Live counters of a running job, read by the progress printer from another thread.
public final class ProgressCounters: Sendable {
    public let files = Atomic<Int>(0)
    public let bytes = Atomic<UInt64>(0)
    public let entries = Atomic<Int>(0)
    public let errors = Atomic<Int>(0)
    /// Totals from the scanner pre-pass (0 until it finished).
    public let totalFiles = Atomic<Int>(0)
    public let totalBytes = Atomic<UInt64>(0)
    public let totalsKnown = Atomic<Bool>(false)
    private let current = Locked<[UInt8]>([])

    public init() {}

    public var currentPath: [UInt8] {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// Set from a signal handler (Ctrl-C) or by an error policy; every thread of a job checks it between batches.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    private let reasonStore = Locked<String?>(nil)

    public init() {}

    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    public var reason: String? { reasonStore.withLock { $0 } }

    public func cancel(reason: String) {
        reasonStore.withLock { if $0 == nil { $0 = reason } }
        flag.store(true, ordering: .relaxed)
    }
}
