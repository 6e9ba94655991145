import Foundation
import XCTest

/// Restore runs are jobs in the catalog, as in Bareos (issue 12 item 3).
extension PythonCommandTests {
    func testARestoreIsAJobWithItsLogInTheCatalog() throws {
        let (tree, path) = try callorderBackup()
        let target = work.appendingPathComponent("restore").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--json"])
        XCTAssertEqual(restore.status, 0, restore.output + restore.stderr)
        XCTAssertEqual(try objects(restore).last?["restore_job_id"] as? Int, 2)

        // `list jobs`: the restore is JobId 2, of type Restore, with where it wrote and the job it restored.
        let jobs = try objects(try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"]))
        let rows = jobs.filter { $0["type"] as? String == "job" }
        XCTAssertEqual(rows.map { $0["job_type"] as? String }, ["Restore", "Backup"])
        let row = rows[0]
        XCTAssertEqual(row["job_id"] as? Int, 2)
        XCTAssertEqual(row["job"] as? String, "Nightly")
        XCTAssertEqual(row["status"] as? String, "T")
        XCTAssertEqual(row["files_stored"] as? Int, 1)
        XCTAssertEqual(row["bytes_read"] as? Int, 1)
        XCTAssertEqual(row["where"] as? String, target)
        XCTAssertEqual(row["restored_job_id"] as? Int, 1)
        XCTAssertNotNil(row["end"] as? Int)
        let text = try optionhost(["list", "jobs", "--catalog", catalogPath])
        XCTAssertTrue(text.lines.first?.hasPrefix("2\tNightly\t\(Self.hostName())\tRestore\tFull\tT\t") ?? false, text.output)

        // Its log holds the plugin's restore calls, in order.
        let log = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "2"])
        XCTAssertEqual(log.status, 0, log.stderr)
        let calls = log.lines.filter { $0.contains("callorder: ") }.map { $0.components(separatedBy: "callorder: ").last! }
        XCTAssertEqual(calls.first, "load_bareos_plugin('answer=ok:root=\(tree):')", log.output)
        XCTAssertTrue(calls.contains("end_restore_file()"), log.output)

        // Restore rows are no backups: --latest finds the backup, and a restore's JobId restores nothing.
        let latest = try optionhost(
            ["restore", "--catalog", catalogPath, "--latest", "--job", "Nightly", "--where", target + "2", "--json"])
        XCTAssertEqual(latest.status, 0, latest.output + latest.stderr)
        XCTAssertEqual(try objects(latest).last?["job_id"] as? Int, 1)
        let refused = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "2", "--where", target + "3"])
        XCTAssertEqual(refused.status, 3)
        XCTAssertTrue(
            refused.stderr.contains("JobId 2 is a Restore job, not a backup: it has no files to restore"), refused.stderr)
        // A later backup still extends the backup chain: an Incremental on top of JobId 1.
        let incremental = try optionhost(
            ["backup", path, "--job", "Nightly", "--level", "Incremental", "--catalog", catalogPath, "--archive",
             archivePath, "--json"])
        XCTAssertEqual(incremental.status, 0, incremental.output + incremental.stderr)
        XCTAssertEqual(try objects(incremental).last?["level"] as? String, "Incremental")
        let backupID = try XCTUnwrap(try objects(incremental).last?["job_id"] as? Int)
        XCTAssertEqual(backupID, 4)  // 3 is the --latest restore

        // A verify is a job too; a restore's JobId has nothing to verify.
        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertEqual(verify.status, 0, verify.output + verify.stderr)
        XCTAssertEqual(try objects(verify).last?["verify_job_id"] as? Int, 5)
        let verifyRow = try XCTUnwrap(
            try objects(try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])).first)
        XCTAssertEqual(verifyRow["job_id"] as? Int, 5)
        XCTAssertEqual(verifyRow["job_type"] as? String, "Verify")
        XCTAssertEqual(verifyRow["status"] as? String, "T")
        XCTAssertEqual(verifyRow["files_stored"] as? Int, 1)
        XCTAssertEqual(verifyRow["restored_job_id"] as? Int, 1)
        XCTAssertNil(verifyRow["where"])
        let notABackup = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "2"])
        XCTAssertEqual(notABackup.status, 3)
        XCTAssertEqual(
            notABackup.stderr, "optionhost: JobId 2 is a Restore job, not a backup: it has nothing to verify\n")
    }
}
