// MARK: - Reading

// Read statements are prepared per call (microseconds) rather than cached, so a `forEachFile` body may call the
// catalog again without resetting the statement it is iterating. Reads of a whole job's rows use `prepareStream`:
// on PostgreSQL they arrive in pieces through a cursor instead of one result holding every row.
extension DatabaseCatalog {
    private static let jobSelectSQL = """
        SELECT j.id, j.name, j.type, j.level, j.status, f.name, f.md5, f.text, j.client_name,
            j.start_time, j.start_time_ns, j.end_time, j.end_time_ns, j.since_time, j.since_time_ns,
            j.files_examined, j.files_stored, j.files_skipped, j.files_failed, j.entries_stored,
            j.bytes_read, j.bytes_stored, j.errors, j.warnings, j.chain_jobs, j.where_dir, j.restored_job_id
        FROM jobs AS j JOIN filesets AS f ON f.id = j.fileset_id
        """

    public func job(_ id: JobID) throws(CatalogError) -> JobRecord? {
        let select = try connection.prepare(Self.jobSelectSQL + " WHERE j.id = ?1")
        try select.bind(id.rawValue, at: 1)
        return try select.step() ? try Self.decodeJob(select) : nil
    }

    /// Jobs, newest first (start time, then id); all jobs when `name` is nil.
    public func jobs(name: String?) throws(CatalogError) -> [JobRecord] {
        let order = " ORDER BY j.start_time DESC, j.start_time_ns DESC, j.id DESC"
        let select: any CatalogStatement
        if let name {
            select = try connection.prepare(Self.jobSelectSQL + " WHERE j.name = ?1" + order)
            try select.bind(name, at: 1)
        } else {
            select = try connection.prepare(Self.jobSelectSQL + order)
        }
        var result: [JobRecord] = []
        while try select.step() {
            result.append(try Self.decodeJob(select))
        }
        return result
    }

    private static func decodeJob(_ s: any CatalogStatement) throws(CatalogError) -> JobRecord {
        let id = JobID(rawValue: s.int64(0))
        guard let status = JobStatus(rawValue: s.text(4)) else {
            throw CatalogError.invalidValue("status of job \(id)", s.text(4))
        }
        var job = JobRecord(
            id: id, name: s.text(1), type: s.text(2), level: JobLevel(rawValue: s.text(3)), status: status,
            fileSetName: s.text(5), fileSetDigest: s.text(6), fileSetText: s.optionalText(7),
            clientName: s.optionalText(8), startTime: instant(s, 9), endTime: timestamp(s, 11),
            sinceTime: timestamp(s, 13), filesExamined: s.int64(15), filesStored: s.int64(16),
            filesSkipped: s.int64(17), filesFailed: s.int64(18), entriesStored: s.int64(19), bytesRead: s.int64(20),
            bytesStored: s.int64(21), errors: s.int64(22), warnings: s.int64(23))
        job.chainJobs = s.optionalText(24).map(JobRecord.decodeChainJobs)
        job.whereDirectory = s.optionalText(25)
        job.restoredJob = s.optionalInt64(26).map(JobID.init(rawValue:))
        return job
    }

    /// Seconds in `column`, nanoseconds in the next one; nil when the seconds are NULL.
    private static func timestamp(_ s: any CatalogStatement, _ column: Int32) -> FileStat.Timestamp? {
        guard let seconds = s.optionalInt64(column) else { return nil }
        return FileStat.Timestamp(seconds: seconds, nanoseconds: Int32(truncatingIfNeeded: s.int64(column + 1)))
    }

    /// Seconds in `column`, nanoseconds in the next one, for NOT NULL columns.
    static func instant(_ s: any CatalogStatement, _ column: Int32) -> FileStat.Timestamp {
        FileStat.Timestamp(seconds: s.int64(column), nanoseconds: Int32(truncatingIfNeeded: s.int64(column + 1)))
    }

    // MARK: Files

    private static let fileSelectSQL =
        "SELECT \(fileColumns.joined(separator: ", ")) FROM files WHERE job_id = ?1 ORDER BY file_index"

    public func forEachFile(job: JobID, _ body: (FileRecord) throws -> Void) throws {
        let select = try connection.prepareStream(Self.fileSelectSQL)
        try select.bind(job.rawValue, at: 1)
        while try select.step() {
            try body(try Self.decodeFile(select))
        }
    }

