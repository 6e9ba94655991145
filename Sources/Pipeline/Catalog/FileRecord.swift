/// What a job did with one entry.
public enum FileStatus: String, Sendable {
    /// The entry is in a volume (or, for directories, links and specials, fully described by this row).
    case stored
    /// Reading or a stage failed; ``FileRecord/error`` says why and a job message has the details.
    case failed
    /// A stage or an option decided not to store it.
    case skipped
    /// Accurate mode: the entry existed in the previous state of the FileSet and is gone now.
    case deleted
}

/// One row of the `files` table: everything needed to restore one entry of one job.
///
/// Names and link targets are bytes (decision D7). Unsigned stat values are stored in SQLite's signed 64-bit
/// integers by bit pattern, so they round-trip exactly.
public struct FileRecord: Sendable, Hashable {
    public typealias Timestamp = FileStat.Timestamp

    public var jobID: JobID
    /// Order within the job, from 0 or 1 as the writer counts; unique per job.
    public var fileIndex: Int64
    /// The absolute path, as bytes.
    public var path: [UInt8]
    public var kind: EntryKind
    public var status: FileStatus
    /// The full `st_mode` (type and permission bits).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// The owner's name at backup time (for restoring by name), if it had one.
    public var userName: String?
    public var groupName: String?
    /// `st_size` of the source entry, in bytes.
    public var size: UInt64
    public var atime: Timestamp
    public var mtime: Timestamp
    public var ctime: Timestamp
    var inode: UInt64
    /// `st_dev` of the file system the entry was on.
    var device: UInt64
    /// `st_rdev`: the device number of a character or block device (needed to recreate it).
    public var rdev: UInt64
    public var nlink: UInt64
    /// Symbolic link target, or for ``EntryKind/hardLink`` the path of the first name of the inode.
    public var linkTarget: [UInt8]?
    /// SHA-256 of the bytes the source gave (what restore must reproduce), 32 bytes.
    public var sourceSHA256: [UInt8]?
    /// SHA-256 of the bytes written to the volume (what `verify` checks without keys), 32 bytes.
    var storedSHA256: [UInt8]?
    /// The Options `Signature` algorithm (`MD5`, `SHA1`, `SHA256`, `SHA512`, `XXH128`), if one was asked for.
    var signatureAlgorithm: String?
    public var signature: [UInt8]?
    /// The volume that holds the data (see ``VolumeRecord``).
    var volumeID: Int64?
    /// Byte offset of the entry's first tar header in the volume.
    var headerOffset: Int64?
    /// Byte offset of the entry's data in the volume.
    var dataOffset: Int64?
    /// Bytes of data in the volume (after compression and encryption), without tar headers or padding.
    var storedLength: Int64?
    /// The compression applied before storing, if any (`gzip`, `lz4`, …).
    public var compression: String?
    /// The data was stored sparse (holes omitted).
    public var sparse: Bool
    /// The stage strings that processed the entry, in chain order.
    public var chain: [String]
    /// What stages recorded about the entry, keyed by stage name (e.g. an encryption key fingerprint).
    var stageMetadata: [String: String]
    /// Index of the Options block that matched, or nil when none matched.
    public var block: Int?
    /// Why the entry failed or was skipped.
    public var error: String?
    /// The file's entry in the search index (made by the `index` stage); the catalog writes it with the row. Not
    /// read back with the file: search queries read the index.
    public var searchDocument: SearchDocument?

    public init(
        jobID: JobID, fileIndex: Int64, path: [UInt8], kind: EntryKind, status: FileStatus = .stored,
        mode: UInt32 = 0, uid: UInt32 = 0, gid: UInt32 = 0, userName: String? = nil, groupName: String? = nil,
        size: UInt64 = 0, atime: Timestamp = Timestamp(seconds: 0, nanoseconds: 0),
        mtime: Timestamp = Timestamp(seconds: 0, nanoseconds: 0),
        ctime: Timestamp = Timestamp(seconds: 0, nanoseconds: 0),
        inode: UInt64 = 0, device: UInt64 = 0, rdev: UInt64 = 0, nlink: UInt64 = 0, linkTarget: [UInt8]? = nil,
        sourceSHA256: [UInt8]? = nil, storedSHA256: [UInt8]? = nil, signatureAlgorithm: String? = nil,
        signature: [UInt8]? = nil, volumeID: Int64? = nil, headerOffset: Int64? = nil, dataOffset: Int64? = nil,
        storedLength: Int64? = nil, compression: String? = nil, sparse: Bool = false, chain: [String] = [],
        stageMetadata: [String: String] = [:], block: Int? = nil, error: String? = nil
    ) {
        self.jobID = jobID
        self.fileIndex = fileIndex
        self.path = path
        self.kind = kind
        self.status = status
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.size = size
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.inode = inode
        self.device = device
        self.rdev = rdev
        self.nlink = nlink
        self.linkTarget = linkTarget
        self.sourceSHA256 = sourceSHA256
        self.storedSHA256 = storedSHA256
        self.signatureAlgorithm = signatureAlgorithm
        self.signature = signature
        self.volumeID = volumeID
        self.headerOffset = headerOffset
        self.dataOffset = dataOffset
        self.storedLength = storedLength
        self.compression = compression
        self.sparse = sparse
        self.chain = chain
        self.stageMetadata = stageMetadata
        self.block = block
        self.error = error
    }

    /// A record whose stat fields come from `stat`.
    public init(
        jobID: JobID, fileIndex: Int64, path: [UInt8], kind: EntryKind, status: FileStatus = .stored,
        stat: FileStat
    ) {
        self.init(
            jobID: jobID, fileIndex: fileIndex, path: path, kind: kind, status: status, mode: stat.mode,
            uid: stat.uid, gid: stat.gid, size: stat.size, atime: stat.atime, mtime: stat.mtime, ctime: stat.ctime,
            inode: stat.ino, device: stat.dev, rdev: stat.rdev, nlink: stat.nlink)
    }
}
