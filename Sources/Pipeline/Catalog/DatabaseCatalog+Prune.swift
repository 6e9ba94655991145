// MARK: - Removing jobs (prune)

extension DatabaseCatalog {
    /// Removes a job: its `files` rows, `job_messages`, `job_data`, `volumes` rows and the `jobs` row, in one transaction (all
    /// or nothing). The FileSet row stays (other jobs may use it; it is a few bytes). The JobId is never handed out
    /// again (`jobs.id` is AUTOINCREMENT), so volume file names stay unique.
    ///
    /// The volume *files* are not touched: ``Pruner`` decides which of them no remaining job needs.
    ///
    /// - Throws: ``CatalogError``: `SQLITE_NOTFOUND` when the job is not in the catalog.
    public func deleteJob(_ id: JobID) throws(CatalogError) {
        try connection.inTransaction { () throws(CatalogError) in
            try deleteSearchRows(job: id)
            for sql in [
                "DELETE FROM files WHERE job_id = ?1",
                "DELETE FROM job_messages WHERE job_id = ?1",
                "DELETE FROM job_data WHERE job_id = ?1",
                "DELETE FROM volumes WHERE job_id = ?1",
                "DELETE FROM jobs WHERE id = ?1",
            ] {
                let statement = try connection.cachedStatement(sql)
                try statement.bind(id.rawValue, at: 1)
                try statement.run()
            }
            if connection.changes == 0 { throw CatalogError.notFound("job \(id)") }
        }
    }

    /// Every `volumes` row whose `path` is `path`, whichever job recorded it (a rebuilt catalog, or a volume file
    /// recorded twice, can name one file from two rows).
    public func volumes(path: String) throws(CatalogError) -> [VolumeRecord] {
        let select = try connection.prepare(
            "SELECT id, job_id, name, path, sequence, bytes, status FROM volumes WHERE path = ?1 ORDER BY job_id, sequence")
        try select.bind(path, at: 1)
        return try Self.volumeRecords(select)
    }
}

extension DatabaseCatalog: CatalogVolumeReferences {
    /// For each of `volumeIDs`, the jobs whose `files` rows point into it (one pass over `files`: `volume_id` has
    /// no index, and a prune runs rarely).
    func jobsReferencing(volumeIDs: [Int64]) throws(CatalogError) -> [Int64: Set<JobID>] {
        guard !volumeIDs.isEmpty else { return [:] }
        var result: [Int64: Set<JobID>] = [:]
        // The ids are integers from the catalog itself, so they go into the SQL text (no bind-variable limit).
        var start = 0
        while start < volumeIDs.count {
            let chunk = volumeIDs[start..<min(start + 10_000, volumeIDs.count)]
            let list = chunk.map { String($0) }.joined(separator: ",")
            let select = try connection.prepare(
                "SELECT DISTINCT volume_id, job_id FROM files WHERE volume_id IN (\(list))")
            while try select.step() {
                result[select.int64(0), default: []].insert(JobID(rawValue: select.int64(1)))
            }
            start += chunk.count
        }
        return result
    }
}
