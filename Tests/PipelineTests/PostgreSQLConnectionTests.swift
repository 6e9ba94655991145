import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// The PostgreSQL connection under the catalog, against a real server (``PostgreSQLTestServer``).
final class PostgreSQLConnectionTests: XCTestCase {
    var server: PostgreSQLTestServer!
    var database: String!

    override func setUpWithError() throws {
        server = try PostgreSQLTestServer.shared()
        database = try server.createDatabase()
    }

    func connect() throws -> PostgreSQLConnection {
        try PostgreSQLConnection(settings: server.settings(database: database))
    }

    func testEveryByteValueAndIntegerRangeRoundTrip() throws {
        let connection = try connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, b BYTEA, s TEXT, n BIGINT)")
        let insert = try connection.cachedStatement("INSERT INTO t (id, b, s, n) VALUES (?1, ?2, ?3, ?4)")
        let rows: [(Int64, [UInt8]?, String?, Int64?)] = [
            (1, Array(0...255), "rené 😀 '?1' \"x\"", Int64.min),
            (2, [], "", Int64.max),
            (3, nil, nil, nil),
        ]
        for row in rows {
            try insert.bind(row.0, at: 1)
            try insert.bind(blob: row.1, at: 2)
            try insert.bind(row.2, at: 3)
            try insert.bind(row.3, at: 4)
            try insert.run()
            XCTAssertEqual(connection.changes, 1)
        }
        let select = try connection.prepare("SELECT id, b, s, n FROM t WHERE id >= ?1 ORDER BY id")
        try select.bind(1, at: 1)
        var read: [(Int64, [UInt8]?, String?, Int64?)] = []
        while try select.step() {
            read.append((select.int64(0), select.blob(1), select.optionalText(2), select.optionalInt64(3)))
        }
        XCTAssertEqual(read.count, 3)
        for (got, want) in zip(read, rows) {
            XCTAssertEqual(got.0, want.0)
            XCTAssertEqual(got.1, want.1)
            XCTAssertEqual(got.2, want.2)
            XCTAssertEqual(got.3, want.3)
        }
        XCTAssertFalse(try select.step())
    }

    func testPlaceholdersOutsideQuotesOnly() {
        let (sql, count) = PostgreSQLStatement.translatePlaceholders("SELECT '?1', \"?2\" FROM t WHERE a = ?12 OR b = ?3")
        XCTAssertEqual(sql, "SELECT '?1', \"?2\" FROM t WHERE a = $12 OR b = $3")
        XCTAssertEqual(count, 12)
    }

    func testConstraintViolationCarriesSQLStateAndStatement() throws {
        let connection = try connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        try connection.execute("INSERT INTO t VALUES (7)")
        let insert = try connection.prepare("INSERT INTO t VALUES (?1)")
        try insert.bind(7, at: 1)
        XCTAssertThrowsError(try insert.run()) { error in
            guard let error = error as? CatalogError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, .constraint)
            XCTAssertEqual(error.sqlState, "23505")
            XCTAssertEqual(
                error.description,
                "duplicate key value violates unique constraint \"t_pkey\" (SQLSTATE 23505) — SQL: INSERT INTO t VALUES (?1)")
        }
        // The connection is usable after a failed statement.
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), 1)
    }

    func testTextWithNULIsRefusedNotTruncated() throws {
        let connection = try connect()
        defer { connection.close() }
        let select = try connection.prepare("SELECT ?1::text")
        XCTAssertThrowsError(try select.bind("a\u{0}b", at: 1)) { error in
            XCTAssertEqual(
                "\(error)",
                "parameter ?1 holds a NUL character, which PostgreSQL text cannot store (SQLITE_MISMATCH) — SQL: SELECT ?1::text")
        }
    }

    func testTransactionRollsBackWhenTheBodyThrows() throws {
        let connection = try connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        XCTAssertThrowsError(
            try connection.inTransaction { () throws(CatalogError) in
                try connection.execute("INSERT INTO t VALUES (1)")
                try connection.execute("INSERT INTO t VALUES (1)")
            })
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), 0)
        try connection.inTransaction { () throws(CatalogError) in try connection.execute("INSERT INTO t VALUES (2)") }
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), 1)
    }

    func testConnectFailureNamesTheServerAndNeverThePassword() throws {
        let settings = PostgreSQLSettings(
            databaseName: "no_such_db", address: server.socketDirectory, user: server.superuser,
            password: "s3cret-Pa55")
        XCTAssertThrowsError(try PostgreSQLConnection(settings: settings)) { error in
            let text = "\(error)"
            XCTAssertTrue(
                text.hasPrefix(
                    "cannot connect to the PostgreSQL catalog database \"no_such_db\" on \(server.socketDirectory) as "
                        + "optionhost: "), text)
            XCTAssertTrue(text.contains("database \"no_such_db\" does not exist"), text)
            XCTAssertFalse(text.contains("s3cret"), text)
            XCTAssertEqual((error as? CatalogError)?.code, .cantOpen)
        }
        XCTAssertFalse(settings.description.contains("s3cret"))
    }

    func testATerminatedSessionFailsTheNextCallAsAConnectionError() throws {
        let connection = try connect()
        let admin = try connect()
        defer {
            connection.close()
            admin.close()
        }
        XCTAssertEqual(try connection.scalar("SELECT 1"), 1)
        let terminate = try admin.prepare("SELECT pg_terminate_backend(?1::int)")
        try terminate.bind(Int64(connection.backendPID), at: 1)
        XCTAssertTrue(try terminate.step())
        XCTAssertEqual(terminate.int64(0), 1)
        XCTAssertThrowsError(try connection.scalar("SELECT 2")) { error in
            guard let error = error as? CatalogError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, .ioError, "\(error)")
            XCTAssertEqual(error.sqlState, "08006", "\(error)")
            XCTAssertTrue(
                error.description.hasPrefix(
                    "FATAL:  terminating connection due to administrator command; server closed the connection "
                        + "unexpectedly; This probably means"), error.description)
        }
        XCTAssertFalse(connection.isConnected)
    }

    // MARK: - COPY

    /// Files rows with every byte value in the byte columns, every optional NULL, and the extremes of every number.
    private func awkwardFiles(job: JobID) -> [FileRecord] {
        let all: [UInt8] = (0...255).map { UInt8($0) }
        let reversed: [UInt8] = all.reversed()
        let chain: [String] = ["gpg:recipient=\"a b\"", "x\\y\n\t\u{1}é"]
        let metadata: [String: String] = ["": "\\."]
        let oldest = FileStat.Timestamp(seconds: Int64.min, nanoseconds: 0)
        let newest = FileStat.Timestamp(seconds: Int64.max, nanoseconds: 999_999_999)
        let before = FileStat.Timestamp(seconds: -1, nanoseconds: 1)
        let full = FileRecord(
            jobID: job, fileIndex: 1, path: all, kind: .file, status: .stored, mode: UInt32.max, uid: UInt32.max,
            gid: 0, userName: "rené 😀\t\\N", groupName: "\\.", size: UInt64.max, atime: oldest, mtime: newest,
            ctime: before, inode: UInt64.max, device: 0x8000_0000_0000_0000, rdev: 1, nlink: UInt64.max,
            linkTarget: reversed, sourceSHA256: Array(all[0..<32]), storedSHA256: [UInt8](repeating: 0, count: 32),
            signatureAlgorithm: "SHA256", signature: [0xFF, 0, 0x5C], volumeID: nil, headerOffset: Int64.max,
            dataOffset: Int64.min, storedLength: 0, compression: "", sparse: true, chain: chain,
            stageMetadata: metadata, block: Int.max, error: "line1\nline2\r\\.")
        let bare = FileRecord(jobID: job, fileIndex: 2, path: [], kind: .directory, status: .deleted)
        let rest = (3...2_600).map { (index: Int) -> FileRecord in
            let path: [UInt8] = Array("/d/\(index)".utf8) + [UInt8(index % 256)]
            let mtime = FileStat.Timestamp(seconds: Int64(index), nanoseconds: Int32(index))
            return FileRecord(
                jobID: job, fileIndex: Int64(index), path: path, kind: .file, size: UInt64(index), mtime: mtime)
        }
        return [full, bare] + rest
    }

    /// COPY (the batch path on PostgreSQL) and one INSERT per row (SQLite's path) store the same values: read back
    /// equal to what was written, and equal column by column on the server.
    func testCopyStoresEveryColumnAsTheInsertPathDoes() throws {
        let catalog = try DatabaseCatalog.open(postgreSQL: server.settings(database: database), create: true)
        defer { try? catalog.close() }
        let job = JobRecord(
            name: "copy", level: .full, fileSetName: "fs", fileSetDigest: "00",
            startTime: FileStat.Timestamp(seconds: 1, nanoseconds: 0))
        let copied = try catalog.beginJob(job)
        let inserted = try catalog.beginJob(job)
        let files = awkwardFiles(job: copied)
        try catalog.insert(files: files, messages: [])
        let rows = files.map { file in
            var row = file
            row.jobID = inserted
            return row
        }
        try catalog.connection.inTransaction { () throws(CatalogError) in try catalog.insertFileRowsOneByOne(rows) }
        XCTAssertEqual(try catalog.files(job: copied), files)
        XCTAssertEqual(try catalog.files(job: inserted), rows)
        let columns = DatabaseCatalog.fileColumns.filter { $0 != "job_id" }.joined(separator: ", ")
        for (one, other) in [(copied, inserted), (inserted, copied)] {
            XCTAssertEqual(
                try catalog.connection.scalar(
                    "SELECT count(*) FROM (SELECT \(columns) FROM files WHERE job_id = \(one.rawValue) EXCEPT "
                        + "SELECT \(columns) FROM files WHERE job_id = \(other.rawValue)) AS d"), 0)
        }
    }

    /// A row the server refuses in a later piece of the COPY fails the whole COPY: nothing of it stays, the error
    /// names the constraint and the key, and the connection goes on.
    func testCopyFailingMidwayStoresNothingAndNamesTheKey() throws {
        let connection = try connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, b BYTEA)")
        let copy = "COPY t (id, b) FROM STDIN (FORMAT binary)"
        var next: Int64 = 1
        XCTAssertThrowsError(
            try connection.inTransaction { () throws(CatalogError) in
                try connection.copyIn(copy) { (buffer) throws(CatalogError) -> Bool in
                    for _ in 0..<500 {
                        buffer.beginRow(fields: 2)
                        buffer.append(next == 2_345 ? 7 : next)  // row 2,345 repeats key 7
                        buffer.append(blob: [UInt8(truncatingIfNeeded: next)])
                        next += 1
                    }
                    return next <= 3_000
                }
            }
        ) { error in
            guard let error = error as? CatalogError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.extendedCode, .constraintUnique, "\(error)")
            XCTAssertEqual(
                error.description,
                "duplicate key value violates unique constraint \"t_pkey\" (Key (id)=(7) already exists.) "
                    + "(SQLSTATE 23505) — SQL: \(copy)")
        }
        XCTAssertEqual(next, 3_001, "every piece was sent")
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), 0)
        // A failure of the client's own mid-COPY: the client's error, nothing stored, the connection usable.
        var pieces = 0
        XCTAssertThrowsError(
            try connection.copyIn(copy) { (buffer) throws(CatalogError) -> Bool in
                pieces += 1
                buffer.beginRow(fields: 2)
                buffer.append(Int64(pieces))
                buffer.append(blob: [])
                if pieces == 3 { try buffer.append(textBytes: [0x61, 0]) }
                return true
            }
        ) { error in
            XCTAssertEqual(
                "\(error)", "a value holds a NUL character, which PostgreSQL text cannot store (SQLITE_MISMATCH)")
        }
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), 0)
        XCTAssertEqual(
            try connection.copyIn(copy) { (buffer) throws(CatalogError) -> Bool in
                buffer.beginRow(fields: 2)
                buffer.append(Int64(1))
                buffer.appendNull()
                return false
            }, 1)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t WHERE b IS NULL"), 1)
    }

    // MARK: - Reading in pieces

    /// A result of several pieces comes back whole and in order while other statements, and a second streamed
    /// read left after two rows, run on the same connection; the cursor's transaction ends with the last row.
    func testStreamedResultReturnsEveryRowInOrderWithStatementsInterleaved() throws {
        let connection = try connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, b BYTEA)")
        let total: Int64 = 2 * Int64(PostgreSQLStatement.rowsPerFetch) + 345
        try connection.execute("INSERT INTO t SELECT n, int8send(n) FROM generate_series(1, \(total)) AS n")
        let select = try connection.prepareStream("SELECT id, b FROM t WHERE id >= ?1 ORDER BY id")
        try select.bind(1, at: 1)
        var seen: [Int64] = []
        while try select.step() {
            let id = select.int64(0)
            seen.append(id)
            XCTAssertEqual(select.blob(1), (0..<8).map { UInt8(truncatingIfNeeded: id >> (56 - 8 * $0)) })
            if id % 700 == 0 {
                XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t WHERE id <= \(id)"), id)
                let inner = try connection.prepareStream("SELECT id FROM t ORDER BY id DESC")
                XCTAssertTrue(try inner.step())
                XCTAssertEqual(inner.int64(0), total)
                XCTAssertTrue(try inner.step())
            }
        }
        XCTAssertEqual(seen, Array(1...total))
        XCTAssertFalse(try select.step())
        // Cursors are planned for all their rows, not the first 10% (the restore's state query: a hash anti-join).
        XCTAssertEqual(try connection.scalarText("SHOW cursor_tuple_fraction"), "1")
        XCTAssertEqual(connection.openCursors, 0)
        // No transaction left open: a write transaction starts and commits.
        try connection.inTransaction { () throws(CatalogError) in try connection.execute("DELETE FROM t WHERE id = 1") }
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), total - 1)

        // Inside the caller's transaction: the cursor lives in it and the rows the transaction wrote are read.
        try connection.inTransaction { () throws(CatalogError) in
            try connection.execute("DELETE FROM t WHERE id > 1500")
            let inside = try connection.prepareStream("SELECT count(*) FROM t")
            XCTAssertTrue(try inside.step())
            XCTAssertEqual(inside.int64(0), 1499)
            XCTAssertFalse(try inside.step())
        }
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), 1499)

        // A write while a streamed read is open is refused, not run inside the read's transaction.
        let open = try connection.prepareStream("SELECT id FROM t ORDER BY id")
        XCTAssertTrue(try open.step())
        XCTAssertThrowsError(try connection.inTransaction { () throws(CatalogError) in }) {
            XCTAssertTrue(ResultCode.misuse ~= $0, "\($0)")
        }
        open.reset()
        XCTAssertEqual(connection.openCursors, 0)
        try connection.inTransaction { () throws(CatalogError) in try connection.execute("DELETE FROM t WHERE id = 2") }
    }

    /// The session terminated between two pieces: the next FETCH fails as a connection error.
    func testATerminatedSessionMidStreamIsAConnectionError() throws {
        let connection = try connect()
        let admin = try connect()
        defer {
            connection.close()
            admin.close()
        }
        try connection.execute("CREATE TABLE t AS SELECT n AS id FROM generate_series(1, 5000) AS n")
        let select = try connection.prepareStream("SELECT id FROM t ORDER BY id")
        var read = 0
        XCTAssertThrowsError(
            try {
                while try select.step() {
                    read += 1
                    if read == 10 {
                        let terminate = try admin.prepare("SELECT pg_terminate_backend(?1::int)")
                        try terminate.bind(Int64(connection.backendPID), at: 1)
                        XCTAssertTrue(try terminate.step())
                    }
                }
            }()
        ) { error in
            guard let error = error as? CatalogError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, .ioError, "\(error)")
            XCTAssertEqual(error.sqlState, "08006", "\(error)")
        }
        XCTAssertEqual(read, Int(PostgreSQLStatement.rowsPerFetch), "the first piece was read whole")
        XCTAssertFalse(connection.isConnected)
    }
}