    public func files(job: JobID) throws(CatalogError) -> [FileRecord] {
        let select = try connection.prepareStream(Self.fileSelectSQL)
        try select.bind(job.rawValue, at: 1)
        var result: [FileRecord] = []
        while try select.step() {
            result.append(try Self.decodeFile(select))
        }
        return result
    }

    /// The state of a chain, streamed: a `stored` row is in it unless a later row of the same path (a later job
    /// of the chain, or the same job at a higher file index) is `stored` or `deleted` (uses the `files_path`
    /// index per row; the rows come in the order of the `(job_id, file_index)` key).
    public func forEachStateEntry(jobs: [JobID], _ body: (StateEntry) throws -> Void) throws {
        guard !jobs.isEmpty else { return }
        let list = (1...jobs.count).map { "?\($0)" }.joined(separator: ", ")
        let select = try connection.prepareStream(
            """
            SELECT f.job_id, f.file_index, f.path, f.type, f.chain, f.device, f.inode, f.link_target
            FROM files AS f
            WHERE f.job_id IN (\(list)) AND f.status = 'stored' AND NOT EXISTS (
                SELECT 1 FROM files AS g
                WHERE g.path = f.path AND g.job_id IN (\(list)) AND g.status IN ('stored', 'deleted')
                    AND (g.job_id > f.job_id OR (g.job_id = f.job_id AND g.file_index > f.file_index)))
            ORDER BY f.job_id, f.file_index
            """)
        for (offset, job) in jobs.enumerated() { try select.bind(job.rawValue, at: Int32(offset + 1)) }
        while try select.step() {
            let jobID = JobID(rawValue: select.int64(0))
            let fileIndex = select.int64(1)
            let what = "file \(fileIndex) of job \(jobID)"
            guard let kind = EntryKind(rawValue: select.text(3)) else {
                throw CatalogError.invalidValue("type of \(what)", select.text(3))
            }
            let chain = try select.withTextBytes(4) { (bytes) throws(CatalogError) in
                try CatalogJSON.decodeArray(bytes, what: "chain of \(what)")
            }
            try body(
                StateEntry(
                    jobID: jobID, fileIndex: fileIndex, path: select.blob(2) ?? [], kind: kind,
                    chained: !chain.isEmpty, device: UInt64(bitPattern: select.int64(5)),
                    inode: UInt64(bitPattern: select.int64(6)), linkTarget: select.blob(7)))
        }
    }

    /// Rows of one job by file index (ascending indexes give rows in file index order). Dense runs of indexes
    /// (a Full restored whole) are read as one range with a cached statement and filtered here; sparse ones
    /// with one `IN` statement per 500 indexes (under SQLite's bound-parameter limit).
    public func files(job: JobID, indexes: [Int64]) throws(CatalogError) -> [FileRecord] {
        var result: [FileRecord] = []
        result.reserveCapacity(indexes.count)
        if let first = indexes.first, let last = indexes.last, first <= last,
            last - first < 2 * Int64(indexes.count), zip(indexes, indexes.dropFirst()).allSatisfy({ $0 < $1 })
        {
            let select = try connection.cachedStatement(Self.fileRangeSQL)
            defer { select.reset() }
            try select.bind(job.rawValue, at: 1)
            try select.bind(first, at: 2)
            try select.bind(last, at: 3)
            var next = 0
            while next < indexes.count, try select.step() {
                let index = select.int64(1)
                while next < indexes.count && indexes[next] < index { next += 1 }
                guard next < indexes.count, indexes[next] == index else { continue }
                result.append(try Self.decodeFile(select))
                next += 1
            }
            return result
        }
        var start = 0
        while start < indexes.count {
            let part = indexes[start..<min(start + 500, indexes.count)]
            start = part.endIndex
            let list = (2...(part.count + 1)).map { "?\($0)" }.joined(separator: ", ")
            let select = try connection.prepare(
                "SELECT \(Self.fileColumns.joined(separator: ", ")) FROM files WHERE job_id = ?1 AND file_index IN ("
                    + list + ") ORDER BY file_index")
            try select.bind(job.rawValue, at: 1)
            for (offset, index) in part.enumerated() { try select.bind(index, at: Int32(offset + 2)) }
            while try select.step() {
                result.append(try Self.decodeFile(select))
            }
        }
        return result
    }

    private static let fileRangeSQL =
        "SELECT \(fileColumns.joined(separator: ", ")) FROM files WHERE job_id = ?1 AND file_index BETWEEN ?2 AND ?3 "
        + "ORDER BY file_index"

