// MARK: - What survives a crash: damaged files, dead jobs, orphan volumes (issue 14)

/// What the `files` rows of one job count, for a job whose own counters cannot be trusted (it failed before its
/// last rows were committed, or its process died).
public struct CatalogFileCounts: Sendable, Equatable {
    /// Regular files with a row (stored, skipped or failed).
    public var filesExamined: Int64
    public var filesStored: Int64
    public var filesSkipped: Int64
    public var filesFailed: Int64
    /// Stored entries of any kind.
    public var entriesStored: Int64
    /// Source bytes of the stored regular files.
    public var bytesRead: Int64
    /// Bytes of the stored members in the volumes.
    public var bytesStored: Int64
}

extension DatabaseCatalog {
    /// Volume states: `open` from before the first byte is written until the job is done with it, then `full`
    /// (the writer moved on to the next volume) or `closed`. `writing` is what older builds wrote for `open`.
    public static let openVolumeStates = ["open", "writing"]

    /// `PRAGMA quick_check`: the problems SQLite finds in the file's pages and records (at most `limit`), empty
    /// when the catalog is sound. It reads every page once but does not cross-check indexes against tables (the
    /// full `integrity_check` does, at several times the cost).
    ///
    /// - Throws: ``CatalogError`` when a page cannot be read at all (`SQLITE_CORRUPT`, `SQLITE_NOTADB`, I/O).
    public func quickCheck(limit: Int = 10) throws(CatalogError) -> [String] {
        // PostgreSQL checks its own pages (checksums, WAL); there is no cheap per-database equivalent to run here.
        guard dialect == .sqlite else { return [] }
        let select = try connection.prepare("PRAGMA quick_check(\(max(1, limit)))")
        var problems: [String] = []
        do {
            while try select.step() {
                // The first row starts with a "*** in database main ***" line (there is one database).
                let lines = select.text(0).split(separator: "\n").filter { !$0.hasPrefix("*** in database") }
                problems += lines.filter { $0 != "ok" }.map(String.init)
            }
        } catch {
            // A page too damaged to go on ends the check with SQLITE_CORRUPT after the rows that name it.
            if problems.isEmpty { throw error }
        }
        return problems
    }

    /// What the `files` rows of `job` count.
    public func fileCounts(job: JobID) throws(CatalogError) -> CatalogFileCounts {
        let select = try connection.prepare(
            """
            SELECT count(CASE WHEN type = 'file' AND status <> 'deleted' THEN 1 END),
                count(CASE WHEN type = 'file' AND status = 'stored' THEN 1 END),
                count(CASE WHEN type = 'file' AND status = 'skipped' THEN 1 END),
                count(CASE WHEN type = 'file' AND status = 'failed' THEN 1 END),
                count(CASE WHEN status = 'stored' THEN 1 END),
                coalesce(sum(CASE WHEN type = 'file' AND status = 'stored' THEN size END), 0),
                coalesce(sum(CASE WHEN status = 'stored' THEN stored_length END), 0)
            FROM files WHERE job_id = ?1
            """)
        try select.bind(job.rawValue, at: 1)
        guard try select.step() else { throw CatalogError.misuse("a count returned no row") }
        return CatalogFileCounts(
            filesExamined: select.int64(0), filesStored: select.int64(1), filesSkipped: select.int64(2),
            filesFailed: select.int64(3), entriesStored: select.int64(4), bytesRead: select.int64(5),
            bytesStored: select.int64(6))
    }

