#if canImport(Glibc)
import Glibc
#endif

/// Volumes no job will finish: recorded `open` by a job that failed or whose process died (disk full, SIGKILL,
/// power loss) while it wrote them. `backup` removes them before it starts and `prune` with the jobs it removes
/// (`prune --dry-run` lists them), so a failed job's partial volume does not keep the archive disk full.
///
/// Safety: the caller holds the catalog's ``JobLock``, so no job of this catalog is running and every `open`
/// volume it records is an orphan (jobs still marked running were marked failed first,
/// ``SQLiteCatalog/markAbandonedJobs(finder:)``). A volume file is deleted only while its archive directory's
/// lock is held too (the caller's, or taken here): a job of another catalog writing into the same directory keeps
/// its files. Catalog first, file second, as in ``Pruner``.
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

    /// Finds the orphan volumes (of jobs named `jobName`, or of every job) and, unless `dryRun`, removes them.
    ///
    /// - Parameters:
    ///   - finder: Who removes them, for the job messages (`backup of Job "nightly"`, `prune`).
    ///   - heldArchive: An archive directory whose lock the caller holds already.
    public static func remove(
        from catalog: SQLiteCatalog, jobName: String?, finder: String, heldArchive: String? = nil, dryRun: Bool
    ) throws -> Result {
        var result = Result()
        result.volumes = try catalog.orphanVolumes(jobName: jobName)
        guard !dryRun else { return result }
        var locks: [String: JobLock] = [:]
        defer { for lock in locks.values { lock.release() } }
        for volume in result.volumes {
            let directory = volume.path.lastIndex(of: "/").map { String(volume.path[..<$0]) } ?? "."
            if directory != heldArchive?.trimmingSuffix("/") && locks[directory] == nil && isDirectory(directory) {
                do {
                    locks[directory] = try JobLock.acquire(path: directory, holder: finder)
                } catch {
                    result.failures.append((volume.path, "\(error)"))
                    continue
                }
            }
            try catalog.discardOrphanVolume(volume, finder: finder)
            do {
                _ = try SystemCall.retrying { unlink(volume.path) }
                result.deleted.append(volume.path)
            } catch .notFound {
                result.missing.append(volume.path)
            } catch {
                result.failures.append((volume.path, error.description))
            }
        }
        return result
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
