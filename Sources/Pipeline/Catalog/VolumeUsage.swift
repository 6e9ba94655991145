/// A volume with what the catalog says is in it, for `list volumes` and the job listings: its row, its job's
/// name, and the rows of `files` that point into it.
public struct VolumeUsage: Sendable, Hashable {
    public var volume: VolumeRecord
    /// The Job name of the job that wrote it (empty when that job's row is gone).
    public var jobName: String
    /// Entries with their member in this volume (files, directories, links).
    public var members: Int
    /// The lowest and highest file index among those members (nil for a volume with none).
    public var firstFileIndex: Int64?
    public var lastFileIndex: Int64?
    /// The stored data of those members (without the tar and pax headers that `volume.bytes` includes).
    public var dataBytes: Int64

    public init(
        volume: VolumeRecord, jobName: String, members: Int, firstFileIndex: Int64?, lastFileIndex: Int64?,
        dataBytes: Int64
    ) {
        self.volume = volume
        self.jobName = jobName
        self.members = members
        self.firstFileIndex = firstFileIndex
        self.lastFileIndex = lastFileIndex
        self.dataBytes = dataBytes
    }
}
