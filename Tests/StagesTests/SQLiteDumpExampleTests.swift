import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline
@testable import Stages

/// `examples/plugins/bareos-fd-sqlite-dump.py` (issue 12 item 5): a command plugin that streams `sqlite3 .dump` from
/// a pipe at backup and pipes it back into `sqlite3` at restore, its item passing through a `checksum` stage.
final class SQLiteDumpExampleTests: PythonPluginTestCase {
    func sqlite(_ database: String, _ sql: String) throws -> String {
        let (status, output) = try shell("sqlite3 '\(database)' \"\(sql)\"")
        XCTAssertEqual(status, 0, output)
        return output
    }

    func testADatabaseRoundTripsThroughThePipeAndItsDumpIsChecksumLogged() throws {
        let database = source + "/app.db"
        _ = try sqlite(
            database,
            "create table notes(id integer primary key, body text); "
                + "insert into notes(body) values ('first'), ('it''s two'), ('x:y');")
        let dump = try sqlite(database, ".dump")
        let log = work.path + "/dumps.sha256"
        let string = plugin("bareos-fd-sqlite-dump", "db=\(database)", examples: true)
        let body = """
              Include {
                Options {
                  Wild = "*.sql"
                  Plugin = "checksum:log=\(log)"
                }
                Plugin = "\(string)"
              }
            """
        let (summary, catalog) = try backup([], fileSetBody: body)
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        XCTAssertEqual(summary.filesStored, 1)
        let record = try XCTUnwrap(try catalog.files(job: JobID(rawValue: summary.jobID)).first)
        let item = "/@sqlite" + database + ".sql"
        XCTAssertEqual(String(decoding: record.path, as: UTF8.self), item)
        XCTAssertEqual(record.chain, [string, "checksum:log=\(log)"])
        XCTAssertEqual(record.size, UInt64(dump.utf8.count))
        let digest = Hex.encode(try Digester.digest(.sha256, of: Array(dump.utf8)))
        XCTAssertEqual(record.sourceSHA256.map(Hex.encode), digest)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "\(digest)  \(item.dropFirst())\n")

        let (outcome, messages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(outcome.status, .ok, messages.map(\.text).joined(separator: "\n"))
        let restoredDatabase = target + database
        XCTAssertEqual(
            messages.filter { $0.stage != nil }.map(\.text), ["bareos-fd-sqlite-dump: restored \(restoredDatabase)"])
        XCTAssertEqual(try sqlite(restoredDatabase, ".dump"), dump)
        XCTAssertEqual(try sqlite(restoredDatabase, "select body from notes order by id;"), "first\nit's two\nx:y\n")
        // No dump file is left under --where: the dump went into sqlite3's standard input.
        XCTAssertFalse(FileManager.default.fileExists(atPath: target + item))

        // A second restore finds the database there and leaves it alone; the item fails.
        let (again, againMessages) = try restore(catalog, jobID: summary.jobID)
        XCTAssertEqual(again.filesFailed, 1)
        XCTAssertTrue(
            againMessages.contains { $0.text == "bareos-fd-sqlite-dump: \(restoredDatabase) exists; it is not overwritten" },
            againMessages.map(\.text).joined(separator: "\n"))
        XCTAssertEqual(try sqlite(restoredDatabase, ".dump"), dump)
    }
}
