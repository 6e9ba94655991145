// MARK: - Scanning volumes into an existing catalog

extension DatabaseCatalog {
    /// Runs `body` in ONE transaction: everything it writes is committed when it returns and nothing when it
    /// throws. The catalog's own writing calls inside it (``beginJob(_:)``, ``insert(files:messages:)``, ...) become
    /// savepoints of that transaction, so a scan that fails at its last volume leaves the catalog as it was.
    ///
    /// On PostgreSQL the rows stay invisible to other sessions until the commit; a job of another host that
    /// records the same FileSet meanwhile waits at its start for the commit (the `filesets` row is locked).
    public func inOneTransaction<T>(_ body: () throws -> T) throws -> T {
        // `inTransaction` takes a body that throws CatalogError only: another error is kept aside, the
        // transaction rolled back by a stand-in, and the original rethrown.
        var failure: (any Error)?
        do {
            return try connection.inTransaction { () throws(CatalogError) -> T in
                do {
                    return try body()
                } catch let error as CatalogError {
                    throw error
                } catch {
                    failure = error
                    throw CatalogError.misuse("rolled back: \(error)")
                }
            }
        } catch {
            if let failure { throw failure }
            throw error
        }
    }

    /// What the catalog holds under `id`, compared with the job a scanned volume's label describes (`name`,
    /// `start`, `client`): the same job is the same name and start time, to the nanosecond, and the same client.
    /// A client missing on either side (volumes written before labels named it, rows of older builds or of a scan
    /// of such volumes) does not tell jobs apart.
    public func scanPlace(
        of id: JobID, name: String, start: FileStat.Timestamp, client: String? = nil
    ) throws(CatalogError) -> ScanPlace {
        guard let row = try job(id) else { return .absent }
        guard row.name == name && row.startTime == start else { return .foreign(row) }
        if let client, let rowClient = row.clientName, rowClient != client { return .foreign(row) }
        switch row.status {
        case .ok, .warnings: return .finished(row)
        case .running, .failed, .cancelled: return .unfinished(row)
        }
    }

    /// What ``removeForRebuild(_:)`` removed of a job.
    public struct RemovedRows: Sendable, Equatable {
        public var files: Int64
        public var messages: Int64
        public var volumes: Int64
    }

    /// Removes a job that did not finish, before `scan` rebuilds it from its volumes under the same JobId: its
    /// `files` (and search), `job_messages`, `job_data` and `volumes` rows and the `jobs` row (``deleteJob(_:)``).
    /// Meant for the inside of ``inOneTransaction(_:)``: the job is rebuilt in the same transaction.
    ///
    /// - Returns: What was removed, for the rebuilt job's message.
    public func removeForRebuild(_ id: JobID) throws(CatalogError) -> RemovedRows {
        // PostgreSQL: the old row stays visible to other sessions until the commit. Holding its JobId lock to the
        // end of this transaction keeps another host from marking it failed meanwhile (its update would wait on
        // the deleted row, then add a message to the rebuilt job); a session that holds it now runs the job, or
        // is marking it failed this moment.
        if dialect == .postgreSQL, try !claimJobIDLock(id) {
            throw CatalogError(
                code: .busy,
                message: "JobId \(id.rawValue) is in use: another session holds its JobId lock (its process still runs it, "
                    + "or another command is marking it failed); run the scan again once it has ended")
        }
        var counts: [Int64] = []
        for table in ["files", "job_messages", "volumes"] {
            let count = try connection.prepare("SELECT count(*) FROM \(table) WHERE job_id = ?1")
            try count.bind(id.rawValue, at: 1)
            counts.append(try count.step() ? count.int64(0) : 0)
        }
        try deleteJob(id)
        return RemovedRows(files: counts[0], messages: counts[1], volumes: counts[2])
    }
}
