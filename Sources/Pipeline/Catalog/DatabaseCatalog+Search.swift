// MARK: - The search index (schema version 2: search_content, search_text, search_files)

extension DatabaseCatalog {
    /// Writes the search rows of `files` that carry a ``SearchDocument``: called by ``insert(files:messages:)`` inside
    /// its transaction, so a file's `files` row and its search rows are committed together.
    ///
    /// Extracted text goes to `search_content` once per source SHA-256 (a second file with the same content finds
    /// the row and only points at it); every indexed file gets a `search_files` row with its own MIME type.
    ///
    /// Workers finish files out of order: the file that extracted a content may be written after a file of the
    /// same job that only points at it. Such a row waits with the note ``pendingNote`` (a small partial index
    /// finds it) and gets its `content_id` when the text arrives.
    func insertSearchRows(_ files: [FileRecord]) throws(CatalogError) {
        for file in files {
            // Only stored versions can be found and restored (a streamed file can still fail after its observers).
            guard file.status == .stored, let document = file.searchDocument else { continue }
            var contentID: Int64?
            if let digest = file.sourceSHA256, document.content != .metadataOnly {
                if document.content == .extracted {
                    let insert = try connection.cachedStatement(
                        """
                        INSERT INTO search_content (sha256, mime, encoding, text, truncated, note)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (sha256) DO NOTHING RETURNING id
                        """)
                    try insert.bind(blob: digest, at: 1)
                    try insert.bind(document.mimeType, at: 2)
                    try insert.bind(document.encoding, at: 3)
                    try insert.bind(document.text, at: 4)
                    try insert.bind(document.textTruncated ? 1 : 0, at: 5)
                    try insert.bind(document.note, at: 6)
                    // A row comes back only when the content is new (no row on a conflict).
                    let newID = try insert.step() ? insert.int64(0) : nil
                    insert.reset()
                    if let newID {
                        let waiting = try connection.cachedStatement(
                            "UPDATE search_files SET content_id = ?1, note = NULL WHERE sha256 = ?2 AND note = '\(Self.pendingNote)'")
                        try waiting.bind(newID, at: 1)
                        try waiting.bind(blob: digest, at: 2)
                        try waiting.run()
                    }
                }
                let find = try connection.cachedStatement(
                    "SELECT id FROM search_content WHERE sha256 = ?1")
                try find.bind(blob: digest, at: 1)
                contentID = try find.step() ? find.int64(0) : nil
                find.reset()
            }
            let insert = try connection.cachedStatement(
                """
                INSERT INTO search_files (job_id, file_index, path, sha256, content_id, mime, encoding, note)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """)
            try insert.bind(file.jobID.rawValue, at: 1)
            try insert.bind(file.fileIndex, at: 2)
            try insert.bind(blob: file.path, at: 3)
            try insert.bind(blob: file.sourceSHA256, at: 4)
            try insert.bind(contentID, at: 5)
            try insert.bind(document.mimeType, at: 6)
            try insert.bind(document.encoding, at: 7)
            let waits = contentID == nil && document.content == .alreadyIndexed && file.sourceSHA256 != nil
            try insert.bind(waits ? Self.pendingNote : document.note, at: 8)
            try insert.run()
        }
    }

    /// The note of a row whose text another file of the job is still extracting (`search_files_pending`).
    static let pendingNote = "text pending"

    /// Removes a job's search rows and the content no other job's files point at (part of ``deleteJob(_:)``'s
    /// transaction).
    func deleteSearchRows(job id: JobID) throws(CatalogError) {
        let contents = try connection.prepare(
            "SELECT DISTINCT content_id FROM search_files WHERE job_id = ?1 AND content_id IS NOT NULL")
        try contents.bind(id.rawValue, at: 1)
        var contentIDs: [Int64] = []
        while try contents.step() { contentIDs.append(contents.int64(0)) }
        let files = try connection.cachedStatement("DELETE FROM search_files WHERE job_id = ?1")
        try files.bind(id.rawValue, at: 1)
        try files.run()
        let orphan = try connection.cachedStatement(
            "DELETE FROM search_content WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM search_files WHERE content_id = ?1)")
        for contentID in contentIDs {
            try orphan.bind(contentID, at: 1)
            try orphan.run()
        }
    }

    // MARK: - Reading

    /// The source SHA-256 of every content the index holds: the `index` stage extracts none of them again.
    public func indexedContent() throws(CatalogError) -> IndexedContentSet {
        let select = try connection.prepare("SELECT sha256 FROM search_content")
        var digests: Set<[UInt8]> = []
        while try select.step() {
            if let digest = select.blob(0) { digests.insert(digest) }
        }
        return IndexedContentSet(digests)
    }

    /// Why `expression` is not a valid FTS5 query (SQLite's message without its `fts5: ` prefix), or nil when it is.
    public func searchQueryProblem(_ expression: String) -> String? {
        if dialect == .postgreSQL {
            switch PostgreSQLTextQuery.translate(expression) {
            case .success: return nil
            case .failure(let problem): return problem.message
            }
        }
        do throws(CatalogError) {
            let probe = try connection.prepare("SELECT rowid FROM search_text WHERE search_text MATCH ?1 LIMIT 1")
            try probe.bind(expression, at: 1)
            _ = try probe.step()
            return nil
        } catch {
            guard error.code == .error else { return "\(error)" }
            var message = error.message
            if message.hasPrefix("fts5: ") { message.removeFirst(6) }
            return message
        }
    }

