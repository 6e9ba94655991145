#if canImport(Glibc)
    import Glibc
#endif

/// The `lstat` data of a selected entry, as plain integers.
public struct FileStat: Sendable, Hashable {
    /// A point in time with nanosecond resolution, as the kernel keeps it (`struct timespec`).
    public struct Timestamp: Sendable, Hashable, Comparable {
        public var seconds: Int64
        public var nanoseconds: Int32

        public init(seconds: Int64, nanoseconds: Int32) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
            (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
        }
    }

    public var dev: UInt64
    public var ino: UInt64
    /// The full `st_mode`: file type bits and permission bits.
    public var mode: UInt32
    public var nlink: UInt64
    public var uid: UInt32
    public var gid: UInt32
    public var rdev: UInt64
    public var size: UInt64
    /// Allocated 512-byte blocks (`st_blocks`).
    public var blocks: UInt64
    public var atime: Timestamp
    public var mtime: Timestamp
    public var ctime: Timestamp

    public init(
        dev: UInt64, ino: UInt64, mode: UInt32, nlink: UInt64, uid: UInt32, gid: UInt32, rdev: UInt64,
        size: UInt64, blocks: UInt64, atime: Timestamp, mtime: Timestamp, ctime: Timestamp
    ) {
        self.dev = dev
        self.ino = ino
        self.mode = mode
        self.nlink = nlink
        self.uid = uid
        self.gid = gid
        self.rdev = rdev
        self.size = size
        self.blocks = blocks
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
    }

    /// The permission bits (`mode & 0o7777`).
    var permissions: UInt32 { mode & 0o7777 }
}

#if canImport(Glibc)
    extension FileStat {
        init(_ st: stat) {
            self.init(
                dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), mode: UInt32(st.st_mode), nlink: UInt64(st.st_nlink),
                uid: UInt32(st.st_uid), gid: UInt32(st.st_gid), rdev: UInt64(st.st_rdev),
                size: UInt64(clamping: st.st_size), blocks: UInt64(clamping: st.st_blocks),
                atime: Timestamp(st.st_atim), mtime: Timestamp(st.st_mtim), ctime: Timestamp(st.st_ctim))
        }
    }

    extension FileStat.Timestamp {
        init(_ ts: timespec) {
            self.init(seconds: Int64(ts.tv_sec), nanoseconds: Int32(truncatingIfNeeded: ts.tv_nsec))
        }
    }
#endif
