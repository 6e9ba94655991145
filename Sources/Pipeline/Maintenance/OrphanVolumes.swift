#if canImport(Glibc)
import Glibc
#endif

/// Volumes no job will finish: recorded `open` by a job that failed or whose process died (disk full, SIGKILL,
/// power loss) while it wrote them. `backup` removes them before it starts and `prune` with the jobs it removes
/// (`prune --dry-run` lists them), so a failed job's partial volume does not keep the archive disk full.
///
/// Safety on SQLite: the caller holds the catalog's ``JobLock``, so no job of this catalog is running and every
/// `open` volume it records is an orphan (jobs still marked running were marked failed first,
/// ``SQLiteCatalog/markAbandonedJobs(finder:lastCall:)``). A volume file is deleted only while its archive
/// directory's lock is held too (the caller's, or taken here): a job of another catalog writing into the same
/// directory keeps its files. Catalog first, file second, as in ``Pruner``.
///
/// On PostgreSQL (a ``Host``): several hosts share the catalog and each sees only its own archive directories, so
/// only the volumes in this host's archive directories are judged (jobs still `R` have a process there and are
/// left out by the catalog). A file that is not there is forgotten only for a job of this host's client: the
/// same path on another host may be a directory this host cannot see. No directory lock is taken: jobs of
/// several hosts write into one shared directory at once, and a job's death is proven by its JobId lock.
public enum OrphanVolumes {
    public struct Result: Sendable {
        /// The orphan volumes found (all of them on a dry run).
        public var volumes: [VolumeRecord] = []
        /// Volume files deleted.
        public var deleted: [String] = []
        /// Volume files that were already gone (their rows are removed all the same).
        public var missing: [String] = []
        /// Volumes left alone, with the reason (the archive directory is locked by another job, unlink failed).
        public var failures: [(path: String, reason: String)] = []
    }

    /// What one host of a shared (PostgreSQL) catalog can judge.
    public struct Host: Sendable {
        /// This host's client name (the Job's `Client`, else the host name).
        public var client: String
        /// This host's archive directories (absolute): only volumes directly in one of them are judged.
        public var archives: [String]

        public init(client: String, archives: [String]) {
            self.client = client
            self.archives = archives
        }
    }

    /// Finds the orphan volumes (of jobs named `jobName`, or of every job) and, unless `dryRun`, removes them.
    ///
    /// - Parameters:
    ///   - finder: Who removes them, for the job messages (`backup of Job "nightly"`, `prune`).
    ///   - client: Only the volumes of jobs of this client (prune on a shared catalog).
    ///   - heldArchive: An archive directory whose lock the caller holds already (SQLite).
    ///   - host: For a shared catalog: the directories this host judges and its client; nil on SQLite (every
    ///     directory that exists here is judged).
    ///   - dead: Jobs still recorded as running that have no process (a dry run on a shared catalog, which marks
    ///     nothing: ``DatabaseCatalog/deadJobs(markedBy:)``); their open volumes are orphans too.
    public static func remove(
        from catalog: SQLiteCatalog, jobName: String?, client: String? = nil, finder: String,
        heldArchive: String? = nil, host: Host? = nil, dead: [JobID] = [], dryRun: Bool
    ) throws -> Result {
        var result = Result()
        result.volumes = try catalog.orphanVolumes(jobName: jobName, client: client, dead: dead)
        if let host {
            let archives = Set(host.archives.map { $0.trimmingSuffix("/") })
            result.volumes = try result.volumes.filter { volume in
                guard archives.contains(directory(of: volume.path)) else { return false }
                // Not here and another client's: the same path on that client's host may be a directory this
                // host cannot see, so the file may well exist there.
                return try access(volume.path, F_OK) == 0 || catalog.job(volume.jobID)?.clientName == host.client
            }
        }
        guard !dryRun else { return result }
        var locks: [String: JobLock] = [:]
        defer { for lock in locks.values { lock.release() } }
        for volume in result.volumes {
            let directory = directory(of: volume.path)
            if host == nil && directory != heldArchive?.trimmingSuffix("/") && locks[directory] == nil
                && isDirectory(directory)
            {
                do {
                    locks[directory] = try JobLock.acquire(path: directory, holder: finder)
                } catch {
                    result.failures.append((volume.path, "\(error)"))
                    continue
                }
            }
            try catalog.discardOrphanVolume(volume, finder: finder)
            do throws(Errno) {
                _ = try SystemCall.retrying { unlink(volume.path) }
                result.deleted.append(volume.path)
            } catch {
                // Not `catch .notFound`: that picks ResultCode.notFound and its `~=`, which never matches an Errno.
                if error == .notFound {
                    result.missing.append(volume.path)
                } else {
                    result.failures.append((volume.path, error.description))
                }
            }
        }
        return result
    }

    private static func directory(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (UInt32(info.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFDIR)
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) && count > 1 ? String(dropLast(suffix.count)) : self
    }
}
