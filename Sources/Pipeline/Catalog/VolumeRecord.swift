/// One row of the `volumes` table: a tar file a job wrote (`<Job name>-<JobId>-<NNNN>.tar`, decision D4).
public struct VolumeRecord: Sendable, Hashable {
    /// 0 until ``CatalogStore/addVolume(_:)`` returns the real id.
    public var id: Int64
    public var jobID: JobID
    /// The file name, e.g. `nightly-42-0001.tar`.
    public var name: String
    /// The full path of the volume file when it was written.
    public var path: String
    /// 1 for the job's first volume, then 2, 3, …
    public var sequence: Int64
    /// Bytes written so far.
    public var bytes: Int64
    /// `open` (recorded before its first byte; the job is still writing it, or died while it did), `full` (the
    /// writer moved on to the next volume) or `closed`. Catalogs of older builds may say `writing` for `open`.
    public var status: String

    public init(
        id: Int64 = 0, jobID: JobID, name: String, path: String, sequence: Int64, bytes: Int64 = 0,
        status: String = "open"
    ) {
        self.id = id
        self.jobID = jobID
        self.name = name
        self.path = path
        self.sequence = sequence
        self.bytes = bytes
        self.status = status
    }
}
