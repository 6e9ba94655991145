#if canImport(Glibc)
import Glibc
#endif

/// What `fstat` says of an open file that must not change while the file is read: size, mtime and ctime (ctime
/// catches a writer that put mtime back). Taken when the file is opened and again after its last byte was read;
/// a difference means the bytes read may be a mix of two versions that never existed together on disk (Bareos
/// warns "file changed during backup" on the same test).
///
/// A stat cannot see everything: a rewrite that keeps the size within the same clock tick as the open (file
/// system timestamps advance in ticks of a few milliseconds) leaves both times as they were.
struct ReadStamp: Sendable, Equatable {
    var size: Int64
    var mtime: FileStat.Timestamp
    var ctime: FileStat.Timestamp

    init(_ info: stat) {
        size = Int64(info.st_size)
        mtime = FileStat.Timestamp(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int32(info.st_mtim.tv_nsec))
        ctime = FileStat.Timestamp(seconds: Int64(info.st_ctim.tv_sec), nanoseconds: Int32(info.st_ctim.tv_nsec))
    }

    /// The stamp of the file open on `fd` now; nil when `fstat` fails.
    static func of(_ fd: Int32) -> ReadStamp? {
        var info = stat()
        return fstat(fd, &info) == 0 ? ReadStamp(info) : nil
    }

    /// Why the file open on `fd` does not match this stamp taken at its open ("size 10 -> 12, mtime changed"),
    /// or nil when it does.
    func change(of fd: Int32) -> String? {
        guard let now = ReadStamp.of(fd) else { return "it could not be checked: \(Errno.current.message("fstat"))" }
        var changes: [String] = []
        if now.size != size { changes.append("size \(size) -> \(now.size)") }
        if now.mtime != mtime { changes.append("mtime") }
        if now.ctime != ctime { changes.append("ctime") }
        return changes.isEmpty ? nil : changes.joined(separator: ", ") + " changed during the read"
    }
}

extension BackupSettings {
    /// Called on the reading thread once the first chunk of a regular file the host reads has been read (a small
    /// file: all of it), before the file's stamp is checked; `attempt` is 1, or 2 for the re-read of a small file.
    /// Tests rewrite the file there to make a torn read happen at a known point.
    typealias ReadHook = @Sendable (_ path: [UInt8], _ attempt: Int) -> Void
}
