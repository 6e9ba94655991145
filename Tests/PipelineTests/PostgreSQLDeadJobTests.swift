import Foundation
import PipelineTestSupport
import XCTest

@testable import Pipeline

/// Which jobs of a PostgreSQL catalog have no process (issue 15): a running job's session holds its JobId lock
/// until the job ends, so a job still `R` whose lock no session holds is dead, whatever its type, Job, client or
/// host; and the volumes such jobs left open are removed only where this host can judge them.
final class PostgreSQLDeadJobTests: CatalogTestCase {
    override var driver: TestCatalogs.Driver { .postgreSQL }

    func running(_ type: String = "B", client: String = "here") -> JobRecord {
        JobRecord(
            name: "nightly", type: type, level: .full, status: .running, fileSetName: "fs", fileSetDigest: "d",
            clientName: client, startTime: time(1_700_000_000))
    }

    /// A scan rebuilds a job inside its one transaction: replacing a row whose JobId lock another session holds
    /// is refused with nothing changed, and a job begun inside a caller's transaction takes no session lock (its
    /// row is visible only at the commit), so none outlives the transaction.
    func testScanTransactionsTakeTheJobIDLockOnlyUntilTheirCommit() throws {
        let owner = try openCatalog()
        let scanner = try openCatalog()
        let checker = try openCatalog()
        defer {
            for catalog in [owner, scanner, checker] { try? catalog.close() }
        }
        let live = try owner.beginJob(running())
        XCTAssertThrowsError(try scanner.inOneTransaction { try scanner.removeForRebuild(live) }) { error in
            XCTAssertEqual(
                (error as? CatalogError)?.message,
                "JobId \(live.rawValue) is in use: another session holds its JobId lock (its process still runs it, or "
                    + "another command is marking it failed); run the scan again once it has ended")
        }
        XCTAssertEqual(try checker.job(live)?.status, .running)

        // Inside one transaction: the rows of a job left `R` (as a test can, scan never does) carry no lock after
        // the commit, so another session finds the job dead; the scanner's session holds no lock of it.
        let rebuilt = try scanner.inOneTransaction { try scanner.beginJob(running(client: "scanned")) }
        XCTAssertFalse(scanner.heldJobLocks.contains(rebuilt))
        XCTAssertEqual(try checker.deadJobs(), [rebuilt])
    }

    func testOnlyRunningJobsWhoseSessionIsGoneAreMarkedFailed() throws {
        let owner = try openCatalog()
        let checker = try openCatalog()
        let other = try openCatalog()
        defer {
            for catalog in [owner, checker, other] { try? catalog.close() }
        }
        let live = try owner.beginJob(running())
        let gone = try openCatalog()
        let deadBackup = try gone.beginJob(running())
        let deadRestore = try gone.beginJob(running("R"))
        let deadVerify = try gone.beginJob(running("V", client: "there"))
        try gone.close()
        let own = try checker.beginJob(running())
        // One-bigint advisory locks with the same numbers (the form of the Job and schema locks) are other locks.
        for id in [deadBackup, deadRestore, deadVerify, live, own] {
            try other.connection.execute("SELECT pg_advisory_lock(\(id.rawValue))")
        }
        try other.connection.execute("SELECT pg_advisory_lock(\(DatabaseCatalog.schemaLockKey))")
        XCTAssertTrue(try other.tryLockJob("nightly", client: "here"))

        XCTAssertEqual(try checker.markAbandonedJobs(finder: "the test"), [deadBackup, deadRestore, deadVerify])
        for id in [deadBackup, deadRestore, deadVerify] {
            let job = try XCTUnwrap(try checker.job(id))
            XCTAssertEqual(job.status, .failed)
            XCTAssertNotNil(job.endTime)
            XCTAssertEqual(
                try checker.messages(job: id).map(\.text),
                [
                    "the job's process ended before the job finished (no process held the JobId's lock); marked "
                        + "failed by the test. Its rows are what it committed before it ended."
                ])
        }
        // The owner's job runs; the checker's own job is its own.
        XCTAssertEqual(try checker.job(live)?.status, .running)
        XCTAssertEqual(try checker.job(own)?.status, .running)
        XCTAssertEqual(try other.markAbandonedJobs(finder: "another session"), [])
        XCTAssertEqual(try checker.markAbandonedJobs(finder: "the test"), [])

        // A job that ends releases its lock after its final status: nothing to mark.
        var finished = try XCTUnwrap(try owner.job(live))
        finished.status = .ok
        finished.endTime = time(1_700_000_100)
        try owner.finishJob(finished)
        XCTAssertEqual(try checker.markAbandonedJobs(finder: "the test"), [])
        XCTAssertEqual(try checker.job(live)?.status, .ok)
        XCTAssertTrue(try checker.messages(job: live).isEmpty)

        // The owner's session ends while its next job runs (a killed process): that job is dead from then on.
        let last = try owner.beginJob(running())
        XCTAssertEqual(try checker.markAbandonedJobs(finder: "the test"), [])
        try owner.close()
        XCTAssertEqual(try other.markAbandonedJobs(finder: "the test"), [last])
        XCTAssertEqual(try checker.job(last)?.status, .failed)
        XCTAssertEqual(try checker.job(own)?.status, .running)
    }

