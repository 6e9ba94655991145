// MARK: - Writing (one writer; each call is one transaction)

extension DatabaseCatalog {
    /// Records a new job and its FileSet (name + digest, added once) in one transaction.
    ///
    /// On PostgreSQL a job recorded as running (`R`) holds its JobId lock, an advisory lock of this session, until
    /// ``finishJob(_:)`` or until the session ends.
    ///
    /// - Returns: The job's id: the next number, or `job.id` when it is set (rebuilding a catalog).
    /// - Throws: ``CatalogError`` (`SQLITE_CONSTRAINT` when `job.id` is taken).
    public func beginJob(_ job: JobRecord) throws(CatalogError) -> JobID {
        let sessionLock = dialect == .postgreSQL && job.status == .running && connection.transactionDepth == 0
        let id = try connection.inTransaction { () throws(CatalogError) -> JobID in
            let fileSet = try connection.cachedStatement(
                """
                INSERT INTO filesets (name, md5, text) VALUES (?1, ?2, ?3)
                ON CONFLICT (name, md5) DO UPDATE SET text = coalesce(filesets.text, excluded.text)
                RETURNING id
                """)
            try fileSet.bind(job.fileSetName, at: 1)
            try fileSet.bind(job.fileSetDigest, at: 2)
            try fileSet.bind(job.fileSetText, at: 3)
            guard try fileSet.step() else { throw CatalogError.misuse("FileSet insert returned no id") }
            let fileSetID = fileSet.int64(0)
            fileSet.reset()

            let insert = try connection.cachedStatement(
                """
                INSERT INTO jobs (id, name, type, level, status, fileset_id, client_name,
                    start_time, start_time_ns, end_time, end_time_ns, since_time, since_time_ns,
                    files_examined, files_stored, files_skipped, files_failed, entries_stored,
                    bytes_read, bytes_stored, errors, warnings, where_dir, restored_job_id)
                VALUES (\(dialect.newID("jobs", "?1")), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
                RETURNING id
                """)
            try insert.bind(job.id == .unassigned ? nil : job.id.rawValue, at: 1)
            try insert.bind(job.name, at: 2)
            try insert.bind(job.type, at: 3)
            try insert.bind(job.level.rawValue, at: 4)
            try insert.bind(job.status.rawValue, at: 5)
            try insert.bind(fileSetID, at: 6)
            try insert.bind(job.clientName, at: 7)
            try insert.bind(job.startTime.seconds, at: 8)
            try insert.bind(Int64(job.startTime.nanoseconds), at: 9)
            try insert.bind(job.endTime?.seconds, at: 10)
            try insert.bind(job.endTime.map { Int64($0.nanoseconds) }, at: 11)
            try insert.bind(job.sinceTime?.seconds, at: 12)
            try insert.bind(job.sinceTime.map { Int64($0.nanoseconds) }, at: 13)
            try bindCounts(of: job, to: insert, from: 14)
            try insert.bind(job.whereDirectory, at: 23)
            try insert.bind(job.restoredJob?.rawValue, at: 24)
            guard try insert.step() else { throw CatalogError.misuse("job insert returned no id") }
            let id = JobID(rawValue: insert.int64(0))
            insert.reset()
            if job.id != .unassigned { try catchUpSequence(of: "jobs") }
            // Only when known (schema 4): NULL means "not recorded", as for every job of an older build.
            if let chainJobs = job.chainJobs {
                let chain = try connection.cachedStatement("UPDATE jobs SET chain_jobs = ?1 WHERE id = ?2")
                try chain.bind(JobRecord.encodeChainJobs(chainJobs), at: 1)
                try chain.bind(id.rawValue, at: 2)
                try chain.run()
            }
            // PostgreSQL: the job's process holds its JobId lock from before the row is visible to other sessions
            // until the job ends, so a row `R` whose lock is free has no process (``markAbandonedJobs(finder:)``).
            // Not inside a caller's transaction (a scan): the row is visible only at that commit, with its final
            // status, and a session lock would be released by ``finishJob(_:)`` before the commit and outlive a
            // rollback.
            if sessionLock { try lockJobID(id) }
            return id
        }
        if sessionLock { heldJobLocks.insert(id) }
        return id
    }