    /// Marks jobs whose process is gone failed, with their counters taken from their rows and a job message saying
    /// who found them.
    ///
    /// - SQLite: every job still recorded as running (`R`). Only a caller that holds the catalog's ``JobLock`` may
    ///   call this: then no job of this catalog is running, so a job still marked running lost its process
    ///   (killed, crashed, power loss).
    /// - PostgreSQL: the jobs still `R` whose JobId lock no session holds (``beginJob(_:)``), of any type, Job,
    ///   client and host; any caller may call this. Jobs this connection runs are left alone.
    ///
    /// - Parameter finder: The command that noticed, for the message (`backup of Job "nightly"`, `restore`).
    /// `lastCall` (SQLite): the Python plugin call the newest such job's process was in when it ended
    /// (`PluginCallNote`, a file beside the catalog).
    /// - Returns: The jobs marked failed.
    @discardableResult
    public func markAbandonedJobs(finder: String, lastCall: String? = nil) throws(CatalogError) -> [JobID] {
        guard dialect == .postgreSQL else {
            return try connection.inTransaction { () throws(CatalogError) -> [JobID] in
                let ids = try runningJobs()
                for id in ids {
                    try markFailed(id, finder: finder, lock: "catalog", lastCall: id == ids.last ? lastCall : nil)
                }
                return ids
            }
        }
        return try deadJobs(markedBy: finder)
    }

    /// PostgreSQL: the jobs still `R` whose JobId lock no session holds (what ``markAbandonedJobs(finder:lastCall:)``
    /// would mark), marked failed by `finder` when it is given. Empty on SQLite, whose jobs have no JobId lock.
    public func deadJobs(markedBy finder: String? = nil) throws(CatalogError) -> [JobID] {
        guard dialect == .postgreSQL else { return [] }
        var dead: [JobID] = []
        for id in try runningJobs() where !heldJobLocks.contains(id) {
            // One transaction per job: its JobId lock is held only while it is looked at (and marked).
            let found = try connection.inTransaction { () throws(CatalogError) -> Bool in
                guard try claimJobIDLock(id) else { return false }
                // Read again under the lock: a job that ended since the list was read released its lock after
                // committing its final status.
                guard try job(id)?.status == .running else { return false }
                if let finder { try markFailed(id, finder: finder, lock: "JobId's", lastCall: nil) }
                return true
            }
            if found { dead.append(id) }
        }
        return dead
    }

    /// The jobs recorded as running, by JobId.
    private func runningJobs() throws(CatalogError) -> [JobID] {
        let select = try connection.prepare("SELECT id FROM jobs WHERE status = 'R' ORDER BY id")
        var ids: [JobID] = []
        while try select.step() { ids.append(JobID(rawValue: select.int64(0))) }
        return ids
    }

    private func markFailed(_ id: JobID, finder: String, lock: String, lastCall: String?) throws(CatalogError) {
        let now = Clock.realtime()
        try recount(job: id, status: .failed, end: now)
        try addMessage(
            job: id, severity: "error", time: now,
            text: "the job's process ended before the job finished (no process held the \(lock) lock); marked "
                + "failed by \(finder). Its rows are what it committed before it ended."
                + (lastCall.map { " It ended during a Python plugin call: \($0)." } ?? ""))
    }

    /// Every `open` volume of jobs that no process runs, of the jobs named `jobName` (and of `client`, when given)
    /// or of every job. For a caller that holds the catalog's ``JobLock`` (SQLite: no job of this catalog runs,
    /// and jobs still `R` were marked failed first) these are the volumes no job will finish. On PostgreSQL the
    /// volumes of jobs still `R` are left out, but for the `dead` ones (``deadJobs(markedBy:)``, for a dry run that
    /// marks nothing): after ``markAbandonedJobs(finder:lastCall:)`` the others have a process.
    public func orphanVolumes(
        jobName: String?, client: String? = nil, dead: [JobID] = []
    ) throws(CatalogError) -> [VolumeRecord] {
        let states = Self.openVolumeStates.map { "'\($0)'" }.joined(separator: ", ")
        // JobIds from the catalog itself: integers, safe in the SQL text.
        let running = "AND (j.status <> 'R'" + (dead.isEmpty ? ")" : " OR j.id IN (\(dead.map { String($0.rawValue) }.joined(separator: ","))))")
        let select = try connection.prepare(
            """
            SELECT v.id, v.job_id, v.name, v.path, v.sequence, v.bytes, v.status
            FROM volumes AS v JOIN jobs AS j ON j.id = v.job_id
            WHERE v.status IN (\(states)) AND (?1 IS NULL OR j.name = ?1) AND (?2 IS NULL OR j.client_name = ?2)
                \(dialect == .postgreSQL ? running : "")
            ORDER BY v.job_id, v.sequence
            """)
        try select.bind(jobName, at: 1)
        try select.bind(client, at: 2)
        return try Self.volumeRecords(select)
    }