    /// Every row of `path` in any job, oldest job first (uses the `files_path` index).
    public func versions(of path: [UInt8]) throws(CatalogError) -> [FileRecord] {
        let select = try connection.prepare(
            "SELECT \(Self.fileColumns.joined(separator: ", ")) FROM files WHERE path = ?1 ORDER BY job_id, file_index")
        try select.bind(blob: path, at: 1)
        var result: [FileRecord] = []
        while try select.step() {
            result.append(try Self.decodeFile(select))
        }
        return result
    }

    private static func decodeFile(_ s: any CatalogStatement) throws(CatalogError) -> FileRecord {
        let jobID = JobID(rawValue: s.int64(0))
        let fileIndex = s.int64(1)
        // Built only for an error message (a string per row was a measurable part of a restore's reads).
        var what: String { "file \(fileIndex) of job \(jobID)" }
        guard let kind = EntryKind(rawValue: s.text(3)) else {
            throw CatalogError.invalidValue("type of \(what)", s.text(3))
        }
        guard let status = FileStatus(rawValue: s.text(4)) else {
            throw CatalogError.invalidValue("status of \(what)", s.text(4))
        }
        let chain = try s.withTextBytes(32) { (bytes) throws(CatalogError) in
            try CatalogJSON.decodeArray(bytes, what: "chain of \(what)")
        }
        let metadata = try s.withTextBytes(33) { (bytes) throws(CatalogError) in
            try CatalogJSON.decodeObject(bytes, what: "stage_metadata of \(what)")
        }
        return FileRecord(
            jobID: jobID, fileIndex: fileIndex, path: s.blob(2) ?? [], kind: kind, status: status,
            mode: UInt32(truncatingIfNeeded: s.int64(5)), uid: UInt32(truncatingIfNeeded: s.int64(6)),
            gid: UInt32(truncatingIfNeeded: s.int64(7)), userName: s.optionalText(8), groupName: s.optionalText(9),
            size: UInt64(bitPattern: s.int64(10)), atime: instant(s, 11), mtime: instant(s, 13),
            ctime: instant(s, 15), inode: UInt64(bitPattern: s.int64(17)), device: UInt64(bitPattern: s.int64(18)),
            rdev: UInt64(bitPattern: s.int64(19)), nlink: UInt64(bitPattern: s.int64(20)), linkTarget: s.blob(21),
            sourceSHA256: s.blob(22), storedSHA256: s.blob(23), signatureAlgorithm: s.optionalText(24),
            signature: s.blob(25), volumeID: s.optionalInt64(26), headerOffset: s.optionalInt64(27),
            dataOffset: s.optionalInt64(28), storedLength: s.optionalInt64(29), compression: s.optionalText(30),
            sparse: s.int64(31) != 0, chain: chain, stageMetadata: metadata,
            block: s.optionalInt64(34).map { Int(truncatingIfNeeded: $0) }, error: s.optionalText(35))
    }

    // MARK: Messages and volumes

    public func messages(job: JobID) throws(CatalogError) -> [JobMessage] {
        let select = try connection.prepare(
            """
            SELECT job_id, time, time_ns, severity, stage, path, text FROM job_messages
            WHERE job_id = ?1 ORDER BY id
            """)
        try select.bind(job.rawValue, at: 1)
        var result: [JobMessage] = []
        while try select.step() {
            result.append(
                JobMessage(
                    jobID: JobID(rawValue: select.int64(0)), time: Self.instant(select, 1),
                    severity: select.text(3), stage: select.optionalText(4), path: select.blob(5),
                    text: select.text(6)))
        }
        return result
    }

    public func volumes(job: JobID) throws(CatalogError) -> [VolumeRecord] {
        let select = try connection.prepare(
            "SELECT id, job_id, name, path, sequence, bytes, status FROM volumes WHERE job_id = ?1 ORDER BY sequence")
        try select.bind(job.rawValue, at: 1)
        return try Self.volumeRecords(select)
    }

    /// The rows of a statement that selects `id, job_id, name, path, sequence, bytes, status` of `volumes`.
    static func volumeRecords(_ select: any CatalogStatement) throws(CatalogError) -> [VolumeRecord] {
        var result: [VolumeRecord] = []
        while try select.step() {
            result.append(
                VolumeRecord(
                    id: select.int64(0), jobID: JobID(rawValue: select.int64(1)), name: select.text(2),
                    path: select.text(3), sequence: select.int64(4), bytes: select.int64(5), status: select.text(6)))
        }
        return result
    }
}
