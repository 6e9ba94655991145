/// The job's catalog: handed back to the caller after the run, used by the caller's thread before and after the
/// threads run, and written by the catalog thread in between. It moves between them as a `sending` value through
/// `catalogSlot` (a ``Parcel``), so the compiler checks that no two threads hold it at once.
extension BackupJob {
    /// The catalog back from a job that has returned from ``run()`` (or was never run), as the type it was given
    /// as; nil when it is another type or was already taken.
    public func releaseCatalog<Catalog: CatalogStore>(as type: Catalog.Type = Catalog.self) -> sending Catalog? {
        let parcel = catalogSlot.withLock { $0 }
        guard parcel.withValue({ $0 is Catalog }) else { return nil }
        return parcel.take() as? Catalog
    }

    /// Runs `body` with the catalog on the calling thread: the caller's, while no thread of the job runs.
    func withCatalog<T: Sendable>(_ body: (any CatalogStore) throws -> T) throws -> T {
        try catalogSlot.withLock { $0 }.withValue { (catalog) throws -> T in
            guard let catalog else { throw BackupError("the job's catalog was already handed back") }
            return try body(catalog)
        }
    }

    // MARK: - Catalog thread

    struct CatalogBatch {
        var files: [FileRecord] = []
        var messages: [JobMessage] = []
        /// Volumes opened since the previous batch (local sequence numbers), in order.
        var newVolumes: [(sequence: Int, record: VolumeRecord)] = []
        /// Volume size/status updates (local sequence, bytes, status).
        var volumeUpdates: [(sequence: Int, bytes: Int64, status: String)] = []
        /// Volume to make durable before the rows that point into it are committed.
        var sync: VolumeSync?
        /// Told whether the batch was committed (the writer waits for a new volume's row before writing into it).
        var recorded: BoundedQueue<Bool>?
    }

    /// Writes the batches into the catalog it owns until the queue closes, then hands the catalog back.
    func writeCatalog(
        _ catalog: sending any CatalogStore, from queue: BoundedQueue<CatalogBatch>, jobID: JobID
    ) -> sending any CatalogStore {
        var volumeIDs: [Int: Int64] = [:]
        // With statistics: this thread's time per batch (fsync and commit), not its waits for the writer.
        var statistics = settings.collectStatistics ? JobStatistics() : nil
        defer { if let statistics { coordinator.merge(statistics: statistics) } }
        while var batch = queue.take() {
            let started = statistics == nil ? 0 : Clock.nanoseconds()
            defer { statistics?.catalogNanoseconds &+= Clock.nanoseconds() &- started }
            if fatalMessage != nil {
                _ = batch.recorded?.put(false)
                continue
            }
            do {
                if let sync = batch.sync { try sync.sync() }
                for (sequence, record) in batch.newVolumes {
                    volumeIDs[sequence] = try catalog.addVolume(record)
                }
                for update in batch.volumeUpdates {
                    if let id = volumeIDs[update.sequence] {
                        try catalog.updateVolume(id: id, bytes: update.bytes, status: update.status)
                    }
                }
                for index in batch.files.indices {
                    if let local = batch.files[index].volumeID { batch.files[index].volumeID = volumeIDs[Int(local)] }
                }
                try catalog.insert(files: batch.files, messages: batch.messages)
                _ = batch.recorded?.put(true)
            } catch {
                fail("catalog write failed: \(error)")
                _ = batch.recorded?.put(false)
            }
            let counts = JobMessage.severityCounts(batch.messages)
            if counts != (0, 0) { withLock { $0.count(counts) } }
        }
        return catalog
    }
}
