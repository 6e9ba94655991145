/// One entry as it travels through a stage chain during a backup.
public struct FileItem: Sendable {
    /// The selected entry: path (bytes), kind, stat data, link target, Options block and chain.
    public var entry: SelectedEntry
    /// The job's file index of this entry (0-based, in walk order).
    public var fileIndex: Int64
    /// Metadata stages attach to the file's catalog record (`stage_metadata`), keyed `stage.key`.
    public var metadata: [String: String]

    public init(entry: SelectedEntry, fileIndex: Int64, metadata: [String: String] = [:]) {
        self.entry = entry
        self.fileIndex = fileIndex
        self.metadata = metadata
    }

    public var path: [UInt8] { entry.path }
    public var kind: EntryKind { entry.kind }
    public var stat: FileStat { entry.stat }
}

/// One stored file as restore presents it to the inverse stages.
public struct RestoreItem: Sendable {
    /// The original absolute path (bytes).
    public var path: [UInt8]
    public var kind: EntryKind
    /// Size of the original (source) bytes.
    public var size: UInt64
    /// What the stages attached at backup time (`stage.key` → value).
    public var metadata: [String: String]

    /// Stat data recorded at backup (mode, owner, times; what a plugin's `set_file_attributes` applies).
    public var stat: FileStat
    /// The job's file index of the entry.
    public var fileIndex: Int64
    /// The job that stored this version (its `StageContext.jobData` is the stage's job data).
    public var jobID: Int64
    /// Symlink target or first name of a hard link, as recorded.
    public var linkTarget: [UInt8]?

    public init(
        path: [UInt8], kind: EntryKind, size: UInt64, metadata: [String: String], stat: FileStat? = nil,
        fileIndex: Int64 = 0, linkTarget: [UInt8]? = nil, jobID: Int64 = 0
    ) {
        self.path = path
        self.kind = kind
        self.size = size
        self.metadata = metadata
        self.stat =
            stat
            ?? FileStat(
                dev: 0, ino: 0, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, size: size, blocks: 0,
                atime: .init(seconds: 0, nanoseconds: 0), mtime: .init(seconds: 0, nanoseconds: 0),
                ctime: .init(seconds: 0, nanoseconds: 0))
        self.fileIndex = fileIndex
        self.linkTarget = linkTarget
        self.jobID = jobID
    }
}
