import Foundation
import XCTest

@testable import Pipeline

final class CatalogSchemaTests: CatalogTestCase {
    private func catalogError(
        _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
    )
        -> CatalogError?
    {
        do {
            try body()
            XCTFail("expected a CatalogError", file: file, line: line)
        } catch let error as CatalogError {
            return error
        } catch {
            XCTFail("expected a CatalogError, got \(error)", file: file, line: line)
        }
        return nil
    }

    func testCreateSetsVersionWALAndPragmas() throws {
        let catalog = try openCatalog()
        XCTAssertEqual(SQLiteCatalog.schemaVersion, 5)
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA user_version"), Int64(SQLiteCatalog.schemaVersion))
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA application_id"), 0x4F50_4354)
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA foreign_keys"), 1)
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA synchronous"), 1)  // NORMAL
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA busy_timeout"), 5000)
        XCTAssertEqual(try catalog.connection.scalarText("PRAGMA journal_mode"), "wal")
        do {
            let indexes = try catalog.connection.prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            var names: [String] = []
            while try indexes.step() { names.append(indexes.text(0)) }
            XCTAssertEqual(
                names,
                ["files_job_path", "files_path", "job_messages_job", "jobs_fileset", "jobs_name", "search_files_content", "search_files_mime", "search_files_pending",
                 "volumes_name"])
        }
        try catalog.close()
        try catalog.close()  // twice is fine
    }

    func testReopenKeepsData() throws {
        let catalog = try openCatalog()
        let id = try catalog.beginJob(sampleJob())
        try catalog.close()

        let again = try openCatalog(create: false)
        XCTAssertEqual(try again.job(id)?.name, "nightly")
        XCTAssertEqual(try again.connection.scalar("PRAGMA user_version"), 5)
        try again.close()
    }

