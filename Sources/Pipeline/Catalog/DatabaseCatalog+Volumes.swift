extension DatabaseCatalog {
    /// Every volume (of jobs named `jobName`, when given) with its members, in JobId then sequence order.
    /// Members are counted per job (`files_job_path` leads with `job_id`), so one volume costs one pass over its
    /// job's rows.
    public func volumeUsage(jobName: String? = nil) throws(CatalogError) -> [VolumeUsage] {
        let select = try connection.prepare(
            """
            SELECT v.id, v.job_id, v.name, v.path, v.sequence, v.bytes, v.status, coalesce(j.name, ''),
                   count(f.id), min(f.file_index), max(f.file_index), coalesce(sum(f.stored_length), 0)
            FROM volumes AS v
            LEFT JOIN jobs AS j ON j.id = v.job_id
            LEFT JOIN files AS f ON f.job_id = v.job_id AND f.volume_id = v.id
            \(jobName == nil ? "" : "WHERE j.name = ?1")
            GROUP BY v.id, j.name
            ORDER BY v.job_id, v.sequence
            """)
        if let jobName { try select.bind(jobName, at: 1) }
        var result: [VolumeUsage] = []
        while try select.step() {
            let volume = VolumeRecord(
                id: select.int64(0), jobID: JobID(rawValue: select.int64(1)), name: select.text(2),
                path: select.text(3), sequence: select.int64(4), bytes: select.int64(5), status: select.text(6))
            result.append(
                VolumeUsage(
                    volume: volume, jobName: select.text(7), members: Int(select.int64(8)),
                    firstFileIndex: select.optionalInt64(9), lastFileIndex: select.optionalInt64(10),
                    dataBytes: select.int64(11)))
        }
        return result
    }

    /// The bytes of each job's volumes (data plus tar and pax headers), from `volumes` alone: a listing of jobs
    /// does not read `files`.
    public func volumeBytesByJob() throws(CatalogError) -> [JobID: Int64] {
        let select = try connection.prepare("SELECT job_id, sum(bytes) FROM volumes GROUP BY job_id")
        var result: [JobID: Int64] = [:]
        while try select.step() { result[JobID(rawValue: select.int64(0))] = select.int64(1) }
        return result
    }
}
