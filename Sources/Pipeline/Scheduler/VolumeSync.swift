internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Makes a volume's data durable through a second read-only descriptor, so the catalog thread can fsync while
/// the writer keeps appending (fsync flushes the file, whichever descriptor asks). Sendable: it holds only an
/// immutable descriptor number and path, and fsync/sync_file_range may be called from any thread.
final class VolumeSync: Sendable {
    private let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        do {
            fd = try SystemCall.withCPath(Array(path.utf8)) { cPath throws(Errno) in
                try SystemCall.retrying { Glibc.open(cPath, O_RDONLY | O_CLOEXEC) }
            }
        } catch {
            throw BackupError(error.message("cannot reopen volume \(path)"))
        }
    }

    deinit { close(fd) }

    /// Starts writeback of the dirty pages written so far without waiting (so the final fsync is short).
    func startWriteback() {
        _ = clinux_start_writeback(fd)
    }

    func sync() throws {
        do {
            _ = try SystemCall.retrying { fsync(fd) }
        } catch {
            throw BackupError(error.message("fsync of volume \(path) failed"))
        }
    }
}
