internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Metadata of restored files and directories, set through their open descriptor.
extension RestoreWorker {
    static func timespec(_ timestamp: FileStat.Timestamp) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(timestamp.seconds), tv_nsec: Int(timestamp.nanoseconds))
    }

    /// Owner (as root), mode, xattrs, ACLs, then times — in that order, since the others change ctime/mtime.
    func applyMetadata(fd: Int32, record: FileRecord, member: VolumeMember?, path: [UInt8]) {
        if environment.isRoot && fchown(fd, record.uid, record.gid) != 0 {
            problem(path, Errno.current.message("cannot set owner"), severity: "warning")
        }
        if fchmod(fd, record.mode & 0o7777) != 0 {
            problem(path, Errno.current.message("cannot set mode"), severity: "warning")
        }
        if let member, !member.metadataMatches(record) {
            // xattrs and ACLs come from the volume header, which no data digest covers: only the recorded ones.
            problem(
                path, "extended attributes or ACLs in the volume differ from the catalog's; they were not applied",
                severity: "error")
        } else if let member {
            for xattr in member.xattrs {
                let result = FileReader.withCPath(xattr.name) { name in
                    xattr.value.withUnsafeBytes { fsetxattr(fd, name, $0.baseAddress, $0.count, 0) }
                }
                if result != 0 {
                    problem(
                        path,
                        Errno.current.message(
                            "cannot set extended attribute \(String(decoding: xattr.name, as: UTF8.self))"),
                        severity: "warning")
                }
            }
            if let acl = member.aclAccess, let failure = ACLText.apply(acl, toFD: fd) {
                problem(path, "cannot set ACL: \(failure)", severity: "warning")
            }
            if let acl = member.aclDefault {
                let procPath = Array("/proc/self/fd/\(fd)".utf8)
                if let failure = ACLText.apply(acl, to: procPath, defaultACL: true) {
                    problem(path, "cannot set default ACL: \(failure)", severity: "warning")
                }
            }
        }
        var times = [RestoreWorker.timespec(record.atime), RestoreWorker.timespec(record.mtime)]
        if futimens(fd, &times) != 0 {
            problem(path, Errno.current.message("cannot set times"), severity: "warning")
        }
    }
}