    /// Records the job's final status, end time and counts.
    ///
    /// - Throws: ``CatalogError``: `SQLITE_NOTFOUND` when the job is not in the catalog.
    public func finishJob(_ job: JobRecord) throws(CatalogError) {
        guard job.id != .unassigned else { throw CatalogError.misuse("finishJob needs the id beginJob returned") }
        let update = try connection.cachedStatement(
            """
            UPDATE jobs SET status = ?1, end_time = ?2, end_time_ns = ?3,
                files_examined = ?4, files_stored = ?5, files_skipped = ?6, files_failed = ?7, entries_stored = ?8,
                bytes_read = ?9, bytes_stored = ?10, errors = ?11, warnings = ?12
            WHERE id = ?13
            """)
        try update.bind(job.status.rawValue, at: 1)
        try update.bind(job.endTime?.seconds, at: 2)
        try update.bind(job.endTime.map { Int64($0.nanoseconds) }, at: 3)
        try bindCounts(of: job, to: update, from: 4)
        try update.bind(job.id.rawValue, at: 13)
        try update.run()
        if connection.changes == 0 { throw CatalogError.notFound("job \(job.id)") }
        // After the final status is committed: a session that takes the lock from now on finds the job ended.
        if heldJobLocks.contains(job.id) { try unlockJobID(job.id) }
    }

    /// Binds the nine counters in column order from parameter `first`.
    private func bindCounts(
        of job: JobRecord, to statement: any CatalogStatement, from first: Int32
    ) throws(CatalogError) {
        let counts = [
            job.filesExamined, job.filesStored, job.filesSkipped, job.filesFailed, job.entriesStored,
            job.bytesRead, job.bytesStored, job.errors, job.warnings,
        ]
        for (offset, value) in counts.enumerated() {
            try statement.bind(value, at: first + Int32(offset))
        }
    }

    /// Records a volume; returns its id (`volume.id` when that is not 0).
    public func addVolume(_ volume: VolumeRecord) throws(CatalogError) -> Int64 {
        let insert = try connection.cachedStatement(
            """
            INSERT INTO volumes (id, job_id, name, path, sequence, bytes, status)
            VALUES (\(dialect.newID("volumes", "?1")), ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id
            """)
        try insert.bind(volume.id == 0 ? nil : volume.id, at: 1)
        try insert.bind(volume.jobID.rawValue, at: 2)
        try insert.bind(volume.name, at: 3)
        try insert.bind(volume.path, at: 4)
        try insert.bind(volume.sequence, at: 5)
        try insert.bind(volume.bytes, at: 6)
        try insert.bind(volume.status, at: 7)
        guard try insert.step() else { throw CatalogError.misuse("volume insert returned no id") }
        let id = insert.int64(0)
        insert.reset()
        if volume.id != 0 { try catchUpSequence(of: "volumes") }
        return id
    }

    /// Sets a volume's size and status.
    ///
    /// - Throws: ``CatalogError``: `SQLITE_NOTFOUND` when there is no such volume.
    public func updateVolume(id: Int64, bytes: Int64, status: String) throws(CatalogError) {
        let update = try connection.cachedStatement("UPDATE volumes SET bytes = ?1, status = ?2 WHERE id = ?3")
        try update.bind(bytes, at: 1)
        try update.bind(status, at: 2)
        try update.bind(id, at: 3)
        try update.run()
        if connection.changes == 0 { throw CatalogError.notFound("volume \(id)") }
    }

    /// Adds file records and messages in one transaction (all or none).
    ///
    /// - Throws: ``CatalogError`` naming the record that failed, e.g. `SQLITE_CONSTRAINT` for a `fileIndex` used
    ///   twice in a job or a job that is not in the catalog.
    public func insert(files: [FileRecord], messages: [JobMessage]) throws(CatalogError) {
        if files.isEmpty && messages.isEmpty { return }
        try connection.inTransaction { () throws(CatalogError) in
            if !files.isEmpty, let postgreSQL = connection as? PostgreSQLConnection {
                try copyFileRows(files, into: postgreSQL)
                try insertSearchRows(files)
            } else if !files.isEmpty {
                try insertFileRowsOneByOne(files)
                try insertSearchRows(files)
            }
            if !messages.isEmpty {
                let insert = try connection.cachedStatement(
                    """
                    INSERT INTO job_messages (job_id, time, time_ns, severity, stage, path, text)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                    """)
                for message in messages {
                    do throws(CatalogError) {
                        try insert.bind(message.jobID.rawValue, at: 1)
                        try insert.bind(message.time.seconds, at: 2)
                        try insert.bind(Int64(message.time.nanoseconds), at: 3)
                        try insert.bind(message.severity, at: 4)
                        try insert.bind(message.stage, at: 5)
                        try insert.bind(blob: message.path, at: 6)
                        try insert.bind(message.text, at: 7)
                        try insert.run()
                    } catch {
                        throw error.adding(context: "cannot insert a message of job \(message.jobID)")
                    }
                }
            }
        }
    }