    func testMissingFileWithoutCreate() throws {
        let missing = path("missing.db")
        let error = catalogError { _ = try SQLiteCatalog.open(path: missing, create: false) }
        XCTAssertEqual(error?.code, .cantOpen)
        XCTAssertEqual(
            error?.description, "cannot open catalog \(missing): unable to open database file (SQLITE_CANTOPEN)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }

    func testEmptyFileNeedsCreate() throws {
        let empty = path("empty.db")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        let error = catalogError { _ = try SQLiteCatalog.open(path: empty, create: false) }
        XCTAssertEqual(
            error?.description,
            "cannot open catalog \(empty): not an optionhost catalog (it is empty; open it with create to make a new "
                + "catalog) (SQLITE_NOTADB)")
        let catalog = try SQLiteCatalog.open(path: empty, create: true)
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA user_version"), 5)
        try catalog.close()
    }

    func testNewerSchemaVersionIsRefused() throws {
        let catalog = try openCatalog()
        try catalog.connection.execute("PRAGMA user_version = \(SQLiteCatalog.schemaVersion + 1)")
        try catalog.close()

        let error = catalogError { _ = try self.openCatalog(create: true) }
        XCTAssertEqual(error?.code, .error)
        XCTAssertEqual(
            error?.description,
            "cannot open catalog \(path("catalog.db")): its schema version is 6, but this build of optionhost knows "
                + "versions up to 5; open it with a newer optionhost")
    }

    func testCorruptFileIsNotADatabase() throws {
        let corrupt = path("corrupt.db")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
        XCTAssertTrue(FileManager.default.createFile(atPath: corrupt, contents: garbage))
        for create in [false, true] {
            let error = catalogError { _ = try SQLiteCatalog.open(path: corrupt, create: create) }
            XCTAssertEqual(error?.code, .notADatabase)
            XCTAssertEqual(
                error?.description, "cannot open catalog \(corrupt): file is not a database (SQLITE_NOTADB)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: corrupt)), garbage, "the file is left alone")
    }

    func testShortTextFileIsNotADatabase() throws {
        let text = path("notes.txt")
        XCTAssertTrue(FileManager.default.createFile(atPath: text, contents: Data("hello\n".utf8)))
        let error = catalogError { _ = try SQLiteCatalog.open(path: text, create: true) }
        XCTAssertEqual(error?.code, .notADatabase)
    }

    func testOtherProgramsDatabaseIsRefused() throws {
        let other = path("other.db")
        let connection = try SQLiteConnection(path: other, create: true)
        try connection.execute("CREATE TABLE things (a, b); INSERT INTO things VALUES (1, 2)")
        try connection.close()
        let error = catalogError { _ = try SQLiteCatalog.open(path: other, create: true) }
        XCTAssertEqual(
            error?.description,
            "cannot open catalog \(other): not an optionhost catalog (it is a SQLite database with other tables) "
                + "(SQLITE_NOTADB)")

        try SQLiteConnection(path: other, create: false).execute("PRAGMA user_version = 1")
        let stamped = catalogError { _ = try SQLiteCatalog.open(path: other, create: true) }
        XCTAssertEqual(
            stamped?.description,
            "cannot open catalog \(other): not an optionhost catalog (its application_id is 0) (SQLITE_NOTADB)")
    }

    /// Step 4 (issue 14): a version 3 catalog gets `jobs.chain_jobs` (NULL: not recorded for its jobs) and its
    /// `writing` volumes become `open`; jobs recorded after it keep their chain.
    func testVersionFourAddsChainJobsAndRenamesWritingVolumesOpen() throws {
        let old = try SQLiteCatalog.open(
            path: path("catalog.db"), create: true, migrations: Array(CatalogSchema.migrations.prefix(3)))
        // A job row as version 3 has it (this build's beginJob writes later columns).
        try old.connection.execute(
            "INSERT INTO filesets (id, name, md5) VALUES (1, 'fs', 'x'); INSERT INTO jobs (id, name, type, level, "
                + "status, fileset_id, start_time, start_time_ns) VALUES (1, 'nightly', 'B', 'F', 'T', 1, 0, 0)")
        let first = JobID(rawValue: 1)
        try old.connection.execute(
            "INSERT INTO volumes (job_id, name, path, sequence, status) VALUES (\(first.rawValue), 'v', '/v', 1, 'writing')")
        try old.close()

        let catalog = try openCatalog(create: false)
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA user_version"), 5)
        XCTAssertEqual(try catalog.volumes(job: first).map(\.status), ["open"])
        XCTAssertNil(try catalog.job(first)?.chainJobs)
        var incremental = sampleJob(start: 1_700_000_100)
        incremental.level = .incremental
        incremental.chainJobs = [first, JobID(rawValue: 9)]
        let second = try catalog.beginJob(incremental)
        XCTAssertEqual(try catalog.job(second)?.chainJobs, [first, JobID(rawValue: 9)])
        XCTAssertEqual(try catalog.connection.scalarText("SELECT chain_jobs FROM jobs WHERE id = \(second.rawValue)"), "1 9")
        try catalog.close()
    }

    func testMigrationStepsApplyInOrder() throws {
        let v1 = CatalogSchema.migrations[0]
        let catalog = try SQLiteCatalog.open(path: path("catalog.db"), create: true, migrations: [v1])
        // A job row as version 1 has it (this build's beginJob writes later columns).
        try catalog.connection.execute(
            "INSERT INTO filesets (id, name, md5) VALUES (1, 'fs', 'x'); INSERT INTO jobs (id, name, type, level, "
                + "status, fileset_id, start_time, start_time_ns) VALUES (1, 'nightly', 'B', 'F', 'T', 1, 0, 0)")
        let id = JobID(rawValue: 1)
        try catalog.insert(files: [bareFile(job: id, index: 1, path: "/a")], messages: [])
        try catalog.close()

        let v2 = CatalogMigration(version: 2, sql: "ALTER TABLE files ADD COLUMN note TEXT NOT NULL DEFAULT 'old'")
        let v3 = CatalogMigration(
            version: 3, sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY); INSERT INTO notes VALUES (7)")
        let migrated = try SQLiteCatalog.open(path: path("catalog.db"), create: false, migrations: [v1, v2, v3])
        XCTAssertEqual(try migrated.connection.scalar("PRAGMA user_version"), 3)
        XCTAssertEqual(try migrated.connection.scalar("SELECT count(*) FROM files WHERE note = 'old'"), 1)
        XCTAssertEqual(try migrated.connection.scalar("SELECT id FROM notes"), 7)
        XCTAssertEqual(try migrated.files(job: id).map(\.path), [Array("/a".utf8)])
        try migrated.close()

        // A build that knows only version 1 refuses the migrated catalog.
        XCTAssertThrowsError(try SQLiteCatalog.open(path: path("catalog.db"), create: false, migrations: [v1]))
    }

    func testFailedMigrationStepRollsBack() throws {
        let v1 = CatalogSchema.migrations[0]
        try SQLiteCatalog.open(path: path("catalog.db"), create: true, migrations: [v1]).close()

        let broken = CatalogMigration(version: 2, sql: "CREATE TABLE half (a); INSERT INTO no_such_table VALUES (1)")
        let error = catalogError {
            _ = try SQLiteCatalog.open(path: self.path("catalog.db"), create: false, migrations: [v1, broken])
        }
        XCTAssertEqual(
            error?.description,
            "cannot open catalog \(path("catalog.db")): cannot migrate to schema version 2: no such table: "
                + "no_such_table — SQL: INSERT INTO no_such_table VALUES (1)")

        let catalog = try SQLiteCatalog.open(path: path("catalog.db"), create: false, migrations: [v1])
        XCTAssertEqual(try catalog.connection.scalar("PRAGMA user_version"), 1)
        XCTAssertEqual(try catalog.connection.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'half'"), 0)
        try catalog.close()
    }

    func testClosedCatalogRefusesCalls() throws {
        let catalog = try openCatalog()
        try catalog.close()
        let error = catalogError { _ = try catalog.jobs(name: nil) }
        XCTAssertEqual(error?.code, .misuse)
        XCTAssertEqual(error?.message, "catalog \(path("catalog.db")) is closed")
    }
}
