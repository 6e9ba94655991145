import BareosFD
import CLinux
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// In-process plugins: the crash note (the plugin string, the entry point and the file of the call running) also
/// lives in a small file next to the catalog, `CATALOG.plugin-call`, mapped shared, so it survives an end of the
/// process no handler sees (SIGKILL, the OOM killer). The next command that marks the job failed reads it and names
/// the call in the job's message; a job that ends normally removes it. One job per catalog runs at a time (the
/// catalog lock), so the file belongs to the newest job that did not finish.
public enum PluginCallNote {
    static let size = 4096

    /// The file of the catalog at `catalogPath`.
    public static func path(catalog catalogPath: String) -> String { catalogPath + ".plugin-call" }

    /// From now on every crash note is also written to the file of `catalogPath` (created 0600). Best effort: a
    /// file that cannot be made only loses the note for the next command. Returns the mapping to `finish`.
    public static func record(catalog catalogPath: String) -> UnsafeMutableRawPointer? {
        let descriptor = open(path(catalog: catalogPath), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(size)) == 0,
            let region = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), region != MAP_FAILED
        else { return nil }
        opfd_crash_note_share(region, size, 0)
        return region
    }

    /// The job ended (well or not, but with this process alive to say so): the file goes. The mapping stays until
    /// the process ends: a call that outlived its timeout may still clear the note in it when it returns.
    public static func finish(_ region: UnsafeMutableRawPointer?, catalog catalogPath: String) {
        guard region != nil else { return }
        opfd_crash_note_share(nil, 0, 0)
        unlink(path(catalog: catalogPath))
    }

    /// The call a dead job's process was in (`PLUGIN: handle_backup_file of PATH`), nil when it was between calls or
    /// left no file; the file is removed. For a command that holds the catalog lock.
    public static func take(catalog catalogPath: String) -> String? {
        let path = path(catalog: catalogPath)
        let bytes: [UInt8]
        do {
            let file = try FileDescriptor.open(path, O_RDONLY)
            defer { try? file.close() }
            bytes = try file.readAll()
        } catch {
            return nil
        }
        unlink(path)
        guard bytes.count >= 4 else { return nil }
        let length = bytes[0..<4].reversed().reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, length <= bytes.count - 4 else { return nil }
        return String(decoding: bytes[4..<4 + length], as: UTF8.self)
    }
}
