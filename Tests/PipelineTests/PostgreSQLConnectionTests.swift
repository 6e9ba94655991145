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
}
