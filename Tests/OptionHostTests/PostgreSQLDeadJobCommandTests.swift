import Foundation
import PipelineTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Dead jobs and `prune` on a PostgreSQL catalog (issue 15), through the `optionhost` binary: a backup and a restore
/// killed with SIGKILL are marked failed by the next command (the backup's open volume removed with it), `prune`
/// removes one client's jobs and exactly their volume files, and the Job's lock keeps a prune out while a backup of
/// the same Job and client runs.
final class PostgreSQLDeadJobCommandTests: CommandLineTestCase {
    var server: PostgreSQLTestServer!
    var database = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try PostgreSQLTestServer.shared()
        database = try server.createDatabase()
    }

    /// `PostgreSQL catalog database "NAME" on SOCKET as USER`, as commands name the catalog.
    var catalogName: String {
        "PostgreSQL catalog database \"\(database)\" on \(server.socketDirectory) as \(server.superuser)"
    }

    /// A configuration for `client`: the shared catalog, its own archive and data directories, Job `Nightly`.
    func config(
        client: String, volumeSize: String? = nil, jobExtra: String = "", options: String = ""
    ) throws -> String {
        try write(
            "\(client).conf",
            """
            Catalog {
              Name = shared; DB Driver = postgresql; DB Name = \(database)
              DB Address = "\(server.socketDirectory)"; DB User = \(server.superuser)
            }
            Archive {
              Name = arc; Directory = "\(archive(client))"\(volumeSize.map { "; Maximum Volume Bytes = \($0)" } ?? "")
            }
            FileSet { Name = fs; Include { \(options) File = "\(work.path)/\(client)/data" } }
            Job {
              Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Catalog = shared; Archive = arc
              Client = \(client)\(jobExtra)
            }

            """)
    }

    func archive(_ client: String) -> String { "\(work.path)/\(client)/volumes" }

    func objects(_ result: Result) throws -> [[String: Any]] {
        try result.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0) }
    }

    /// The jobs `list jobs --json` shows (listing marks dead jobs failed first), by JobId.
    func jobs(_ config: String) throws -> [Int: [String: Any]] {
        let result = try optionhost(["list", "jobs", config, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        var jobs: [Int: [String: Any]] = [:]
        for object in try objects(result) where object["type"] as? String == "job" {
            jobs[object["job_id"] as? Int ?? 0] = object
        }
        return jobs
    }

    func messages(_ config: String, job: Int) throws -> String {
        let result = try optionhost(["list", "messages", config, "--jobid", String(job)])
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.output
    }

    func tarFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".tar") }
            .sorted().map { directory + "/" + $0 }
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Waits until the server has no session of the test's database left: a killed client's session ends when
    /// the server reads the closed socket, a moment after the kill.
    func waitForNoSessions() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let count = try server.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)'")
            if count.trimmingCharacters(in: .whitespacesAndNewlines) == "0" { return }
            usleep(10_000)
        }
        XCTFail("sessions of \(database) are still open")
    }

    /// `optionhost ARGUMENTS` started in the background, its output thrown away (or into `output`).
    func start(_ arguments: [String], output: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTestCase.binary)
        process.arguments = arguments
        process.standardOutput = output ?? FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    // MARK: - Dead jobs

    /// A backup killed while it writes its third volume: the next backup of the Job (same client) marks it failed
    /// and removes the volume it left open, and nothing else; `list messages` says who did what.
    func testKilledBackupIsMarkedFailedAndItsOpenVolumeRemovedByTheNextBackup() throws {
        var generator = SplitMix64(state: 21)
        let block = (0..<(2 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        for index in 0..<40 {
            var bytes = block
            let prefix = Array("file \(index)\n".utf8)
            bytes.replaceSubrange(0..<prefix.count, with: prefix)
            try makeFile("alpha-fd/data/f\(index).bin", bytes: bytes)
        }
        let config = try config(client: "alpha-fd", volumeSize: "5m")
        let process = try start(["backup", config, "--job", "Nightly", "--workers", "1"])
        // Killed once two volumes are full (their rows committed) and the third is being written.
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline && tarFiles(archive("alpha-fd")).count < 3 { usleep(2_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the backup finished before it was killed")
        try waitForNoSessions()
        let volumes = tarFiles(archive("alpha-fd"))
        XCTAssertGreaterThanOrEqual(volumes.count, 3)
        let openVolume = try XCTUnwrap(volumes.last)

        // A dry run of prune marks nothing and lists the volume the dead job left open.
        let dry = try optionhost(["prune", config, "--job", "Nightly", "--keep-last", "1", "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(
            try objects(dry).filter { $0["reason"] as? String == "left open by a job that did not finish" }.map {
                "\($0["action"]!) \($0["path"]!)"
            },
            ["would_delete \(openVolume)"])
        XCTAssertTrue(exists(openVolume))

        // The next backup (of a smaller tree) cleans up before it starts.
        for index in 1..<40 { try FileManager.default.removeItem(atPath: "\(work.path)/alpha-fd/data/f\(index).bin") }
        let next = try optionhost(["backup", config, "--job", "Nightly", "--json"])
        XCTAssertEqual(next.status, 0, next.stderr + next.output)
        let warnings = try objects(next).filter { $0["type"] as? String == "warning" }.compactMap {
            $0["message"] as? String
        }
        XCTAssertEqual(
            warnings,
            [
                "JobId 1 was still marked running with no process: marked failed",
                "removed volume \(openVolume) that JobId 1 left unfinished",
            ])
        XCTAssertFalse(exists(openVolume))
        XCTAssertEqual(tarFiles(archive("alpha-fd")), Array(volumes.dropLast()) + [archive("alpha-fd") + "/Nightly-2-0001.tar"])

        let jobs = try jobs(config)
        XCTAssertEqual(jobs.keys.sorted(), [1, 2])
        XCTAssertEqual(jobs[1]?["status"] as? String, "f")
        XCTAssertEqual(jobs[2]?["status"] as? String, "T")
        let log = try messages(config, job: 1)
        XCTAssertTrue(
            log.contains(
                "the job's process ended before the job finished (no process held the JobId's lock); marked failed "
                    + "by backup of Job \"Nightly\"."), log)
        XCTAssertTrue(log.contains("volume \(openVolume) ("), log)
        XCTAssertTrue(log.contains("removed by backup of Job \"Nightly\": the job ended before it finished writing it"), log)
    }

    /// A restore run is a job row too: while its process lives (blocked writing to a pipe nobody reads) `list
    /// jobs` leaves it running; killed, the next `list jobs` marks it failed.
    func testKilledRestoreRunIsMarkedFailedOnlyOnceItsProcessIsGone() throws {
        var generator = SplitMix64(state: 7)
        try makeFile("alpha-fd/data/big.bin", bytes: (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let config = try config(client: "alpha-fd")
        XCTAssertEqual(try optionhost(["backup", config, "--job", "Nightly"]).status, 0)

        let unread = Pipe()
        let restore = try start(
            ["restore", config, "--jobid", "1", "--stdout", "--select", "\(work.path)/alpha-fd/data/big.bin"],
            output: unread)
        defer {
            if restore.isRunning { kill(restore.processIdentifier, SIGKILL) }
        }
        let deadline = Date().addingTimeInterval(30)
        var seen: [Int: [String: Any]] = [:]
        while Date() < deadline {
            seen = try jobs(config)
            if seen[2] != nil { break }
            usleep(20_000)
        }
        XCTAssertEqual(seen[2]?["job_type"] as? String, "Restore")
        XCTAssertEqual(seen[2]?["status"] as? String, "R")
        XCTAssertTrue(restore.isRunning)
        usleep(200_000)
        XCTAssertEqual(try jobs(config)[2]?["status"] as? String, "R", "a live restore is left alone")

        kill(restore.processIdentifier, SIGKILL)
        restore.waitUntilExit()
        try waitForNoSessions()
        let after = try jobs(config)
        XCTAssertEqual(after[2]?["status"] as? String, "f")
        XCTAssertEqual(after[1]?["status"] as? String, "T")
        let log = try messages(config, job: 2)
        XCTAssertTrue(
            log.contains(
                "the job's process ended before the job finished (no process held the JobId's lock); marked failed "
                    + "by optionhost list jobs."), log)
    }

    /// The configuration warnings `backup` prints before it starts are printed on PostgreSQL too.
    func testWorldWritableModulePathIsWarnedByABackupIntoPostgreSQL() throws {
        let (plugins, message) = try worldWritablePluginDirectory()
        try makeFile("alpha-fd/data/a.txt", "hello\n")
        let config = try config(
            client: "alpha-fd", options: "Options { Plugin = \"python3:module_path=\(plugins):module_name=quiet\" }")
        let backup = try optionhost(["backup", config, "--job", "Nightly", "--json"])
        XCTAssertEqual(backup.status, 0, backup.stderr + backup.output)
        let warnings = try objects(backup).filter { $0["type"] as? String == "warning" }
        XCTAssertEqual(warnings.compactMap { $0["message"] as? String }, [message])
        XCTAssertEqual(warnings.first?["file"] as? String, config)
    }

    // MARK: - Prune

    /// Two clients, one Job name, one catalog: `prune --keep-last 1` from one client's configuration removes
    /// that client's older jobs and exactly their volume files; `--client` names the other client.
    func testPruneKeepLastRemovesOnlyThatClientsJobsAndVolumes() throws {
        let alpha = try config(client: "alpha-fd")
        let beta = try config(client: "beta-fd")
        for run in 0..<5 {
            let client = run % 2 == 0 ? "alpha-fd" : "beta-fd"
            try makeFile("\(client)/data/run.txt", "run \(run)\n")
            let backup = try optionhost(["backup", run % 2 == 0 ? alpha : beta, "--job", "Nightly"])
            XCTAssertEqual(backup.status, 0, backup.stderr)
        }
        func volume(_ client: String, _ id: Int) -> String { archive(client) + "/Nightly-\(id)-0001.tar" }
        let all = [volume("alpha-fd", 1), volume("beta-fd", 2), volume("alpha-fd", 3), volume("beta-fd", 4), volume("alpha-fd", 5)]
        XCTAssertEqual(tarFiles(archive("alpha-fd")) + tarFiles(archive("beta-fd")), [all[0], all[2], all[4], all[1], all[3]])

        let dry = try optionhost(["prune", alpha, "--job", "Nightly", "--keep-last", "1", "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let planned = try objects(dry)
        XCTAssertEqual(
            planned.filter { $0["type"] as? String == "job" }.map { "\($0["action"]!) \($0["job_id"]!)" },
            ["keep 5", "would_remove 1", "would_remove 3"])
        XCTAssertEqual(
            planned.filter { $0["type"] as? String == "volume" }.map { "\($0["action"]!) \($0["path"]!)" },
            ["would_delete \(all[0])", "would_delete \(all[2])"])
        for path in all { XCTAssertTrue(exists(path), path) }
        XCTAssertEqual(try jobs(alpha).keys.sorted(), [1, 2, 3, 4, 5])

        let freed = try [all[0], all[2]].reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int ?? 0)
        }
        let prune = try optionhost(["prune", alpha, "--job", "Nightly", "--keep-last", "1", "--json"])
        XCTAssertEqual(prune.status, 0, prune.stderr)
        XCTAssertEqual(
            prune.lines.last,
            "{\"type\":\"summary\",\"status\":\"ok\",\"dry_run\":false,\"job\":\"Nightly\",\"client\":\"alpha-fd\","
                + "\"catalog\":\"\(catalogName.replacingOccurrences(of: "\"", with: "\\\""))\",\"jobs_kept\":1,"
                + "\"jobs_removed\":2,\"volumes_deleted\":2,\"volumes_failed\":0,\"bytes_freed\":"
                + "\(freed)}")
        XCTAssertFalse(exists(all[0]))
        XCTAssertFalse(exists(all[2]))
        for path in [all[1], all[3], all[4]] { XCTAssertTrue(exists(path), path) }
        XCTAssertEqual(try jobs(alpha).keys.sorted(), [2, 4, 5])

        // The other client by name, from the same configuration.
        let text = try optionhost(["prune", alpha, "--job", "Nightly", "--keep-last", "1", "--client", "beta-fd"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(
            text.lines.first, "Prune of Job \"Nightly\" of client beta-fd (keep the last 1 successful job): ok")
        XCTAssertFalse(exists(all[1]))
        XCTAssertTrue(exists(all[3]))
        XCTAssertEqual(try jobs(alpha).keys.sorted(), [4, 5])
    }

    /// While a backup of Job Nightly of client alpha-fd runs (its Run Before Job sleeps), a prune of that Job and
    /// client is refused by the Job's lock; a dry run reads without it, and another client is not held up.
    func testPruneIsRefusedWhileABackupOfTheSameJobAndClientRuns() throws {
        try makeFile("alpha-fd/data/a.txt", "hello\n")
        let quick = try config(client: "alpha-fd")
        XCTAssertEqual(try optionhost(["backup", quick, "--job", "Nightly"]).status, 0)
        let pidFile = work.path + "/sleeper.pid"
        let slow = try config(
            client: "alpha-fd", jobExtra: "\n  Run Before Job = \"sh -c 'echo $$ >\(pidFile); exec sleep 60'\"")
        let backup = try start(["backup", slow, "--job", "Nightly"])
        defer {
            if backup.isRunning { kill(backup.processIdentifier, SIGKILL) }
        }
        var sleeper: Int32 = 0
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && sleeper == 0 {
            sleeper = Int32(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            usleep(10_000)
        }
        XCTAssertGreaterThan(sleeper, 0, "the backup's Run Before Job did not start")

        let refused = try optionhost(["prune", quick, "--job", "Nightly", "--keep-last", "1"])
        XCTAssertEqual(refused.status, 3)
        XCTAssertEqual(
            refused.stderr,
            "optionhost: Job \"Nightly\" of client alpha-fd is running: another session of \(catalogName) holds its lock\n")
        let dry = try optionhost(["prune", quick, "--job", "Nightly", "--keep-last", "1", "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(
            try objects(dry).filter { $0["type"] as? String == "job" }.map { "\($0["action"]!) \($0["job_id"]!)" },
            ["keep 2", "keep 1"])
        let other = try optionhost(["prune", quick, "--job", "Nightly", "--keep-last", "1", "--client", "beta-fd"])
        XCTAssertEqual(other.status, 2)
        XCTAssertEqual(other.stderr, "optionhost: no job named \"Nightly\" of client beta-fd in catalog \(catalogName)\n")
        XCTAssertEqual(try jobs(quick)[2]?["status"] as? String, "R")

        // The script killed: the backup fails and ends; after one more backup the prune runs.
        kill(sleeper, SIGKILL)
        backup.waitUntilExit()
        XCTAssertEqual(backup.terminationStatus, 3)
        XCTAssertEqual(try jobs(quick)[2]?["status"] as? String, "f")
        XCTAssertEqual(try optionhost(["backup", quick, "--job", "Nightly"]).status, 0)
        let prune = try optionhost(["prune", quick, "--job", "Nightly", "--keep-last", "1", "--json"])
        XCTAssertEqual(prune.status, 0, prune.stderr)
        XCTAssertEqual(
            try objects(prune).filter { $0["type"] as? String == "job" }.map { "\($0["action"]!) \($0["job_id"]!)" },
            ["keep 3", "remove 1", "remove 2"])
    }
}
