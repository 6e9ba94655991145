import Foundation
import XCTest

/// `scan VOLUME... --config CONFIG` with a SQLite Catalog resource: the jobs are added to that file (created when
/// it does not exist) under the catalog lock, as a backup takes it. The PostgreSQL side is in
/// `PostgreSQLCommandTests`.
final class ScanCommandTests: CommandLineTestCase {
    func config(_ name: String, catalog: String) throws -> String {
        try write(
            name,
            """
            Catalog { Name = local; DB Driver = sqlite3; DB Name = "\(catalog)" }
            Archive { Name = arc; Directory = "\(work.path)/volumes" }
            FileSet { Name = fs; Include { File = "\(work.path)/data" } }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Catalog = local; Archive = arc }

            """)
    }

    func testScanIntoTheSQLiteCatalogOfAConfigTakesItsLockAndAddsTheJobs() throws {
        for index in 0..<8 { try makeFile("data/f\(index).txt", String(repeating: "\(index) ", count: 3_000)) }
        let original = try config("original.conf", catalog: work.path + "/catalog.db")
        XCTAssertEqual(try optionhost(["backup", original, "--job", "Nightly"]).status, 0)
        let volume = work.path + "/volumes/Nightly-1-0001.tar"

        // Another configuration names a catalog file that does not exist yet: scan creates it and adds the job.
        let fresh = work.path + "/fresh.db"
        let other = try config("other.conf", catalog: fresh)
        // While a job holds that catalog's lock, the scan fails at once, naming the lock.
        let held = try run(
            "/usr/bin/flock", ["-n", fresh + ".lock", CommandLineTestCase.binary, "scan", volume, "--config", other])
        XCTAssertEqual(held.status, 3, held.stderr)
        XCTAssertTrue(held.stderr.contains("catalog \(fresh) is in use by"), held.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh), "a refused scan created the catalog")

        let scan = try optionhost(["scan", volume, "--config", other, "--job", "Nightly"])
        XCTAssertEqual(scan.status, 0, scan.stderr)
        XCTAssertEqual(scan.lines.first, "Scan of 1 volume into \(fresh): ok")
        let restore = try optionhost(["restore", other, "--jobid", "1", "--where", work.path + "/restored"])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        let diff = try run("/usr/bin/diff", ["-r", work.path + "/data", work.path + "/restored" + work.path + "/data"])
        XCTAssertEqual(diff.status, 0, diff.output)

        // Into the original catalog: the job is there and finished.
        let again = try optionhost(["scan", volume, "--config", original, "--json"])
        XCTAssertEqual(again.status, 3)
        XCTAssertTrue(again.output.contains("and finished (status T)"), again.output)
        XCTAssertTrue(again.output.hasSuffix("{\"type\":\"summary\",\"status\":\"failed\"}\n"), again.output)
        let unknownJob = try optionhost(["scan", volume, "--config", original, "--job", "Weekly"])
        XCTAssertEqual(unknownJob.status, 2)
        XCTAssertTrue(unknownJob.stderr.contains("has no Job \"Weekly\""), unknownJob.stderr)
    }
}
