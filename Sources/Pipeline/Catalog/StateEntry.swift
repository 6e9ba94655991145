/// What a restore plans with for one `files` row: its key, path and the few fields that decide how and when it
/// is restored (kind, whether a stage chain processed it, the inode a hard link names) — no digests, offsets or
/// stage metadata (``FileRecord`` has all of them).
public struct StateEntry: Sendable, Hashable {
    public var jobID: JobID
    public var fileIndex: Int64
    public var path: [UInt8]
    public var kind: EntryKind
    /// A stage chain processed the entry (``FileRecord/chain`` is not empty).
    public var chained: Bool
    var device: UInt64
    var inode: UInt64
    /// Symbolic link target, or for ``EntryKind/hardLink`` the path of the first name of the inode.
    public var linkTarget: [UInt8]?

    init(
        jobID: JobID, fileIndex: Int64, path: [UInt8], kind: EntryKind, chained: Bool, device: UInt64,
        inode: UInt64, linkTarget: [UInt8]?
    ) {
        self.jobID = jobID
        self.fileIndex = fileIndex
        self.path = path
        self.kind = kind
        self.chained = chained
        self.device = device
        self.inode = inode
        self.linkTarget = linkTarget
    }

    /// The entry of a full row.
    init(_ record: FileRecord) {
        self.init(
            jobID: record.jobID, fileIndex: record.fileIndex, path: record.path, kind: record.kind,
            chained: !record.chain.isEmpty, device: record.device, inode: record.inode, linkTarget: record.linkTarget)
    }
}
