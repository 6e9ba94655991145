import Pipeline
import PipelineTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 1: the crash consistency harness. The real `optionhost` binary backs up a tree of a few
/// thousand small files (and two streamed ones) and is stopped at a random moment — SIGKILL or SIGINT during a
/// backup, SIGKILL during a restore — and what it leaves is checked. The moments come from a seeded generator,
/// so a failing trial is reproduced by its seed. `OPTIONHOST_CRASH_TRIALS` sets the number of trials (default 5,
/// for the normal suite), `OPTIONHOST_CRASH_FILES` the small files (default 1,000) and `OPTIONHOST_CRASH_SEED`
/// the seed; `Tests/crash.sh` runs 50 trials of 3,000 files.
extension BackupCommandTests {
    enum CrashKind: String, CaseIterable { case backupKill = "backup SIGKILL", backupInterrupt = "backup SIGINT", restoreKill = "restore SIGKILL" }

    /// What the trials saw, for the report line the harness prints.
    struct CrashTally {
        var trials: [CrashKind: Int] = [:]
        var stoppedMidway = 0
        var finishedFirst = 0
        var filesChecked = 0
        var description: String {
            let kinds = CrashKind.allCases.map { "\(trials[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", ")
            return "crash harness: \(kinds); \(stoppedMidway) stopped midway, \(finishedFirst) finished before the "
                + "signal; \(filesChecked) restored files compared; nothing lost"
        }
    }

    static func environmentInteger(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }

