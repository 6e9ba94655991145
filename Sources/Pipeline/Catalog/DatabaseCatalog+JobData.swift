// MARK: - Job data (what stages keep with a job)

extension DatabaseCatalog {
    public func insertJobData(job: JobID, _ data: [JobDatum]) throws(CatalogError) {
        guard !data.isEmpty else { return }
        try connection.inTransaction { () throws(CatalogError) in
            let insert = try connection.cachedStatement(
                """
                INSERT INTO job_data (job_id, key, value) VALUES (?1, ?2, ?3)
                ON CONFLICT (job_id, key) DO UPDATE SET value = excluded.value
                """)
            for datum in data {
                try insert.bind(job.rawValue, at: 1)
                try insert.bind(datum.key, at: 2)
                try insert.bind(blob: datum.value, at: 3)
                try insert.run()
            }
        }
    }

    public func jobData(job: JobID) throws(CatalogError) -> [String: [UInt8]] {
        let select = try connection.prepare("SELECT key, value FROM job_data WHERE job_id = ?1")
        try select.bind(job.rawValue, at: 1)
        var result: [String: [UInt8]] = [:]
        while try select.step() {
            result[select.text(0)] = select.blob(1) ?? []
        }
        return result
    }
}
