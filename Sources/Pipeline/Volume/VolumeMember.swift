/// One entry of a volume: what a pax extended header plus its ustar header describe.
///
/// Names and link targets are bytes (D7). A directory's name is kept without the trailing "/" that its ustar header
/// carries; the reader strips it again.
struct VolumeMember: Sendable, Equatable {
    /// One extended attribute, stored as a `SCHILY.xattr.<name>` record (the value as raw bytes).
    struct Xattr: Sendable, Equatable {
        public var name: [UInt8]
        public var value: [UInt8]

        public init(name: [UInt8], value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// The data regions of a sparse file (GNU sparse format 1.0). The member data holds only the segments' bytes,
    /// in segment order; everything else up to `realSize` is a hole.
    struct SparseLayout: Sendable, Equatable {
        struct Segment: Sendable, Equatable {
            public var offset: UInt64
            public var length: UInt64

            public init(offset: UInt64, length: UInt64) {
                self.offset = offset
                self.length = length
            }
        }

        /// The apparent size of the file.
        var realSize: UInt64
        /// Data regions, ascending and not overlapping. Zero-length segments are not kept (the reader drops them).
        var segments: [Segment]

        public init(realSize: UInt64, segments: [Segment]) {
            self.realSize = realSize
            self.segments = segments
        }

        /// The number of data bytes the segments hold.
        var dataSize: UInt64 { segments.reduce(0) { $0 + $1.length } }
    }

    /// One of our own pax records; `key` starts with `OPTIONPIPELINE.`.
    struct Record: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]

        public init(key: String, value: [UInt8]) {
            self.key = key
            self.value = value
        }
    }

    /// The prefix every key of `records` must carry.
    static let recordPrefix = "OPTIONPIPELINE."

    /// Archive member name (no leading "/", no ".." component).
    public var name: [UInt8]
    /// `.socket` cannot be stored.
    public var kind: EntryKind
    /// Permission bits, setuid/setgid/sticky included (`0o7777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var userName: String?
    public var groupName: String?
    /// Bytes of member data as stored (after compression); 0 for everything but files. For a sparse file, the bytes
    /// of its segments (the sparse map that precedes them in the volume is not counted).
    public var size: UInt64
    public var mtime: FileStat.Timestamp
    public var atime: FileStat.Timestamp?
    public var ctime: FileStat.Timestamp?
    /// Symlink target, or the member name a hard link points to.
    public var linkTarget: [UInt8]?
    var deviceMajor: UInt32
    var deviceMinor: UInt32
    var xattrs: [Xattr]
    /// POSIX ACL in text form, entries separated by commas: `user::rw-,user:1000:r--,group::r--,mask::r--,other::r--`.
    var aclAccess: String?
    /// Default ACL of a directory, same form as `aclAccess`.
    var aclDefault: String?
    public var sparse: SparseLayout?
    public var records: [Record]

    public init(
        name: [UInt8], kind: EntryKind, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
        userName: String? = nil, groupName: String? = nil, size: UInt64 = 0,
        mtime: FileStat.Timestamp = FileStat.Timestamp(seconds: 0, nanoseconds: 0),
        atime: FileStat.Timestamp? = nil, ctime: FileStat.Timestamp? = nil, linkTarget: [UInt8]? = nil,
        deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, xattrs: [Xattr] = [], aclAccess: String? = nil,
        aclDefault: String? = nil, sparse: SparseLayout? = nil, records: [Record] = []
    ) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.size = size
        self.mtime = mtime
        self.atime = atime
        self.ctime = ctime
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
        self.aclAccess = aclAccess
        self.aclDefault = aclDefault
        self.sparse = sparse
        self.records = records
    }
}

/// Where a member sits in its volume.
struct MemberLocation: Sendable, Equatable {
    /// Offset of the member's first header (its pax extended header).
    var headerOffset: UInt64
    /// Offset of the member's data (for a sparse file: of the segment bytes, after the sparse map).
    var dataOffset: UInt64

    public init(headerOffset: UInt64, dataOffset: UInt64) {
        self.headerOffset = headerOffset
        self.dataOffset = dataOffset
    }
}

/// A volume could not be written or read, or a member cannot be stored as given.
struct VolumeError: Error, Sendable, CustomStringConvertible {
    /// The volume file (empty for problems with a name alone).
    public var path: String
    /// Where in the volume, when the problem is tied to a place.
    public var offset: UInt64?
    public var message: String

    public init(path: String, offset: UInt64? = nil, message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }

    public var description: String {
        var text = path
        if let offset { text += text.isEmpty ? "offset \(offset)" : " at offset \(offset)" }
        return text.isEmpty ? message : text + ": " + message
    }
}
