#if canImport(Glibc)
import Glibc
#endif

/// What `--replace` does when the file already exists (Bareos' restore `replace=`).
public enum ReplacePolicy: String, Sendable, CaseIterable {
    case always, ifnewer, ifolder, never
}

/// How a restore runs.
public struct RestoreSettings: Sendable {
    /// Files land at `whereDirectory` + their original absolute path (Bareos `where=`); "/" restores in place.
    public var whereDirectory: String
    public var replace: ReplacePolicy = .always
    /// Bareos wildcard patterns (`*` crosses `/`) matched against the original path; empty selects everything.
    public var select: [String] = []
    /// Write the single selected file's bytes to this descriptor instead of restoring files.
    public var outputFD: Int32?
    /// Restore one stored version of one path instead of the tree as of the job: `select` must then hold exactly
    /// that path (taken literally, not as a pattern), and this is its 1-based number in `list versions`
    /// (``FileVersions``, oldest = 1). The job is the version's own; the `jobID` given to ``RestoreJob`` is ignored.
    public var version: Int?
    /// With `version`: number only the versions written by jobs of this Job name (as `list versions --job`).
    public var versionJobName: String?
    /// Restore exactly these stored file versions (file indexes per job, e.g. the hits of `restore --from-search`)
    /// instead of the tree as of a job; the `jobID` given to ``RestoreJob`` is ignored. Paths must not repeat.
    public var exactVersions: [JobID: [Int64]]?
    public var chunkSize = 1 << 20
    /// Stage debug messages up to this level are kept (`-d N`).
    public var debugLevel = 0
    /// Threads that create files (`--workers`). Creating a file is almost all kernel time on ext4 and creates in
    /// different directories do not wait for each other, so the default is one per core; 1 restores every entry
    /// in catalog order on the calling thread, as before there were workers.
    public var workers = RestoreSettings.cores

    /// Create each file unnamed (`O_TMPFILE`) and link it in once verified; false forces the temporary-name
    /// path that file systems without `O_TMPFILE` get (tests use it to cover that path).
    var unnamedFiles = true
    /// Called on the worker thread right before a verified file takes its final name (tests: a racing creator).
    var beforeNaming: (@Sendable (_ path: [UInt8]) -> Void)?

    public init(whereDirectory: String) {
        self.whereDirectory = whereDirectory
    }

    /// Online processors, at least 1.
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