    /// Open volumes of dead jobs in this host's archive directory are removed (a file that is not there is
    /// forgotten only for this host's client); volumes elsewhere, of live jobs, or of another client whose file
    /// this host does not see stay recorded.
    func testOrphanVolumesAreRemovedOnlyWhereThisHostCanJudgeThem() throws {
        let here = path("here")
        let elsewhere = path("elsewhere")
        for directory in [here, elsewhere] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let owner = try openCatalog()
        let checker = try openCatalog()
        defer {
            for catalog in [owner, checker] { try? catalog.close() }
        }
        func volumes(_ id: JobID, on catalog: DatabaseCatalog, _ files: [(String, Bool)]) throws {
            for (sequence, (path, create)) in files.enumerated() {
                if create { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("v".utf8))) }
                _ = try catalog.addVolume(
                    VolumeRecord(
                        jobID: id, name: (path as NSString).lastPathComponent, path: path, sequence: Int64(sequence + 1),
                        bytes: 1, status: "open"))
            }
        }
        let gone = try openCatalog()
        let deadHere = try gone.beginJob(running())
        try volumes(deadHere, on: gone, [(here + "/a-1.tar", true), (here + "/a-2.tar", false)])
        let deadThere = try gone.beginJob(running(client: "there"))
        try volumes(
            deadThere, on: gone,
            [(here + "/b-1.tar", true), (here + "/b-2.tar", false), (elsewhere + "/b-3.tar", true)])
        try gone.close()
        // Failed cleanly, with a volume left open (a full disk).
        var failed = running()
        failed.id = try owner.beginJob(failed)
        try volumes(failed.id, on: owner, [(here + "/c-1.tar", true)])
        failed.status = .failed
        failed.endTime = time(1_700_000_100)
        try owner.finishJob(failed)
        let live = try owner.beginJob(running())
        try volumes(live, on: owner, [(here + "/d-1.tar", true)])

        let host = OrphanVolumes.Host(client: "here", archives: [here + "/"])
        let judged = [here + "/a-1.tar", here + "/a-2.tar", here + "/b-1.tar", here + "/c-1.tar"]
        // A dry run marks nothing: it asks which running jobs are dead and counts their volumes.
        let dead = try checker.deadJobs()
        XCTAssertEqual(dead, [deadHere, deadThere])
        XCTAssertEqual(try checker.job(deadHere)?.status, .running)
        let early = try OrphanVolumes.remove(
            from: checker, jobName: nil, finder: "the test", host: host, dead: dead, dryRun: true)
        XCTAssertEqual(early.volumes.map(\.path), judged)
        XCTAssertEqual(
            try OrphanVolumes.remove(from: checker, jobName: nil, finder: "the test", host: host, dryRun: true)
                .volumes.map(\.path), [here + "/c-1.tar"], "without them, only the failed job's volume")

        XCTAssertEqual(try checker.markAbandonedJobs(finder: "the test"), [deadHere, deadThere])
        let dry = try OrphanVolumes.remove(from: checker, jobName: nil, finder: "the test", host: host, dryRun: true)
        XCTAssertEqual(dry.volumes.map(\.path), judged)
        XCTAssertTrue(dry.deleted.isEmpty)
        let result = try OrphanVolumes.remove(
            from: checker, jobName: nil, finder: "the test", host: host, dryRun: false)
        XCTAssertEqual(result.volumes.map(\.path), dry.volumes.map(\.path))
        XCTAssertEqual(result.deleted, [here + "/a-1.tar", here + "/b-1.tar", here + "/c-1.tar"])
        XCTAssertEqual(result.missing, [here + "/a-2.tar"])
        XCTAssertEqual(result.failures.map { "\($0.path): \($0.reason)" }, [])
        for path in [here + "/a-1.tar", here + "/b-1.tar", here + "/c-1.tar"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), path)
        }
        for path in [elsewhere + "/b-3.tar", here + "/d-1.tar"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), path)
        }
        XCTAssertEqual(try checker.volumes(job: deadHere).map(\.path), [])
        XCTAssertEqual(try checker.volumes(job: deadThere).map(\.path), [here + "/b-2.tar", elsewhere + "/b-3.tar"])
        XCTAssertEqual(try checker.volumes(job: failed.id).map(\.path), [])
        XCTAssertEqual(try checker.volumes(job: live).map(\.path), [here + "/d-1.tar"])

        // A prune of one client's jobs sees only that client's volumes.
        XCTAssertEqual(
            try checker.orphanVolumes(jobName: "nightly", client: "there").map(\.path),
            [here + "/b-2.tar", elsewhere + "/b-3.tar"])
        XCTAssertEqual(try checker.orphanVolumes(jobName: "nightly", client: "here").map(\.path), [])
    }
}
