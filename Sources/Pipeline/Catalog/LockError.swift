/// A ``JobLock`` could not be taken: another job holds it, or the lock file cannot be opened.
public struct LockError: Error, Sendable, CustomStringConvertible {
    /// What was locked: a catalog file or an archive directory.
    public enum Resource: String, Sendable {
        case catalog
        case archive
    }

    public var resource: Resource
    /// The catalog file or archive directory.
    public var path: String
    /// The lock file (`<catalog>.lock` or `<archive>/.optionhost.lock`).
    var lockFile: String
    /// The holder's job name, as its lock file says (nil when it could not be read, or for an open failure).
    var holderJob: String?
    /// The holder's process id, as its lock file says.
    var holderPID: Int32?
    /// When the holder took the lock (local time, `YYYY-MM-DD HH:MM:SS +ZZZZ`), as its lock file says.
    var holderSince: String?
    /// For an open or lock failure other than "held by another job": the system's reason (`strerror`).
    var systemError: String?

    /// Another job holds the lock (not a failure to open or lock the file).
    public var isHeldByAnotherJob: Bool { systemError == nil }

    /// E.g. `catalog /x/cat.db is in use by job "nightly" (pid 1234) since 2025-06-01 02:00:00 +0000`.
    public var description: String {
        if let systemError {
            return "cannot lock \(resource.rawValue) \(path): \(lockFile): \(systemError)"
        }
        var text = "\(resource.rawValue) \(path) is in use by "
        if let holderJob {
            text += "job \"\(holderJob)\""
        } else {
            text += "another job"
        }
        if let holderPID { text += " (pid \(holderPID))" }
        if let holderSince { text += " since \(holderSince)" }
        if holderJob == nil && holderPID == nil { text += " (see \(lockFile))" }
        return text
    }
}
