import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// A PostgreSQL catalog connection terminated in the middle of a backup (`pg_terminate_backend`, what an admin or
/// a server restart does): that job fails with the connection error, and the next job on a new connection runs.
final class PostgreSQLConnectionLossTests: XCTestCase {
    var work: TemporaryDirectory!

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "pg-loss")
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    func backup(_ settings: PostgreSQLSettings, _ configuration: Configuration) throws -> JobSummary {
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        var backupSettings = BackupSettings(archiveDirectory: work.path + "/volumes", workers: 2)
        backupSettings.batchEntries = 16
        return try BackupJob(
            job: try XCTUnwrap(configuration.job(named: "nightly")), fileSet: fileSet,
            chains: configuration.chains(for: fileSet),
            catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), settings: backupSettings,
            stageFactory: TestStageFactory().factory
        ).runClosingCatalog()
    }

    func testATerminatedConnectionFailsThatJobAndTheNextJobRuns() throws {
        let server = try PostgreSQLTestServer.shared()
        let database = try server.createDatabase()
        let settings = server.settings(database: database)
        try DatabaseCatalog.open(postgreSQL: settings, create: true).close()
        for index in 0..<100 {
            XCTAssertTrue(try Shell.writeFile(work.path + "/src", "f\(index)", Array("file \(index)\n".utf8)))
        }
        try FileManager.default.createDirectory(atPath: work.path + "/volumes", withIntermediateDirectories: true)
        // The first entry waits 100 ms in its stage: the job is recorded and running when its session is ended.
        let configuration = try Configuration.parse(
            text: """
                FileSet { Name = fs; Include { Options { Plugin = "recording:slow" } File = "\(work.path)/src" } }
                Job { Name = nightly; Type = Backup; Level = Full; FileSet = fs; Client = lossy }
                """, fileName: "loss.conf")

        let terminated = Locked<Int64>(-1)
        let watcher = Thread {
            // A connection of its own polls (every millisecond) for the job's row, then ends the job's session.
            guard let admin = try? PostgreSQLConnection(settings: settings) else { return }
            defer { admin.close() }
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if (try? admin.scalar("SELECT count(*) FROM jobs WHERE status = 'R'")) == 1 {
                    do {
                        // OFFSET 0 keeps the filter ahead of the call (an AND may be evaluated in any order).
                        let ended = try admin.scalar(
                            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM (SELECT pid FROM "
                                + "pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                + "OFFSET 0) AS others")
                        terminated.withLock { $0 = ended }
                    } catch {
                        print("terminate: \(error)")
                    }
                    return
                }
                usleep(1_000)
            }
        }
        watcher.start()
        let failed = try backup(settings, configuration)
        while watcher.isExecuting { usleep(1_000) }
        XCTAssertEqual(terminated.withLock { $0 }, 1, "the job's one session was ended")
        XCTAssertEqual(failed.status, .failed)
        let failure = failed.failure ?? ""
        XCTAssertTrue(failure.contains("terminating connection due to administrator command"), failure)

        // The next job opens a new connection and runs to the end.
        let next = try backup(settings, configuration)
        XCTAssertEqual(next.status, .ok, next.failure ?? "")
        let catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
        defer { try? catalog.close() }
        XCTAssertEqual(try catalog.fileCounts(job: JobID(rawValue: next.jobID)).filesStored, 100)
        XCTAssertNotEqual(next.jobID, failed.jobID)
    }
}
