import Pipeline
import Stages

/// What commands do to a catalog when they open it (issue 14): refuse a damaged one, mark jobs whose process is
/// gone as failed, remove the volumes those jobs left open.
enum CatalogUpkeep {
    /// PostgreSQL: takes the lock of Job `name` of `client` for this session (``DatabaseCatalog/tryLockJob(_:client:)``);
    /// fails (exit 3) naming the Job and client when another session holds it.
    static func lockJob(_ catalog: DatabaseCatalog, name: String, client: String, path: String) throws {
        let locked: Bool
        do {
            locked = try catalog.tryLockJob(name, client: client)
        } catch {
            throw failure(error, path: path)
        }
        guard locked else {
            throw CommandFailure.failed(
                "Job \"\(name)\" of client \(client) is running: another session of \(path) holds its lock")
        }
    }

    /// The way back from a damaged catalog, named in every error about one.
    static let scanHint = "rebuild it from the volumes with: optionhost scan VOLUME... --catalog NEWFILE"

    /// Refuses a catalog that `PRAGMA quick_check` finds damaged (exit 3), naming `scan` as the way back. It reads
    /// every page once: 0.3 s (0.19 s CPU) with a warm cache, 1.2 s cold, for a catalog of 200,000 files (82 MB);
    /// it grows with the catalog, a small part of a backup that walks as many files.
    /// The full `integrity_check` (indexes against tables) costs 3 times the CPU and is left to `sqlite3`.
    static func requireSound(_ catalog: SQLiteCatalog, path: String) throws {
        let problems: [String]
        do {
            problems = try catalog.quickCheck(limit: 3)
        } catch {
            throw failure(error, path: path)
        }
        if !problems.isEmpty { throw damaged(path, "quick_check: " + problems.joined(separator: "; ")) }
    }

    /// The error for a catalog SQLite cannot read (`SQLITE_CORRUPT`, or what quick_check found).
    static func damaged(_ path: String, _ detail: String) -> CommandFailure {
        .failed("catalog \(path) is damaged (\(detail)); \(scanHint)")
    }

    /// A catalog error as a command failure (exit 3): a damaged file is said so, with the way back.
    static func failure(_ error: CatalogError, path: String) -> CommandFailure {
        // A SQLite file's damage only: a PostgreSQL server owns its pages, and `scan --catalog` writes SQLite files.
        let postgreSQL = error.sqlState != nil || path.hasPrefix(CatalogLocation.postgreSQLPrefix)
        if !postgreSQL && (error.code == .corrupt || error.code == .notADatabase) {
            return damaged(path, error.message)
        }
        return .failed("\(error)")
    }

    /// For commands that do not hold the catalog's lock (restore, verify, list): jobs whose process is gone are
    /// marked failed now. SQLite: when no job holds the catalog's lock, every job still marked running lost its
    /// process; the lock is taken for this step only, and when a job holds it (or it cannot be taken) nothing
    /// changes. PostgreSQL: the jobs still marked running whose JobId lock no session holds, of any host.
    static func markAbandonedJobs(_ catalog: DatabaseCatalog, location: CatalogLocation, finder: String) {
        guard case .file(let path) = location else {
            _ = try? catalog.markAbandonedJobs(finder: finder)
            return
        }
        guard let lock = try? JobLock.acquire(path: path, holder: finder) else { return }
        defer { lock.release() }
        _ = try? catalog.markAbandonedJobs(finder: finder, lastCall: PluginCallNote.take(catalog: path))
    }
}