    func testCrashConsistencyOfKilledAndInterruptedJobs() throws {
        let trials = BackupCommandTests.environmentInteger("OPTIONHOST_CRASH_TRIALS", default: 5)
        let seed = UInt64(BackupCommandTests.environmentInteger("OPTIONHOST_CRASH_SEED", default: 14))
        var random = SplitMix64(state: seed)
        let files = BackupCommandTests.environmentInteger("OPTIONHOST_CRASH_FILES", default: 1_000)
        let tree = try makeCrashTree(files: files, random: &random)
        let config = try config(
            [tree.root], jobExtra: "; Archive = disk",
            resources: """
                Archive { Name = disk; Directory = "\(archivePath)"; Maximum Volume Bytes = 1m }
                """)
        let backupArguments = ["backup", config, "--job", "Nightly", "--catalog", catalogPath, "--json"]

        // A first, complete job: its duration bounds the random moments of the backup trials, its restore's those
        // of the restore trials.
        var started = Date()
        let first = try optionhost(backupArguments)
        let backupSeconds = Date().timeIntervalSince(started)
        XCTAssertEqual(first.status, 0, first.stderr + first.output)
        started = Date()
        var tally = CrashTally()
        tally.filesChecked += try restoreAndCompare(job: 1, tree: tree, into: "restore-first")
        let restoreSeconds = Date().timeIntervalSince(started)

        for trial in 0..<trials {
            let kind = CrashKind.allCases[trial % CrashKind.allCases.count]
            tally.trials[kind, default: 0] += 1
            let context = "trial \(trial) (\(kind.rawValue), seed \(seed))"
            switch kind {
            case .backupKill, .backupInterrupt:
                let delay = Double(random.below(1_000)) / 1_000 * backupSeconds * 0.9
                let stopped = try crashBackup(
                    backupArguments, signal: kind == .backupKill ? SIGKILL : SIGINT, after: delay, tree: tree,
                    tally: &tally, context: context)
                if stopped { tally.stoppedMidway += 1 } else { tally.finishedFirst += 1 }
                // The next backup runs, removes what the stopped one left open, and restores exactly.
                let next = try optionhost(backupArguments)
                XCTAssertEqual(next.status, 0, "\(context): \(next.stderr) \(next.output)")
                let nextJob = try XCTUnwrap(try summary(next)["job_id"] as? Int, context)
                try assertNoOrphanVolumes(context)
                let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "\(nextJob)"])
                XCTAssertEqual(verify.status, 0, "\(context): \(verify.stderr) \(verify.output)")
                tally.filesChecked += try restoreAndCompare(job: nextJob, tree: tree, into: "restore-\(trial)")
                // Prune keeps the archive small over many trials, and must leave no volume no job needs.
                let prune = try optionhost(["prune", "--catalog", catalogPath, "--job", "Nightly", "--keep-last", "2"])
                XCTAssertEqual(prune.status, 0, "\(context): \(prune.stderr) \(prune.output)")
                try assertNoOrphanVolumes(context)
            case .restoreKill:
                let delay = Double(random.below(1_000)) / 1_000 * restoreSeconds * 0.9
                let stopped = try crashRestore(after: delay, tree: tree, trial: trial, context: context)
                if stopped { tally.stoppedMidway += 1 } else { tally.finishedFirst += 1 }
                tally.filesChecked += tree.files.count
            }
        }
        print(tally.description)
        XCTAssertEqual(tally.trials.values.reduce(0, +), trials)
    }

    // MARK: - Trials

    /// Starts a backup, sends `signal` after `delay` seconds, and checks what the catalog says of the stopped job:
    /// it opens, the job is marked failed (SIGKILL, or SIGINT before the handler was installed) or cancelled
    /// (SIGINT), every entry it records as stored verifies and restores byte for byte. Returns whether the signal
    /// stopped the job (rather than arriving after it finished).
    func crashBackup(
        _ arguments: [String], signal: Int32, after delay: TimeInterval, tree: CrashTree, tally: inout CrashTally,
        context: String
    ) throws -> Bool {
        let before = try jobRows().compactMap { $0["job_id"] as? Int }.max() ?? 0
        let process = try runAndSignal(arguments, signal, after: delay)

        // The catalog opens, and the next command marks a killed job failed.
        let jobs = try jobRows().filter { ($0["job_id"] as? Int ?? 0) > before }
        XCTAssertLessThanOrEqual(jobs.count, 1, "\(context): \(jobs)")
        guard let job = jobs.first, let id = job["job_id"] as? Int else {
            // Stopped before the job had a row: nothing of it may be left in the archive either.
            XCTAssertNotEqual(process.terminationReason == .exit ? process.terminationStatus : 3, 0, context)
            return true
        }
        let status = job["status"] as? String
        switch (process.terminationReason, process.terminationStatus) {
        case (.exit, 0):
            XCTAssertEqual(status, "T", context)
            let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "\(id)"])
            XCTAssertEqual(verify.status, 0, "\(context): \(verify.stderr)")
            tally.filesChecked += try restoreAndCompare(job: id, tree: tree, into: "restore-done-\(id)")
            return false
        case (.exit, 3):
            XCTAssertEqual(status, "A", "\(context): an interrupted job is cancelled")
        case (.uncaughtSignal, _):
            XCTAssertEqual(status, "f", "\(context): a killed job is marked failed at the next command")
        default:
            XCTFail("\(context): exit \(process.terminationStatus) (\(process.terminationReason))")
        }
        // Every stored row has its bytes in a volume: verify reads each member, restore compares them.
        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "\(id)", "--allow-incomplete"])
        XCTAssertEqual(verify.status, 1, "\(context): \(verify.stderr) \(verify.output)")
        XCTAssertFalse(verify.stderr.contains("mismatch"), "\(context): \(verify.stderr)")
        // A job stopped before its first batch of rows reached the catalog has nothing to restore.
        if try storedEntryCount(id) > 0 {
            tally.filesChecked += try restoreAndCompare(
                job: id, tree: tree, into: "restore-stopped-\(id)", extra: ["--allow-incomplete"], complete: false)
        }
        return true
    }

    /// Starts a restore of the newest complete job, kills it after `delay` seconds: every file under its final
    /// name is complete; the next restore into the same place gives the whole tree and leaves no temporary name.
    func crashRestore(after delay: TimeInterval, tree: CrashTree, trial: Int, context: String) throws -> Bool {
        let job = try XCTUnwrap(
            // Restores and verifies are jobs too: the newest complete backup.
            try jobRows().filter { $0["status"] as? String == "T" && $0["job_type"] as? String == "Backup" }
                .compactMap { $0["job_id"] as? Int }.max(), context)
        let target = work.appendingPathComponent("killed-restore-\(trial)").path
        let arguments = ["restore", "--catalog", catalogPath, "--jobid", "\(job)", "--where", target]
        let process = try runAndSignal(arguments, SIGKILL, after: delay)
        let stopped = process.terminationReason == .uncaughtSignal
        if !stopped { XCTAssertEqual(process.terminationStatus, 0, context) }

        for (relative, info) in try walk(target + tree.root) {
            XCTAssertFalse(relative.contains(".optionhost-restore-"), "\(context): a temporary name \(relative)")
            guard info.st_mode & S_IFMT == S_IFREG else { continue }
            XCTAssertEqual(contents(target + tree.path(relative)), tree.files[relative], "\(context): \(relative) is not complete")
        }
        let again = try optionhost(arguments)
        XCTAssertEqual(again.status, 0, "\(context): \(again.stderr)")
        try assertSameTree(target + tree.root, tree.root)
        XCTAssertFalse(
            try walk(target).contains { $0.0.contains(".optionhost-restore-") }, "\(context): a temporary name is left")
        _ = try run("/bin/rm", ["-rf", target])
        return stopped
    }

    /// Runs `optionhost` with `arguments`, sends it `signal` after `delay` seconds and waits for its end.
    func runAndSignal(_ arguments: [String], _ signal: Int32, after delay: TimeInterval) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTestCase.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process
    }

    // MARK: - Checks

    /// The tree the harness backs up: `files` small files of 1-4 KiB in 50 directories (`OPTIONHOST_CRASH_FILES`), and two streamed files
    /// of 1.5 MiB. Nothing changes it between trials, so every job restores to it.
    struct CrashTree {
        var root: String
        var files: [String: [UInt8]]
        func path(_ relative: String) -> String { root + "/" + relative }
    }

    func makeCrashTree(files count: Int, random: inout SplitMix64) throws -> CrashTree {
        var files: [String: [UInt8]] = [:]
        let block = random.bytes(4_096)
        for index in 0..<count {
            let prefix = Array("small file \(index)\n".utf8)
            files["d\(index % 50)/f\(index)"] = prefix + block.prefix(1_024 + random.below(3_072))
        }
        for index in 0..<2 { files["big/b\(index).bin"] = random.bytes(1_500_000) }
        for (relative, bytes) in files { try makeFile("crash/" + relative, bytes: bytes) }
        return CrashTree(root: work.appendingPathComponent("crash").path, files: files)
    }

    /// Restores `job` into a new directory and compares every restored regular file with the tree; `complete`
    /// also requires every file of the tree. Returns the number of files compared.
    func restoreAndCompare(
        job: Int, tree: CrashTree, into name: String, extra: [String] = [], complete: Bool = true
    ) throws -> Int {
        let target = work.appendingPathComponent(name).path
        let restore = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "\(job)", "--where", target, "--json"] + extra)
        let summary = try self.summary(restore)
        XCTAssertEqual(summary["files_failed"] as? Int, 0, "JobId \(job): \(restore.stderr) \(restore.output)")
        if complete {
            XCTAssertEqual(restore.status, 0, "JobId \(job): \(restore.stderr)")
            try assertSameTree(target + tree.root, tree.root)
        }
        var compared = 0
        for (relative, info) in try walk(target + tree.root) where info.st_mode & S_IFMT == S_IFREG {
            XCTAssertEqual(contents(target + tree.path(relative)), tree.files[relative], "JobId \(job): \(relative)")
            compared += 1
        }
        _ = try run("/bin/rm", ["-rf", target])
        return compared
    }

    /// No volume is left open, every volume file in the archive has a row, and every row's file exists.
    func assertNoOrphanVolumes(_ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let catalog = try SQLiteCatalog.open(path: catalogPath, create: false)
        defer { try? catalog.close() }
        var recorded: Set<String> = []
        for job in try catalog.jobs(name: nil) {
            for volume in try catalog.volumes(job: job.id) {
                XCTAssertNotEqual(volume.status, "open", "\(context): \(volume.name)", file: file, line: line)
                XCTAssertTrue(exists(volume.path), "\(context): \(volume.path) is gone", file: file, line: line)
                recorded.insert(volume.name)
            }
        }
        XCTAssertEqual(Set(tarFiles(archivePath)), recorded, "\(context): orphan volumes", file: file, line: line)
    }

    /// The entries under `root` (relative paths) with their `lstat`; nothing when `root` does not exist.
    func walk(_ root: String) throws -> [(String, stat)] {
        guard exists(root), let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var result: [(String, stat)] = []
        while let relative = walker.nextObject() as? String {
            var info = stat()
            XCTAssertEqual(lstat(root + "/" + relative, &info), 0, relative)
            result.append((relative, info))
        }
        return result
    }
}