    /// One INSERT per row (SQLite: a function call, no round trip); a failure names the row. Inside the caller's
    /// transaction.
    func insertFileRowsOneByOne(_ files: [FileRecord]) throws(CatalogError) {
        let insert = try connection.cachedStatement(Self.insertFileSQL)
        var json = JSONMemo()
        for file in files {
            do throws(CatalogError) {
                try bind(file, to: insert, json: &json)
                try insert.run()
            } catch {
                let path = String(decoding: file.path, as: UTF8.self)
                throw error.adding(context: "cannot insert file \(file.fileIndex) of job \(file.jobID) (\(path))")
            }
        }
    }

    // MARK: - The files row

    /// The `files` columns in the order ``insertFileSQL`` binds them and ``fileSelectSQL`` reads them.
    static let fileColumns = [
        "job_id", "file_index", "path", "type", "status", "mode", "uid", "gid", "user_name", "group_name", "size",
        "atime", "atime_ns", "mtime", "mtime_ns", "ctime", "ctime_ns", "inode", "device", "rdev", "nlink",
        "link_target", "source_sha256", "stored_sha256", "signature_algorithm", "signature", "volume_id",
        "header_offset", "data_offset", "stored_length", "compression", "sparse", "chain", "stage_metadata", "block",
        "error",
    ]

    static let insertFileSQL =
        "INSERT INTO files (\(fileColumns.joined(separator: ", "))) VALUES ("
        + (1...fileColumns.count).map { "?\($0)" }.joined(separator: ", ") + ")"

    /// The JSON text of the previous row's chain and metadata: files of a job mostly share them.
    private struct JSONMemo {
        var chain: [String] = []
        var chainText = CatalogJSON.encode([String]())
        var metadata: [String: String] = [:]
        var metadataText = CatalogJSON.encode([String: String]())

        mutating func text(for chain: [String]) -> [UInt8] {
            if chain != self.chain {
                self.chain = chain
                chainText = CatalogJSON.encode(chain)
            }
            return chainText
        }

        mutating func text(for metadata: [String: String]) -> [UInt8] {
            if metadata != self.metadata {
                self.metadata = metadata
                metadataText = CatalogJSON.encode(metadata)
            }
            return metadataText
        }
    }

    /// The rows of one COPY piece on PostgreSQL: ~120 KiB of the small corpus' rows (~480 bytes each in binary form),
    /// sent while the next piece is encoded.
    static let rowsPerCopyPiece = 256

    /// ``fileColumns`` as PostgreSQL's binary COPY takes them.
    static let copyFileSQL = "COPY files (\(fileColumns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"

    /// PostgreSQL: the rows in one `COPY … FROM STDIN (FORMAT binary)`. Measured on the small corpus (20,421 rows,
    /// release build, load 3–7): multi-row INSERTs of 256 rows cost the server ~1.0 s of statement time per job,
    /// ~12% of it binding 9,216 text parameters a statement, and optionhost ~0.3 s more CPU than SQLite formatting
    /// them as text; COPY sends each value once, integers as 8 bytes and `bytea` raw, and the job took 2.42x SQLite's
    /// time before and 1.06x after (`Benchmarks/postgres.sh`). A failure names the rows of the COPY and, from the
    /// server's detail, the key (a COPY stops at the first bad row).
    private func copyFileRows(_ files: [FileRecord], into postgreSQL: PostgreSQLConnection) throws(CatalogError) {
        var json = JSONMemo()
        var start = 0
        do throws(CatalogError) {
            try postgreSQL.copyIn(Self.copyFileSQL) { (buffer) throws(CatalogError) -> Bool in
                let end = min(start + Self.rowsPerCopyPiece, files.count)
                for file in files[start..<end] {
                    try Self.encode(file, into: &buffer, json: &json)
                }
                start = end
                return start < files.count
            }
        } catch {
            let indexes = files.map(\.fileIndex)
            throw error.adding(
                context: "cannot insert files \(indexes.min() ?? 0)-\(indexes.max() ?? 0) of job "
                    + "\(files.first?.jobID ?? .unassigned) (\(files.count) rows in one COPY)")
        }
    }