    /// The columns ``indexedFile(_:)`` reads, first in every search query (`s` search_files, `j` jobs, `f` files).
    private static let indexedFileColumns = """
        s.job_id, s.file_index, s.path, s.sha256, s.mime, s.encoding, j.name, j.client_name, j.start_time,
        j.start_time_ns, f.size, f.mtime, f.mtime_ns
        """

    private static let indexedFileJoins = """
        JOIN jobs AS j ON j.id = s.job_id
        LEFT JOIN files AS f ON f.job_id = s.job_id AND f.file_index = s.file_index
        """

    private static func indexedFile(_ s: any CatalogStatement) -> IndexedFile {
        let hasFile = !s.isNull(10)
        return IndexedFile(
            jobID: JobID(rawValue: s.int64(0)), fileIndex: s.int64(1), path: s.blob(2) ?? [], sourceSHA256: s.blob(3),
            mimeType: s.text(4), encoding: s.optionalText(5), jobName: s.text(6), clientName: s.optionalText(7),
            jobStart: instant(s, 8), size: hasFile ? UInt64(bitPattern: s.int64(10)) : nil,
            mtime: hasFile ? instant(s, 11) : nil)
    }

    /// File versions whose indexed text matches the FTS5 queries in `groups`: every hit of the first query, ranked by
    /// bm25, then the hits of the next query not found yet, and so on; at most `limit` hits.
    ///
    /// - Throws: ``CatalogError`` (`SQLITE_ERROR` for a query FTS5 cannot parse: check with
    ///   ``searchQueryProblem(_:)`` first).
    public func search(_ groups: [String], filter: SearchFilter, limit: Int?) throws(CatalogError) -> [SearchHit] {
        var hits: [SearchHit] = []
        var seen: Set<[Int64]> = []
        let mime = filter.mimeCondition
        for (group, expression) in groups.enumerated() {
            let select = try connection.prepare(
                """
                SELECT \(Self.indexedFileColumns), m.score, m.snippet
                FROM (\(Self.matchSQL[dialect] ?? "")) AS m
                JOIN search_files AS s ON s.content_id = m.id
                \(Self.indexedFileJoins)
                WHERE (?2 IS NULL OR s.job_id = ?2) AND (?3 IS NULL OR s.mime = ?3) AND (?4 IS NULL OR s.mime LIKE ?4)
                ORDER BY m.score, s.job_id DESC, s.file_index
                """)
            switch dialect {
            case .sqlite:
                try select.bind(expression, at: 1)
            case .postgreSQL:
                switch PostgreSQLTextQuery.translate(expression) {
                case .success(let query): try select.bind(query, at: 1)
                case .failure(let problem): throw CatalogError(code: .error, message: problem.message)
                }
            }
            try select.bind(filter.jobID?.rawValue, at: 2)
            try select.bind(mime.exact, at: 3)
            try select.bind(mime.prefix, at: 4)
            while try select.step() {
                let file = Self.indexedFile(select)
                let key = [file.jobID.rawValue, file.fileIndex]
                guard filter.accepts(path: file.path), !seen.contains(key) else { continue }
                seen.insert(key)
                // ts_headline marks each word of a phrase; FTS5 marks the phrase: adjacent marks become one.
                let snippet = dialect == .sqlite ? select.text(14) : select.text(14).replacing("] [", with: " ")
                hits.append(SearchHit(file: file, snippet: snippet, score: select.double(13), group: group))
                if let limit, hits.count >= limit { return hits }
            }
        }
        return hits
    }

    /// The matching contents of query `?1` with their score (lower is better: bm25, or minus `ts_rank`) and a
    /// snippet with the matches in brackets: FTS5 on SQLite, the `tsvector` column on PostgreSQL.
    private static let matchSQL: [CatalogDialect: String] = [
        .sqlite: """
            SELECT rowid AS id, bm25(search_text) AS score, snippet(search_text, 0, '[', ']', '…', 16) AS snippet
            FROM search_text WHERE search_text MATCH ?1
            """,
        .postgreSQL: """
            SELECT c.id, -ts_rank(c.search_text, q) AS score,
                ts_headline('simple', c.text, q, 'StartSel=[, StopSel=], MaxWords=16, MinWords=8, ShortWord=0, '
                    || 'FragmentDelimiter=…') AS snippet
            FROM search_content AS c, to_tsquery('simple', ?1) AS q WHERE c.search_text @@ q
            """,
    ]

    /// Calls `body` with every indexed file version (of one job, or all), in job and file order, with its text.
    public func forEachSearchRecord(
        job: JobID?, _ body: (SearchExportRecord) throws -> Void
    ) throws {
        let select = try connection.prepare(
            """
            SELECT \(Self.indexedFileColumns), c.text, c.truncated, f.ctime, f.ctime_ns, f.user_name, f.group_name,
                f.uid, f.gid
            FROM search_files AS s
            LEFT JOIN search_content AS c ON c.id = s.content_id
            \(Self.indexedFileJoins)
            WHERE ?1 IS NULL OR s.job_id = ?1
            ORDER BY s.job_id, s.file_index
            """)
        try select.bind(job?.rawValue, at: 1)
        while try select.step() {
            let hasFile = !select.isNull(10)
            try body(
                SearchExportRecord(
                    file: Self.indexedFile(select), text: select.optionalText(13), textTruncated: select.int64(14) != 0,
                    ctime: hasFile ? Self.instant(select, 15) : nil, userName: select.optionalText(17),
                    groupName: select.optionalText(18),
                    uid: hasFile ? UInt32(truncatingIfNeeded: select.int64(19)) : nil,
                    gid: hasFile ? UInt32(truncatingIfNeeded: select.int64(20)) : nil))
        }
    }
}
