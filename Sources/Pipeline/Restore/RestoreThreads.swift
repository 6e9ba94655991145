#if canImport(Glibc)
import Glibc
#endif

/// The worker threads of a restore: plain threads (file creation blocks in the kernel; it never runs on the
/// cooperative pool) that take batches of full rows from a bounded queue the calling thread fills from the
/// catalog (so at most a few batches of rows are in memory), each with a ``RestoreWorker`` of its own; their
/// outcomes are merged when all are joined.
enum RestoreThreads {
    /// Entries one batch holds at most: large enough that taking a batch costs nothing per entry, small enough
    /// that the threads stay busy to the end.
    static let batchLimit = 256
    /// Batches queued for the threads, per thread: enough that none waits while the calling thread reads the
    /// next rows from the catalog.
    static let queuedPerThread = 2

    /// Whether the worker threads restore this entry. Directories are the calling thread's (made before the
    /// threads start), and so are files whose chain has a stage that does not restore concurrently: it may take
    /// the file over and write it itself (a Bareos plugin's `plugin_io` handles one file at a time, in catalog
    /// order). Compressed and gpg-encrypted files go to the threads. A chain that cannot be built stays on the
    /// calling thread, which reports why.
    static func isThreaded(_ record: FileRecord, builder: StageChainBuilder) -> Bool {
        guard record.kind != .directory else { return false }
        if record.chain.isEmpty { return true }
        guard let chain = try? builder.chain(for: record.chain) else { return false }
        return chain.stages.allSatisfy(\.restoresConcurrently)
    }

    /// The batches of a selection: runs of threaded entries that share a parent directory, at most
    /// ``batchLimit`` long. Only ranges are kept, not entries.
    static func batches(_ records: ArraySlice<FileRecord>, builder: StageChainBuilder) -> [Range<Int>] {
        var batches: [Range<Int>] = []
        var start: Int?
        var parent: ArraySlice<UInt8> = []
        func close(at end: Int) {
            if let first = start { batches.append(first..<end) }
            start = nil
        }
        for index in records.indices {
            let record = records[index]
            if !isThreaded(record, builder: builder) {
                close(at: index)
                continue
            }
            let slash = record.path.lastIndex(of: UInt8(ascii: "/")) ?? 0
            let directory = record.path[..<slash]
            if let first = start, directory != parent || index - first >= batchLimit { close(at: index) }
            if start == nil {
                start = index
                parent = directory
            }
        }
        close(at: records.endIndex)
        return batches
    }

    /// Restores the batches `feed` puts into the queue on `count` threads (`feed` runs on the calling thread and
    /// may restore entries itself meanwhile); returns each thread's outcome. The queue is closed and the threads
    /// joined whatever `feed` does; an error it throws is rethrown after that.
    static func run(
        count: Int, environment: RestoreEnvironment, target: RestoreTarget,
        feed: (BoundedQueue<[FileRecord]>) throws -> Void
    ) throws -> [RestoreOutcome] {
        let queue = BoundedQueue<[FileRecord]>(capacity: count * queuedPerThread)
        let outcomes = Locked<[Int: RestoreOutcome]>([:])
        let root = target.root
        // Every descriptor first: a failure then starts no thread at all.
        var descriptors: [Int32] = []
        for _ in 0..<max(1, count) {
            do {
                descriptors.append(try target.duplicateRoot())
            } catch {
                for descriptor in descriptors { close(descriptor) }
                throw error
            }
        }
        var threads: [WorkerThread] = []
        for (offset, descriptor) in descriptors.enumerated() {
            let index = offset + 1
            let started: WorkerThread
            do {
                started = try WorkerThread(name: "op-restore\(index)") {
                    let worker: RestoreWorker
                    do {
                        worker = try RestoreWorker(
                            environment: environment, target: RestoreTarget(root: root, adopting: descriptor),
                            index: index)
                    } catch {
                        close(descriptor)
                        environment.cancellation.cancel(reason: "\(error)")
                        while queue.take() != nil {}  // the calling thread never waits on a full queue
                        return
                    }
                    // Once cancelled, batches are still taken (and dropped) until the queue is closed.
                    while let batch = queue.take() {
                        for record in batch {
                            if environment.cancellation.isCancelled { break }
                            worker.restore(record)
                        }
                    }
                    let outcome = worker.outcome
                    outcomes.withLock { $0[index] = outcome }
                }
            } catch {
                // The process is out of threads: the ones started stop, nothing else is restored.
                environment.cancellation.cancel(reason: "\(error)")
                queue.close()
                for unused in descriptors[offset...] { close(unused) }
                for thread in threads { thread.join() }
                throw RestoreError("\(error)")
            }
            threads.append(started)
        }
        let failure: (any Error)?
        do {
            try feed(queue)
            failure = nil
        } catch {
            failure = error
        }
        queue.close()
        for thread in threads { thread.join() }
        if let failure { throw failure }
        // In thread order, so messages come out the same way every time for the same interleaving of batches.
        return outcomes.withLock { outcomes in outcomes.keys.sorted().compactMap { outcomes[$0] } }
    }
}