    /// One `files` row in ``fileColumns`` order, with the types of the PostgreSQL schema (`int8`, `text`, `bytea`)
    /// and the values ``bind(_:to:json:base:)`` binds.
    private static func encode(
        _ file: FileRecord, into b: inout PostgreSQLCopyBuffer, json: inout JSONMemo
    ) throws(CatalogError) {
        b.beginRow(fields: fileColumns.count)
        b.append(file.jobID.rawValue)
        b.append(file.fileIndex)
        b.append(blob: file.path)
        try b.append(file.kind.rawValue)
        try b.append(file.status.rawValue)
        b.append(Int64(file.mode))
        b.append(Int64(file.uid))
        b.append(Int64(file.gid))
        try b.append(file.userName)
        try b.append(file.groupName)
        b.append(Int64(bitPattern: file.size))
        b.append(file.atime.seconds)
        b.append(Int64(file.atime.nanoseconds))
        b.append(file.mtime.seconds)
        b.append(Int64(file.mtime.nanoseconds))
        b.append(file.ctime.seconds)
        b.append(Int64(file.ctime.nanoseconds))
        b.append(Int64(bitPattern: file.inode))
        b.append(Int64(bitPattern: file.device))
        b.append(Int64(bitPattern: file.rdev))
        b.append(Int64(bitPattern: file.nlink))
        b.append(blob: file.linkTarget)
        b.append(blob: file.sourceSHA256)
        b.append(blob: file.storedSHA256)
        try b.append(file.signatureAlgorithm)
        b.append(blob: file.signature)
        b.append(file.volumeID)
        b.append(file.headerOffset)
        b.append(file.dataOffset)
        b.append(file.storedLength)
        try b.append(file.compression)
        b.append(Int64(file.sparse ? 1 : 0))
        try b.append(textBytes: json.text(for: file.chain))
        try b.append(textBytes: json.text(for: file.stageMetadata))
        b.append(file.block.map { Int64($0) })
        try b.append(file.error)
    }

    private func bind(
        _ file: FileRecord, to s: any CatalogStatement, json: inout JSONMemo, base: Int32 = 0
    ) throws(CatalogError) {
        try s.bind(file.jobID.rawValue, at: base + 1)
        try s.bind(file.fileIndex, at: base + 2)
        try s.bind(blob: file.path, at: base + 3)
        try s.bind(file.kind.rawValue, at: base + 4)
        try s.bind(file.status.rawValue, at: base + 5)
        try s.bind(Int64(file.mode), at: base + 6)
        try s.bind(Int64(file.uid), at: base + 7)
        try s.bind(Int64(file.gid), at: base + 8)
        try s.bind(file.userName, at: base + 9)
        try s.bind(file.groupName, at: base + 10)
        try s.bind(Int64(bitPattern: file.size), at: base + 11)
        try s.bind(file.atime.seconds, at: base + 12)
        try s.bind(Int64(file.atime.nanoseconds), at: base + 13)
        try s.bind(file.mtime.seconds, at: base + 14)
        try s.bind(Int64(file.mtime.nanoseconds), at: base + 15)
        try s.bind(file.ctime.seconds, at: base + 16)
        try s.bind(Int64(file.ctime.nanoseconds), at: base + 17)
        try s.bind(Int64(bitPattern: file.inode), at: base + 18)
        try s.bind(Int64(bitPattern: file.device), at: base + 19)
        try s.bind(Int64(bitPattern: file.rdev), at: base + 20)
        try s.bind(Int64(bitPattern: file.nlink), at: base + 21)
        try s.bind(blob: file.linkTarget, at: base + 22)
        try s.bind(blob: file.sourceSHA256, at: base + 23)
        try s.bind(blob: file.storedSHA256, at: base + 24)
        try s.bind(file.signatureAlgorithm, at: base + 25)
        try s.bind(blob: file.signature, at: base + 26)
        try s.bind(file.volumeID, at: base + 27)
        try s.bind(file.headerOffset, at: base + 28)
        try s.bind(file.dataOffset, at: base + 29)
        try s.bind(file.storedLength, at: base + 30)
        try s.bind(file.compression, at: base + 31)
        try s.bind(file.sparse ? 1 : 0, at: base + 32)
        try s.bind(textBytes: json.text(for: file.chain), at: base + 33)
        try s.bind(textBytes: json.text(for: file.stageMetadata), at: base + 34)
        try s.bind(file.block.map { Int64($0) }, at: base + 35)
        try s.bind(file.error, at: base + 36)
    }
}
