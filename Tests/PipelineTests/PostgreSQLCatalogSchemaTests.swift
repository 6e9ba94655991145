import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// The catalog schema on PostgreSQL: created in an empty database, recorded in `catalog_meta`, refused where it
/// does not belong (the SQLite side is ``CatalogSchemaTests``).
final class PostgreSQLCatalogSchemaTests: XCTestCase {
    var server: PostgreSQLTestServer!

    override func setUpWithError() throws {
        server = try PostgreSQLTestServer.shared()
    }

    func testSchemaIsCreatedOnceWithTheSameTablesAndVersion() throws {
        let database = try server.createDatabase()
        let catalog = try DatabaseCatalog.open(postgreSQL: server.settings(database: database), create: true)
        XCTAssertEqual(catalog.path, "database \"\(database)\" on \(server.socketDirectory) as optionhost")
        try catalog.close()
        // A second open finds version 5 and applies nothing.
        let again = try DatabaseCatalog.open(postgreSQL: server.settings(database: database), create: false)
        XCTAssertEqual(
            try again.connection.scalarText("SELECT string_agg(key || '=' || value, ' ' ORDER BY key) FROM catalog_meta"),
            "application_id=1330660180 schema_version=5")
        XCTAssertEqual(
            try again.connection.scalarText(
                "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"),
            "catalog_meta files filesets job_data job_messages jobs search_content search_files volumes")
        try again.close()
    }

    func testEmptyForeignAndNewerDatabasesAreRefused() throws {
        let empty = try server.createDatabase()
        XCTAssertThrowsError(try DatabaseCatalog.open(postgreSQL: server.settings(database: empty), create: false)) {
            XCTAssertEqual(
                "\($0)",
                "cannot open the PostgreSQL catalog database \"\(empty)\" on \(server.socketDirectory) as optionhost: "
                    + "not an optionhost catalog (it is empty; open it with create to make a new catalog) "
                    + "(SQLITE_NOTADB)")
        }
        let foreign = try server.createDatabase()
        try server.psql("CREATE TABLE things (a int)", database: foreign)
        XCTAssertThrowsError(try DatabaseCatalog.open(postgreSQL: server.settings(database: foreign), create: true)) {
            XCTAssertTrue(
                "\($0)".hasSuffix(
                    ": not an optionhost catalog (it is a PostgreSQL database with other tables) (SQLITE_NOTADB)"),
                "\($0)")
        }
        let newer = try server.createDatabase()
        try DatabaseCatalog.open(postgreSQL: server.settings(database: newer), create: true).close()
        try server.psql("UPDATE catalog_meta SET value = '99' WHERE key = 'schema_version'", database: newer)
        XCTAssertThrowsError(try DatabaseCatalog.open(postgreSQL: server.settings(database: newer), create: false)) {
            XCTAssertTrue(
                "\($0)".hasSuffix(
                    ": its schema version is 99, but this build of optionhost knows versions up to 5; open it with a "
                        + "newer optionhost"), "\($0)")
        }
    }

    func testTwoHostsCreatingOneCatalogAtOnceBothSucceed() throws {
        let database = try server.createDatabase()
        let settings = server.settings(database: database)
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                try DatabaseCatalog.open(postgreSQL: settings, create: true).close()
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(
            try server.psql("SELECT value FROM catalog_meta WHERE key = 'schema_version'", database: database), "5\n")
    }
}
