import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, defects 2, 5, 6 and 9: what survives a killed job, a full archive disk, a damaged catalog and a
/// partial `scan` — through the built binary, with real processes, files, catalogs and a real tmpfs.
extension BackupCommandTests {
    // MARK: - Helpers

    /// `count` files of `size` bytes under `tree/NAME`, each different from its first byte on (a shared random
    /// block behind a per-file prefix), so nothing compresses and every file is stored.
    func makeIncompressibleTree(_ name: String, files count: Int, size: Int, seed: UInt64) throws -> String {
        let block = BackupCommandTests.pseudoRandom(size, seed: seed)
        for index in 0..<count {
            var bytes = block
            let prefix = Array("file \(index) of \(name)\n".utf8)
            bytes.replaceSubrange(0..<prefix.count, with: prefix)
            try makeFile("\(name)/f\(index).bin", bytes: bytes)
        }
        return work.appendingPathComponent(name).path
    }

    /// The regular files `list files` shows as stored for a job.
    func storedFiles(_ jobID: Int, catalog: String? = nil) throws -> [String] {
        let result = try optionhost(["list", "files", "--catalog", catalog ?? catalogPath, "--jobid", "\(jobID)", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try objects(result).filter { $0["status"] as? String == "stored" && $0["type"] as? String == "file" }
            .compactMap { $0["path"] as? String }.sorted()
    }

    /// The entries of any kind `list files` shows as stored for a job.
    func storedEntryCount(_ jobID: Int) throws -> Int {
        let result = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "\(jobID)", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try objects(result).filter { $0["status"] as? String == "stored" }.count
    }

    func jobRows() throws -> [[String: Any]] {
        let result = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try objects(result).filter { $0["type"] as? String == "job" }
    }

    func tarFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".tar") }.sorted()
    }

    // MARK: - Defects 2 and 5: a backup killed with SIGKILL

    /// A backup killed mid-job: while a job holds the catalog lock its row stays running and a restore of it is
    /// refused as running; once the lock is free the next command marks it failed with the counts its rows give;
    /// `prune --dry-run` lists the volume it left open, `prune` removes exactly that one; restore and verify of
    /// the failed job are refused unless `--allow-incomplete`, which restores what the catalog holds.
    func testKilledBackupIsMarkedFailedAndPruneRemovesTheVolumeItLeftOpen() throws {
        let tree = try makeIncompressibleTree("tree", files: 40, size: 2 << 20, seed: 21)
        let config = try config(
            [tree], jobExtra: "; Archive = disk",
            resources: """
                Archive { Name = disk; Directory = "\(archivePath)"; Maximum Volume Bytes = 5m }
                """)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTestCase.binary)
        process.arguments = ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--workers", "1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Killed once two volumes are full (their rows committed) and the third is being written.
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline && tarFiles(archivePath).count < 3 { usleep(2_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the backup finished before it was killed")
        let volumes = tarFiles(archivePath)
        XCTAssertGreaterThanOrEqual(volumes.count, 3)
        let openVolume = archivePath + "/" + volumes.last!

        // While something holds the catalog lock the job may be running: it stays `R`, and is refused as such.
        let holder = try holdLock(catalogPath + ".lock")
        let target = work.appendingPathComponent("restored").path
        let running = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(running.status, 3, running.stderr)
        XCTAssertTrue(
            running.stderr.hasPrefix("optionhost: refusing JobId 1: JobId 1 is still running (status R): the catalog holds "),
            running.stderr)
        XCTAssertEqual(try jobRows().first?["status"] as? String, "R")
        release(holder)

        // The lock is free: `list jobs` marks the job failed, with the counts of its committed rows.
        let jobs = try jobRows()
        XCTAssertEqual(jobs.count, 1)
        XCTAssertEqual(jobs[0]["status"] as? String, "f")
        let stored = try storedFiles(1)
        XCTAssertGreaterThan(stored.count, 0, "the rows of the full volumes were committed")
        XCTAssertEqual(jobs[0]["files_stored"] as? Int, stored.count)
        let messages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertTrue(
            messages.output.contains(
                "the job's process ended before the job finished (no process held the catalog lock); marked failed "
                    + "by optionhost list jobs."), messages.output)

        // The dry run lists the open volume and deletes nothing.
        let dryRun = try optionhost(
            ["prune", "--catalog", catalogPath, "--job", "Nightly", "--older-than", "1 day", "--dry-run", "--json"])
        XCTAssertEqual(dryRun.status, 0, dryRun.stderr + dryRun.output)
        let planned = try objects(dryRun).filter { $0["type"] as? String == "volume" }
        XCTAssertEqual(planned.count, 1, dryRun.output)
        XCTAssertEqual(planned.first?["path"] as? String, openVolume)
        XCTAssertEqual(planned.first?["action"] as? String, "would_delete")
        XCTAssertEqual(planned.first?["reason"] as? String, "left open by a job that did not finish")
        XCTAssertEqual(tarFiles(archivePath), volumes)

        // A process holding the archive directory's lock (a job of another catalog writing there) keeps the file.
        let archiveHolder = try holdLock(archivePath + "/.optionhost.lock")
        let blocked = try optionhost(
            ["prune", "--catalog", catalogPath, "--job", "Nightly", "--older-than", "1 day", "--json"])
        release(archiveHolder)
        XCTAssertEqual(blocked.status, 1, blocked.stderr + blocked.output)
        let kept = try objects(blocked).filter { $0["type"] as? String == "volume" }
        XCTAssertEqual(kept.first?["action"] as? String, "delete_failed", blocked.output)
        XCTAssertTrue((kept.first?["message"] as? String ?? "").hasPrefix("archive \(archivePath) is in use"), blocked.output)
        XCTAssertEqual(tarFiles(archivePath), volumes)

        let prune = try optionhost(["prune", "--catalog", catalogPath, "--job", "Nightly", "--older-than", "1 day", "--json"])
        XCTAssertEqual(prune.status, 0, prune.stderr + prune.output)
        XCTAssertEqual(try summary(prune)["volumes_deleted"] as? Int, 1)
        XCTAssertEqual(tarFiles(archivePath), Array(volumes.dropLast()), "only the open volume is removed")
        XCTAssertEqual(try jobRows().first?["files_stored"] as? Int, try storedFiles(1).count)

        // Restore and verify of the failed job: refused, then allowed with what is missing said.
        let refused = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        let restorable = try storedFiles(1)
        let holds = "JobId 1 did not finish (status f, failed): the catalog holds \(try storedEntryCount(1)) stored entries of "
            + "it; the entries it had not reached are missing"
        XCTAssertEqual(
            refused.stderr, "optionhost: refusing JobId 1: \(holds); pass --allow-incomplete to use what the catalog holds\n")
        XCTAssertFalse(exists(target))
        let allowed = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--allow-incomplete"])
        XCTAssertEqual(allowed.status, 1, allowed.stderr + allowed.output)
        XCTAssertTrue(allowed.stderr.hasPrefix("warning: incomplete: \(holds)\n"), allowed.stderr)
        for path in restorable { XCTAssertEqual(contents(target + path), contents(path), path) }
        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(verify.status, 3, verify.stderr)
        let verifyAllowed = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1", "--allow-incomplete"])
        XCTAssertEqual(verifyAllowed.status, 1, verifyAllowed.stderr + verifyAllowed.output)
        XCTAssertTrue(verifyAllowed.output.hasPrefix("Verify of JobId 1 (Nightly): OK; \(restorable.count) files"), verifyAllowed.output)
    }

    // MARK: - Defects 2 and 5: a full archive disk

    /// A backup that fills a 3 MiB tmpfs fails; its summary counts what the catalog holds (nothing), `prune
    /// --dry-run` lists its partial volume, and the next backup removes it before it starts, then succeeds.
    func testDiskFullBackupLeavesNoVolumeAfterTheNextBackup() throws {
        let disk = work.appendingPathComponent("small").path
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", disk])
        XCTAssertEqual(mount.status, 0, "a tmpfs is needed (tests run as root): \(mount.stderr)")
        defer { _ = try? run("/bin/umount", ["-l", disk]) }
        let tree = try makeIncompressibleTree("big", files: 6, size: 1 << 20, seed: 31)
        let config = try config([tree])
        let failed = try optionhost(
            ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--archive", disk, "--json"])
        XCTAssertEqual(failed.status, 3, failed.output + failed.stderr)
        let summary = try self.summary(failed)
        XCTAssertEqual(summary["status"] as? String, "failed")
        XCTAssertTrue((summary["failure"] as? String ?? "").contains("No space left on device"), "\(summary)")
        // What the catalog holds, not what the writer had counted.
        let stored = try storedFiles(1)
        XCTAssertEqual(summary["files_stored"] as? Int, stored.count)
        XCTAssertEqual(try jobRows().first?["files_stored"] as? Int, stored.count)
        XCTAssertEqual(tarFiles(disk), ["Nightly-1-0001.tar"])

        let dryRun = try optionhost(
            ["prune", "--catalog", catalogPath, "--job", "Nightly", "--older-than", "1 day", "--dry-run"])
        XCTAssertEqual(dryRun.status, 0, dryRun.stderr)
        XCTAssertTrue(
            dryRun.output.contains("  would delete \(disk)/Nightly-1-0001.tar ("), dryRun.output)
        XCTAssertTrue(dryRun.output.contains("): left open by JobId 1, which did not finish\n"), dryRun.output)
        XCTAssertEqual(tarFiles(disk), ["Nightly-1-0001.tar"])

        // The next backup (one small file) frees the disk first, then fits.
        try makeFile("small-tree/note.txt", "fits\n")
        let smallConfig = try self.config([work.appendingPathComponent("small-tree").path], name: "small.conf")
        let next = try optionhost(
            ["backup", smallConfig, "--job", "Nightly", "--catalog", catalogPath, "--archive", disk, "--json"])
        XCTAssertEqual(next.status, 0, next.output + next.stderr)
        let warnings = try objects(next).filter { $0["type"] as? String == "warning" }.compactMap { $0["message"] as? String }
        XCTAssertEqual(warnings, ["removed volume \(disk)/Nightly-1-0001.tar that JobId 1 left unfinished"])
        XCTAssertEqual(tarFiles(disk), ["Nightly-2-0001.tar"])
    }

    // MARK: - Defect 6: a damaged catalog

    /// A catalog page overwritten in the middle of the file: the next backup refuses before it records anything,
    /// naming the page and `scan`; `verify` says the same and `list files` (which reads that page) fails too,
    /// both with exit 3.
    func testDamagedCatalogIsRefusedByBackupVerifyAndListFilesWithExitThree() throws {
        for index in 0..<400 { try makeFile("tree/f\(index).txt", "file \(index)\n") }
        let config = try config([work.appendingPathComponent("tree").path])
        XCTAssertEqual(try backup(config).status, 0)
        XCTAssertFalse(exists(catalogPath + "-wal"), "the last connection checkpointed the catalog")
        // The page nearest the middle of the file that is a leaf of the `files` table (SQLite page type 0x0D, with
        // paths of the tree in it), overwritten whole.
        let bytes = try XCTUnwrap(contents(catalogPath))
        let pages = bytes.count / 4096
        let marker = Array("/tree/f".utf8)
        let page = try XCTUnwrap(
            (1..<pages).sorted { abs($0 - pages / 2) < abs($1 - pages / 2) }.first { index in
                let body = bytes[(index * 4096)..<((index + 1) * 4096)]
                return body.first == 0x0D && body.firstRange(of: marker) != nil
            })
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: catalogPath))
        try handle.seek(toOffset: UInt64(page * 4096))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096))
        try handle.close()
        let hint = "rebuild it from the volumes with: optionhost scan VOLUME... --catalog NEWFILE\n"
        let quickCheck = "optionhost: catalog \(catalogPath) is damaged (quick_check: Page \(page + 1): "
            + "btreeInitPage() returns error code 11); " + hint

        let refused = try backup(config, json: false)
        XCTAssertEqual(refused.status, 3, refused.output)
        XCTAssertEqual(refused.stderr, quickCheck)
        XCTAssertEqual(refused.output, "")
        XCTAssertEqual(tarFiles(archivePath), ["Nightly-1-0001.tar"], "nothing written")
        XCTAssertEqual(try jobRows().count, 1, "no job recorded")

        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(verify.status, 3, verify.output)
        XCTAssertEqual(verify.stderr, quickCheck)
        let list = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(list.status, 3)
        XCTAssertEqual(
            list.stderr, "optionhost: catalog \(catalogPath) is damaged (database disk image is malformed); " + hint)
    }

    // MARK: - Defect 9: a restore chain with a gap

    /// Full, Inc1, Inc2, Inc3, each changing the tree; a catalog rebuilt from the volumes of the Full and Inc3
    /// only refuses to restore Inc3, naming Inc1 and Inc2; `--allow-incomplete` restores with a warning (exit 1).
    /// With every volume scanned the chain is whole again.
    func testRestoreOfAChainWithJobsLeftOutOfTheScanIsRefusedNamingThem() throws {
        try makeFile("tree/kept.txt", "kept\n")
        try makeFile("tree/changed.txt", "old\n")
        let tree = work.appendingPathComponent("tree").path
        let config = try config([tree], jobExtra: "; Accurate = yes")
        XCTAssertEqual(try backup(config).status, 0)
        try makeFile("tree/changed.txt", "new\n")
        XCTAssertEqual(try backup(config, extra: ["--level", "Incremental"]).status, 0)
        try makeFile("tree/added.txt", "added\n")
        XCTAssertEqual(try backup(config, extra: ["--level", "Incremental"]).status, 0)
        try makeFile("tree/last.txt", "last\n")
        let last = try backup(config, extra: ["--level", "Incremental"])
        XCTAssertEqual(last.status, 0, last.output)
        XCTAssertEqual(tarFiles(archivePath), (1...4).map { "Nightly-\($0)-0001.tar" })

        let partial = work.appendingPathComponent("partial.db").path
        let scan = try optionhost(
            ["scan", archivePath + "/Nightly-1-0001.tar", archivePath + "/Nightly-4-0001.tar", "--catalog", partial])
        XCTAssertEqual(scan.status, 0, scan.stderr)
        let target = work.appendingPathComponent("restored").path
        let refused = try optionhost(["restore", "--catalog", partial, "--jobid", "4", "--where", target])
        XCTAssertEqual(refused.status, 3, refused.output)
        let gap = "the tree as of JobId 4 needs JobIds 2, 3, which the catalog does not hold (were all volumes scanned?)"
        XCTAssertEqual(
            refused.stderr,
            "optionhost: refusing JobId 4: \(gap); pass --allow-incomplete to use what the catalog holds\n")
        XCTAssertFalse(exists(target))

        let allowed = try optionhost(
            ["restore", "--catalog", partial, "--jobid", "4", "--where", target, "--allow-incomplete", "--json"])
        XCTAssertEqual(allowed.status, 1, allowed.stderr + allowed.output)
        XCTAssertEqual(try objects(allowed).first?["message"] as? String, "incomplete: " + gap)
        XCTAssertEqual(contents(target + tree + "/last.txt"), Array("last\n".utf8))

        let whole = work.appendingPathComponent("whole.db").path
        let scanAll = try optionhost(["scan"] + tarFiles(archivePath).map { archivePath + "/" + $0 } + ["--catalog", whole])
        XCTAssertEqual(scanAll.status, 0, scanAll.stderr)
        let complete = work.appendingPathComponent("complete").path
        let restore = try optionhost(["restore", "--catalog", whole, "--jobid", "4", "--where", complete])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        try assertSameTree(complete + tree, tree)
    }
}
