/// The small interface every catalog implements: ``DatabaseCatalog``, on SQLite or on PostgreSQL (for sites where
/// many hosts share one catalog).
///
/// One writer at a time: the caller serialises the writing calls (``beginJob(_:)``, ``addVolume(_:)``,
/// ``updateVolume(id:bytes:status:)``, ``insert(files:messages:)``, ``finishJob(_:)``) on one dedicated thread, and
/// holds a ``JobLock`` on the catalog for the job. Reads may come from other instances (other connections) at any
/// time and see only committed data. An instance is not `Sendable`: use it from one thread at a time.
///
/// ## Topics
///
/// ### Writing a job
/// - ``beginJob(_:)``
/// - ``addVolume(_:)``
/// - ``updateVolume(id:bytes:status:)``
/// - ``insert(files:messages:)``
/// - ``finishJob(_:)``
///
/// ### Reading
/// - ``job(_:)``
/// - ``jobs(name:)``
/// - ``files(job:)``
/// - ``forEachFile(job:_:)``
/// - ``forEachStateEntry(jobs:_:)``
/// - ``files(job:indexes:)``
/// - ``messages(job:)``
/// - ``volumes(job:)``
public protocol CatalogStore: AnyObject {
    /// Records a new job (status usually ``JobStatus/running``) and returns its id. A job whose `id` is not
    /// ``JobID/unassigned`` keeps that id (rebuilding a catalog from volumes); it is an error if it is taken.
    func beginJob(_ job: JobRecord) throws -> JobID

    /// Records a new volume of a job and returns its id.
    func addVolume(_ volume: VolumeRecord) throws -> Int64

    /// Sets a volume's size and status (`open`, `full`, `closed`).
    func updateVolume(id: Int64, bytes: Int64, status: String) throws

    /// Adds file records and job messages in ONE transaction: all of them or none. Callers batch (≥ 1,000 rows
    /// per call); one call per file is many times slower.
    func insert(files: [FileRecord], messages: [JobMessage]) throws

    /// Records what stages keep with a job (`StageContext.recordJobData`), in one transaction.
    func insertJobData(job: JobID, _ data: [JobDatum]) throws

    /// What the job's `files` rows count (a failed job's summary says what the catalog holds).
    func fileCounts(job: JobID) throws -> CatalogFileCounts

    /// Records the job's final status, counts and end time (the fields of `job` other than its identity).
    func finishJob(_ job: JobRecord) throws

    /// Removes a job with its files, messages and volume rows in one transaction (prune); its id is never reused.
    func deleteJob(_ id: JobID) throws

    func job(_ id: JobID) throws -> JobRecord?

    /// Jobs, newest first (by start time, then id); all of them when `name` is nil.
    func jobs(name: String?) throws -> [JobRecord]

    /// The job's file records in `fileIndex` order.
    func files(job: JobID) throws -> [FileRecord]

    /// Calls `body` with each file record of the job in `fileIndex` order, without holding them all in memory.
    /// An error thrown by `body` stops the iteration and is rethrown.
    func forEachFile(job: JobID, _ body: (FileRecord) throws -> Void) throws

    /// Calls `body` with the entry of every path in the state of a chain (``JobChain/state(asOf:in:)``: per path
    /// the newest `stored` or `deleted` row of `jobs`, newest meaning the later job, then the higher file index;
    /// kept only when it is `stored`), in (JobId, file index) order, without holding them in memory. `jobs` are
    /// the chain's, oldest first (ascending JobIds, as ``JobChain/jobs(asOf:in:)`` gives them). An error thrown
    /// by `body` stops the iteration and is rethrown.
    func forEachStateEntry(jobs: [JobID], _ body: (StateEntry) throws -> Void) throws

    /// The job's rows with these file indexes, ascending, in file index order (indexes with no row are left out).
    func files(job: JobID, indexes: [Int64]) throws -> [FileRecord]

    /// Every row of one path in any job, oldest job first (`list versions`).
    func versions(of path: [UInt8]) throws -> [FileRecord]

    /// The job's messages in the order they were inserted.
    func messages(job: JobID) throws -> [JobMessage]

    /// The job's volumes by sequence.
    func volumes(job: JobID) throws -> [VolumeRecord]

    /// What stages recorded with the job, by key.
    func jobData(job: JobID) throws -> [String: [UInt8]]

    /// The source SHA-256 of every content the search index holds (the `index` stage extracts none of them again).
    func indexedContent() throws -> IndexedContentSet

    /// Closes the connection. Calling any other method afterwards is an error; closing twice does nothing.
    func close() throws
}

extension CatalogStore {
    public func files(job: JobID) throws -> [FileRecord] {
        var records: [FileRecord] = []
        try forEachFile(job: job) { records.append($0) }
        return records
    }
}
