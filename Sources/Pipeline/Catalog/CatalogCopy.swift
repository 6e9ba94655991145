/// Copies every row of one catalog into another that has no jobs yet (`optionhost catalog copy`: a SQLite file into
/// a PostgreSQL database), keeping every id, then compares the two: row counts per table and a SHA-256 over every
/// `files` row, column by column, read back from each side.
public enum CatalogCopy {
    /// What a catalog holds, for comparing the two sides.
    public struct Summary: Sendable, Equatable {
        /// Rows per table, in copy order.
        public var rows: [(table: String, count: Int64)]
        /// SHA-256 over every `files` row in (job_id, file_index) order, every column as read back.
        public var filesDigest: [UInt8]

        public static func == (left: Summary, right: Summary) -> Bool {
            left.rows.map(\.table) == right.rows.map(\.table) && left.rows.map(\.count) == right.rows.map(\.count)
                && left.filesDigest == right.filesDigest
        }
    }

    enum Kind {
        case integer
        case text
        case blob
    }

    /// The tables in an order their references allow, with every column (ids included) and its kind.
    static let tables: [(name: String, key: String, columns: [(String, Kind)])] = [
        ("filesets", "id", [("id", .integer), ("name", .text), ("md5", .text), ("text", .text)]),
        (
            "jobs", "id",
            [
                ("id", .integer), ("name", .text), ("type", .text), ("level", .text), ("status", .text),
                ("fileset_id", .integer), ("client_name", .text), ("start_time", .integer),
                ("start_time_ns", .integer), ("end_time", .integer), ("end_time_ns", .integer),
                ("since_time", .integer), ("since_time_ns", .integer), ("files_examined", .integer),
                ("files_stored", .integer), ("files_skipped", .integer), ("files_failed", .integer),
                ("entries_stored", .integer), ("bytes_read", .integer), ("bytes_stored", .integer),
                ("errors", .integer), ("warnings", .integer), ("chain_jobs", .text), ("where_dir", .text),
                ("restored_job_id", .integer),
            ]
        ),
        (
            "volumes", "id",
            [
                ("id", .integer), ("job_id", .integer), ("name", .text), ("path", .text), ("sequence", .integer),
                ("bytes", .integer), ("status", .text),
            ]
        ),
        ("files", "job_id, file_index", [("id", .integer)] + DatabaseCatalog.fileColumns.map { ($0, fileKind($0)) }),
        (
            "job_messages", "id",
            [
                ("id", .integer), ("job_id", .integer), ("time", .integer), ("time_ns", .integer), ("severity", .text),
                ("stage", .text), ("path", .blob), ("text", .text),
            ]
        ),
        ("job_data", "job_id, key", [("job_id", .integer), ("key", .text), ("value", .blob)]),
        (
            "search_content", "id",
            [
                ("id", .integer), ("sha256", .blob), ("mime", .text), ("encoding", .text), ("text", .text),
                ("truncated", .integer), ("note", .text),
            ]
        ),
        (
            "search_files", "job_id, file_index",
            [
                ("job_id", .integer), ("file_index", .integer), ("path", .blob), ("sha256", .blob),
                ("content_id", .integer), ("mime", .text), ("encoding", .text), ("note", .text),
            ]
        ),
    ]

    private static func fileKind(_ column: String) -> Kind {
        switch column {
        case "path", "link_target", "source_sha256", "stored_sha256", "signature": .blob
        case "type", "status", "user_name", "group_name", "signature_algorithm", "compression", "chain",
            "stage_metadata", "error":
            .text
        default: .integer
        }
    }

    /// Rows per transaction on the target: a failure loses at most one of them, and the target is refused anyway.
    static let rowsPerTransaction = 5_000

    /// Copies `source` into `target`, then compares them.
    ///
    /// - Throws: ``CatalogError``: the target already has jobs, or a read or write failed (naming the table).
    /// - Returns: The summaries of both sides (equal when the copy is whole).
    public static func copy(from source: DatabaseCatalog, to target: DatabaseCatalog) throws(CatalogError)
        -> (source: Summary, target: Summary)
    {
        if try target.connection.scalar("SELECT count(*) FROM jobs") > 0 {
            throw CatalogError.misuse("the target catalog \(target.path) already has jobs: copy into an empty one")
        }
        for table in tables {
            do throws(CatalogError) {
                try copyRows(of: table, from: source, to: target)
            } catch {
                throw error.adding(context: "cannot copy table \(table.name)")
            }
            if table.key == "id" { try target.catchUpSequence(of: table.name) }
        }
        return (try summary(of: source), try summary(of: target))
    }

    private static func copyRows(
        of table: (name: String, key: String, columns: [(String, Kind)]), from source: DatabaseCatalog,
        to target: DatabaseCatalog
    ) throws(CatalogError) {
        let names = table.columns.map(\.0).joined(separator: ", ")
        let select = try source.connection.prepare("SELECT \(names) FROM \(table.name) ORDER BY \(table.key)")
        let insert =
            "INSERT INTO \(table.name) (\(names)) VALUES ("
            + (1...table.columns.count).map { "?\($0)" }.joined(separator: ", ") + ")"
        var more = try select.step()
        while more {
            more = try target.connection.inTransaction { () throws(CatalogError) -> Bool in
                let statement = try target.connection.cachedStatement(insert)
                for _ in 0..<rowsPerTransaction {
                    for (offset, (_, kind)) in table.columns.enumerated() {
                        let column = Int32(offset)
                        let index = column + 1
                        switch kind {
                        case .integer: try statement.bind(select.optionalInt64(column), at: index)
                        case .text: try statement.bind(select.optionalText(column), at: index)
                        case .blob: try statement.bind(blob: select.blob(column), at: index)
                        }
                    }
                    try statement.run()
                    guard try select.step() else { return false }
                }
                return true
            }
        }
    }

    /// Row counts per table and the digest of every `files` row.
    public static func summary(of catalog: DatabaseCatalog) throws(CatalogError) -> Summary {
        var rows: [(table: String, count: Int64)] = []
        for table in tables {
            rows.append((table.name, try catalog.connection.scalar("SELECT count(*) FROM \(table.name)")))
        }
        let files = tables[3]
        let digester: Digester
        do {
            digester = try Digester(.sha256)
        } catch {
            throw CatalogError(code: .error, message: "\(error)")
        }
        let select = try catalog.connection.prepare(
            "SELECT \(files.columns.map(\.0).joined(separator: ", ")) FROM files ORDER BY job_id, file_index")
        while try select.step() {
            for (offset, (_, kind)) in files.columns.enumerated() {
                let column = Int32(offset)
                // A tag per value keeps NULL, "" and [] apart, and a length keeps neighbours apart.
                if select.isNull(column) {
                    digester.update([0])
                    continue
                }
                let bytes: [UInt8]
                switch kind {
                case .integer: bytes = Array(String(select.int64(column)).utf8)
                case .text: bytes = Array(select.text(column).utf8)
                case .blob: bytes = select.blob(column) ?? []
                }
                digester.update([1] + Array(String(bytes.count).utf8) + [0x3A] + bytes)
            }
        }
        do {
            return Summary(rows: rows, filesDigest: try digester.finalize())
        } catch {
            throw CatalogError(code: .error, message: "\(error)")
        }
    }
}
