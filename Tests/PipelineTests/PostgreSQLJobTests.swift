import Foundation
import PipelineTestSupport
import Synchronization
import XCTest

@testable import Pipeline

/// Backups into a PostgreSQL catalog through the real engine (issue 15 item 3): jobs of several clients started at
/// the same moment get distinct JobIds, lose no row, record their client, and each one restores byte for byte from
/// a connection of its own; a session terminated in the middle of a job (`pg_terminate_backend`, what an admin or a
/// server restart does) fails that job, and the next job on a new connection runs.
final class PostgreSQLJobTests: XCTestCase {
    var work: TemporaryDirectory!

    override func setUpWithError() throws {
        work = try TemporaryDirectory(prefix: "pg-clients")
    }

    override func tearDownWithError() throws {
        work.remove()
    }

    func testConcurrentJobsOfFourClientsKeepEveryRowAndRestore() throws {
        let server = try PostgreSQLTestServer.shared()
        let settings = server.settings(database: try server.createDatabase())
        try DatabaseCatalog.open(postgreSQL: settings, create: true).close()
        let clients = ["alpha", "beta", "gamma", "delta"]
        let filesPerClient = 100
        for (number, client) in clients.enumerated() {
            for index in 0..<filesPerClient {
                let bytes = Array("\(client) file \(index)\n".utf8) + [UInt8](repeating: UInt8(number), count: index)
                XCTAssertTrue(try Shell.writeFile(work.path + "/\(client)/src", "f\(index).txt", bytes))
            }
        }

        let failures = Locked<[String]>([])
        let jobIDs = Locked<[String: JobID]>([:])
        let root = work.path
        DispatchQueue.concurrentPerform(iterations: clients.count) { number in
            let client = clients[number]
            do {
                let text = """
                    FileSet { Name = fs; Include { File = "\(root)/\(client)/src" } }
                    Job { Name = nightly; Type = Backup; Level = Full; FileSet = fs; Client = \(client) }
                    """
                let configuration = try Configuration.parse(text: text, fileName: "\(client).conf")
                guard let fileSet = configuration.fileSets["fs"], let job = configuration.job(named: "nightly") else {
                    throw CatalogError.misuse("\(client).conf has no FileSet fs or Job nightly")
                }
                let archive = root + "/\(client)/volumes"
                try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
                var backupSettings = BackupSettings(archiveDirectory: archive, workers: 2)
                backupSettings.batchEntries = 64
                let summary = try BackupJob(
                    job: job, fileSet: fileSet,
                    chains: configuration.chains(for: fileSet),
                    catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), settings: backupSettings,
                    stageFactory: TestStageFactory().factory
                ).runClosingCatalog()
                if summary.status != .ok { throw CatalogError.misuse("\(client): \(summary.failure ?? "failed")") }
                jobIDs.withLock { $0[client] = JobID(rawValue: summary.jobID) }
            } catch {
                failures.withLock { $0.append("\(client): \(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])

        let catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
        defer { try? catalog.close() }
        let ids = jobIDs.withLock { $0 }
        XCTAssertEqual(Set(ids.values).count, clients.count, "\(ids)")
        let jobs = try catalog.jobs(name: "nightly")
        XCTAssertEqual(Set(jobs.map(\.clientName)), Set(clients.map { Optional($0) }))
        XCTAssertEqual(
            try catalog.connection.scalar("SELECT count(*) FROM files"), Int64(clients.count * (filesPerClient + 1)))
        for client in clients {
            let id = try XCTUnwrap(ids[client])
            XCTAssertEqual(try catalog.job(id)?.clientName, client)
            XCTAssertEqual(try catalog.fileCounts(job: id).filesStored, Int64(filesPerClient))
            // Restored from a connection of its own ("another host"), byte for byte.
            let target = work.path + "/restored-\(client)"
            let summary = try RestoreJob(
                catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), jobID: id,
                settings: RestoreSettings(whereDirectory: target), stageFactory: TestStageFactory().factory
            ).run()
            XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
            let compare = try Shell.run("diff -r '\(work.path)/\(client)/src' '\(target)\(work.path)/\(client)/src'")
            XCTAssertEqual(compare.status, 0, compare.output)
        }
    }

    func backup(
        _ settings: PostgreSQLSettings, _ configuration: Configuration, maximumVolumeBytes: UInt64? = nil,
        stageFactory: @escaping StageChainBuilder.Factory = TestStageFactory().factory
    ) throws -> JobSummary {
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        var backupSettings = BackupSettings(archiveDirectory: work.path + "/volumes", workers: 2)
        backupSettings.batchEntries = 16
        backupSettings.maximumVolumeBytes = maximumVolumeBytes
        return try BackupJob(
            job: try XCTUnwrap(configuration.job(named: "nightly")), fileSet: fileSet,
            chains: configuration.chains(for: fileSet),
            catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), settings: backupSettings,
            stageFactory: stageFactory
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

        // The failed job is still recorded as running (its connection could not record the end). Its JobId lock
        // went with its session, so any session marks it failed; a running job of another client (this session
        // holds its JobId lock) is left alone.
        let failedID = JobID(rawValue: failed.jobID)
        XCTAssertEqual(try catalog.job(failedID)?.status, .running)
        var other = JobRecord(
            name: "nightly", level: .full, fileSetName: "fs", fileSetDigest: "00", startTime: Clock.realtime())
        other.clientName = "elsewhere"
        let otherID = try catalog.beginJob(other)
        XCTAssertTrue(try catalog.tryLockJob("nightly", client: "lossy"))
        XCTAssertEqual(try catalog.markAbandonedJobs(finder: "the test"), [failedID])
        XCTAssertEqual(try catalog.job(failedID)?.status, .failed)
        XCTAssertEqual(try catalog.job(otherID)?.status, .running)
        // The lock is the session's: a second session cannot take it while this one holds it.
        let second = try DatabaseCatalog.open(postgreSQL: settings, create: false)
        defer { try? second.close() }
        XCTAssertFalse(try second.tryLockJob("nightly", client: "lossy"))
        XCTAssertTrue(try second.tryLockJob("nightly", client: "elsewhere"))
    }

    /// Issue 15: "a connection lost mid-job fails that job cleanly, and its volumes can still be scanned into the
    /// catalog". The job's session is ended after it committed the rows of its first volumes; the job fails, its row
    /// stays `R` with those rows only. A scan of its volumes into the same catalog is refused while the Job's lock
    /// is held elsewhere, then replaces the partial rows: one row per member, and a restore gives back every file
    /// the volumes hold, byte for byte.
    func testATerminatedJobsVolumesAreScannedIntoTheSameCatalogAndRestore() throws {
        let server = try PostgreSQLTestServer.shared()
        let settings = server.settings(database: try server.createDatabase())
        try DatabaseCatalog.open(postgreSQL: settings, create: true).close()
        var generator = SplitMix64(state: 15)
        for index in 0..<100 {
            XCTAssertTrue(try Shell.writeFile(work.path + "/src", "f\(index).bin", generator.bytes(8_000 + index)))
        }
        try FileManager.default.createDirectory(atPath: work.path + "/volumes", withIntermediateDirectories: true)
        let configuration = try Configuration.parse(
            text: """
                FileSet { Name = fs; Include { Options { Plugin = "gate" } File = "\(work.path)/src" } }
                Job { Name = nightly; Type = Backup; Level = Full; FileSet = fs; Client = lossy }
                """, fileName: "loss.conf")
        // The 60th entry waits at the gate: the entries before it are written, their volumes closed and their rows
        // committed, when the job's session is ended.
        let gate = GateStage(at: 60)
        let tests = TestStageFactory()
        let factory: StageChainBuilder.Factory = { string in string == "gate" ? gate : try tests.stage(string) }

        let committedBefore = Locked<Int64>(-1)
        let watcher = Thread {
            defer { gate.open() }
            guard gate.reached.wait(timeout: .now() + 20) == .success,
                let admin = try? PostgreSQLConnection(settings: settings)
            else { return }
            defer { admin.close() }
            do {
                // Rows of the first volume committed and the second volume recorded: its file is being written (it
                // holds at least the member it was opened for), its rows are not committed.
                var rows: Int64 = 0
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    rows = try admin.scalar("SELECT count(*) FROM files")
                    if rows > 0, try admin.scalar("SELECT count(*) FROM volumes") >= 2 { break }
                    usleep(1_000)
                }
                committedBefore.withLock { $0 = rows }
                _ = try admin.scalar(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity "
                        + "WHERE datname = current_database() AND pid <> pg_backend_pid() OFFSET 0) AS others")
            } catch {
                print("terminate: \(error)")
            }
        }
        watcher.start()
        let failed = try backup(settings, configuration, maximumVolumeBytes: 40_000, stageFactory: factory)
        while watcher.isExecuting { usleep(1_000) }
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue((failed.failure ?? "").contains("terminating connection due to administrator command"), failed.failure ?? "")
        let id = JobID(rawValue: failed.jobID)
        let catalog = try DatabaseCatalog.open(postgreSQL: settings, create: false)
        defer { try? catalog.close() }
        let partial = try catalog.files(job: id).count
        XCTAssertGreaterThan(partial, 0, "rows were committed before the session ended")
        XCTAssertGreaterThanOrEqual(Int64(partial), committedBefore.withLock { $0 })
        XCTAssertEqual(try catalog.job(id)?.status, .running)
        let volumes = failed.volumes
        var members = 0
        for volume in volumes {
            let reader = try PaxReader(path: volume)
            while try reader.next() != nil { members += 1 }
        }
        XCTAssertGreaterThan(members, partial, "the volumes hold more than the catalog")

        // While another session holds the Job's lock (the job may be running), the scan is refused.
        let holder = try DatabaseCatalog.open(postgreSQL: settings, create: false)
        XCTAssertTrue(try holder.tryLockJob("nightly", client: "lossy"))
        let start = try XCTUnwrap(try catalog.job(id)).startTime
        XCTAssertThrowsError(try VolumeScanner.scan(volumes: volumes, into: catalog)) { error in
            XCTAssertEqual(
                "\(error)",
                "JobId \(id) (nightly, started \(HumanTime.local(start))) is still marked running and Job "
                    + "\"nightly\" of client \"lossy\" is running (another session holds its Job lock): scan its volumes "
                    + "after that job ended; nothing was scanned")
        }
        XCTAssertEqual(try catalog.files(job: id).count, partial)
        try holder.close()

        let result = try VolumeScanner.scan(volumes: volumes, into: catalog)
        XCTAssertEqual(result.jobs.map(\.job.id), [id])
        XCTAssertEqual(result.jobs[0].replaced?.status, .running)
        XCTAssertFalse(result.jobs[0].hadTrailer, "the job ended without its trailer")
        let row = try XCTUnwrap(try catalog.job(id))
        XCTAssertEqual(row.status, .failed)
        XCTAssertEqual(row.clientName, "lossy")
        let rows = try catalog.files(job: id)
        XCTAssertEqual(rows.count, members, "one files row per member")
        XCTAssertEqual(try catalog.volumes(job: id).map(\.path), volumes)
        XCTAssertTrue(try catalog.messages(job: id).contains { $0.text.contains("replaced what the catalog held") })

        let target = work.path + "/restored"
        let summary = try RestoreJob(
            catalog: try DatabaseCatalog.open(postgreSQL: settings, create: false), jobID: id,
            settings: RestoreSettings(whereDirectory: target), stageFactory: factory
        ).run()
        XCTAssertEqual(summary.status, .ok, summary.failure ?? "")
        // The source directory's member comes after its files: a job that did not finish may not have written it.
        let files = rows.filter { $0.kind == .file }
        XCTAssertEqual(files.count, rows.filter { $0.kind != .directory }.count)
        for file in files {
            let path = String(decoding: file.path, as: UTF8.self)
            let restored = FileManager.default.contents(atPath: target + path)
            XCTAssertNotNil(restored, path)
            XCTAssertEqual(restored, FileManager.default.contents(atPath: path), path)
        }
    }
}

/// A stage that holds the job at the Nth entry offered until the test opens it (or 20 s pass): the job is in the
/// middle of its work meanwhile.
final class GateStage: Stage {
    let name = "gate"
    let needsWalkOrder = false
    /// Signalled when the Nth entry arrives.
    let reached = DispatchSemaphore(value: 0)
    private let gate = DispatchSemaphore(value: 0)
    private let position: Int
    private let offered = Atomic<Int>(0)

    init(at position: Int) {
        self.position = position
    }

    func open() { gate.signal() }

    func handle(_ event: JobEvent, context: StageContext) throws {}

    func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision {
        if offered.add(1, ordering: .relaxed).newValue == position {
            reached.signal()
            _ = gate.wait(timeout: .now() + 20)
        }
        return .core
    }
}