    /// Forgets an orphan volume before its file is deleted: the rows that point into it become `failed` (their
    /// bytes are gone), the volume row is removed, the job's counters are recounted and a job message says why.
    /// Catalog first, file second: an interrupted removal leaves an unreferenced file, never a row pointing at a
    /// deleted one.
    public func discardOrphanVolume(_ volume: VolumeRecord, finder: String) throws(CatalogError) {
        try connection.inTransaction { () throws(CatalogError) in
            let reason = "its volume \(volume.name) was removed: the job ended before it finished writing it"
            let rows = try connection.cachedStatement(
                """
                UPDATE files SET status = 'failed', error = ?2, volume_id = NULL, header_offset = NULL,
                    data_offset = NULL, stored_length = NULL
                WHERE volume_id = ?1 AND status = 'stored'
                """)
            try rows.bind(volume.id, at: 1)
            try rows.bind(reason, at: 2)
            try rows.run()
            let dropped = connection.changes
            let delete = try connection.cachedStatement("DELETE FROM volumes WHERE id = ?1")
            try delete.bind(volume.id, at: 1)
            try delete.run()
            guard let job = try job(volume.jobID) else { return }
            let now = Clock.realtime()
            try recount(job: volume.jobID, status: job.status, end: job.endTime ?? now)
            try addMessage(
                job: volume.jobID, severity: "warning", time: now,
                text: "volume \(volume.path) (\(volume.bytes) bytes recorded, status \(volume.status)) removed by "
                    + "\(finder): the job ended before it finished writing it; \(dropped) stored "
                    + "row\(dropped == 1 ? "" : "s") pointing into it marked failed")
        }
    }

    /// Sets a job's status, end time and counters from its rows (errors and warnings are kept).
    private func recount(job: JobID, status: JobStatus, end: FileStat.Timestamp) throws(CatalogError) {
        let counts = try fileCounts(job: job)
        let update = try connection.cachedStatement(
            """
            UPDATE jobs SET status = ?1, end_time = ?2, end_time_ns = ?3, files_examined = ?4, files_stored = ?5,
                files_skipped = ?6, files_failed = ?7, entries_stored = ?8, bytes_read = ?9, bytes_stored = ?10
            WHERE id = ?11
            """)
        try update.bind(status.rawValue, at: 1)
        try update.bind(end.seconds, at: 2)
        try update.bind(Int64(end.nanoseconds), at: 3)
        for (offset, value) in [
            counts.filesExamined, counts.filesStored, counts.filesSkipped, counts.filesFailed, counts.entriesStored,
            counts.bytesRead, counts.bytesStored,
        ].enumerated() {
            try update.bind(value, at: Int32(4 + offset))
        }
        try update.bind(job.rawValue, at: 11)
        try update.run()
    }

    private func addMessage(job: JobID, severity: String, time: FileStat.Timestamp, text: String) throws(CatalogError) {
        let insert = try connection.cachedStatement(
            "INSERT INTO job_messages (job_id, time, time_ns, severity, text) VALUES (?1, ?2, ?3, ?4, ?5)")
        try insert.bind(job.rawValue, at: 1)
        try insert.bind(time.seconds, at: 2)
        try insert.bind(Int64(time.nanoseconds), at: 3)
        try insert.bind(severity, at: 4)
        try insert.bind(text, at: 5)
        try insert.run()
    }
}
