internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The directory tree a restore writes into, reached only through `openat` with `O_NOFOLLOW`: no path from a
/// volume or catalog can leave it (no `..`, no absolute names, no following a symlink that an earlier entry of
/// the same restore planted).
final class RestoreTarget {
    let root: String
    let rootFD: Int32
    /// The directory of the previous entry: restores walk the catalog in order, so most entries share it.
    private var cachedComponents: [[UInt8]] = []
    private var cachedFD: Int32 = -1

    init(root: String) throws {
        var created = root.hasPrefix("/") ? "" : "."
        for component in root.split(separator: "/") {
            created += "/" + component
            if mkdir(created, 0o755) != 0 && errno != EEXIST {
                throw RestoreError("cannot create \(created)", Errno.current)
            }
        }
        self.root = root
        rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if rootFD < 0 { throw RestoreError("cannot open --where directory \(root)", Errno.current) }
    }

    /// The same tree for another thread, from a ``duplicateRoot()`` descriptor it takes over: the same root
    /// directory (never its path opened again) with a directory cache of its own.
    init(root: String, adopting descriptor: Int32) {
        self.root = root
        rootFD = descriptor
    }

    /// A new descriptor of the root directory, for ``init(root:adopting:)`` on another thread.
    func duplicateRoot() throws -> Int32 {
        let fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        if fd < 0 { throw RestoreError("cannot duplicate the --where directory's descriptor", Errno.current) }
        return fd
    }

    deinit {
        if cachedFD >= 0 && cachedFD != rootFD { close(cachedFD) }
        close(rootFD)
    }

    /// The parent directory of a restored entry (created as needed), as a descriptor valid until the next call.
    func parent(of components: [[UInt8]]) throws -> Int32 {
        let directory = Array(components.dropLast())
        if directory.isEmpty { return rootFD }
        if directory == cachedComponents && cachedFD >= 0 { return cachedFD }
        if cachedFD >= 0 && cachedFD != rootFD { close(cachedFD) }
        cachedFD = -1
        cachedComponents = []
        var fd = rootFD
        for component in directory {
            let next = try openDirectory(component, in: fd, create: true)
            if fd != rootFD { close(fd) }
            fd = next
        }
        cachedFD = fd
        cachedComponents = directory
        return fd
    }

    /// Opens (or creates, mode 0700 until its own record sets the real mode) one directory below `fd`, refusing
    /// to follow a symbolic link.
    func openDirectory(_ name: [UInt8], in fd: Int32, create: Bool) throws -> Int32 {
        let parent = FileDescriptor(rawValue: fd)
        var failure: Errno
        do {
            return try FileDescriptor.open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, in: parent).rawValue
        } catch {
            failure = error
        }
        if create && failure == .notFound {
            if let made = RestoreTarget.makeDirectory(name, in: parent), made != .exists {  // EEXIST: made by another thread
                throw RestoreError("cannot create directory \(display(name))", made)
            }
            do {
                return try FileDescriptor.open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, in: parent).rawValue
            } catch {
                failure = error
            }
        }
        if failure == .tooManyLinks || failure == .notDirectory {
            throw RestoreError("refusing to restore through \(display(name)): it is not a directory (a symlink?)")
        }
        throw RestoreError("cannot open directory \(display(name))", failure)
    }

    private static func makeDirectory(_ name: [UInt8], in parent: FileDescriptor) -> Errno? {
        do {
            try parent.makeDirectory(name, mode: 0o700)
            return nil
        } catch {
            return error
        }
    }

    /// Forgets the cached directory (after something below it was renamed or removed).
    func invalidate() {
        if cachedFD >= 0 && cachedFD != rootFD { close(cachedFD) }
        cachedFD = -1
        cachedComponents = []
    }

    /// Makes everything written durable: one `syncfs` at the end, no per-file fsync.
    func syncFileSystem() {
        _ = syncfs(rootFD)
    }

    func display(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
