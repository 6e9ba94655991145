import PipelineTestSupport
import XCTest

/// Issue 14, defect 3: `Plugin Isolation = process` runs each Python plugin string of a backup in a plugin process
/// of its own. A plugin that ends its process however it likes fails the job cleanly (exit 3, the plugin, how the
/// process ended and the file in the failure, the job `f` in the catalog, the JSON summary written); an exception
/// stays a per-file failure; and a normal plugin gives the same catalog rows and restores as in-process.
extension PythonCommandTests {
    /// A plugin that does `action` in `handle_backup_file` of `zz-last.txt` and answers bRC_Core otherwise.
    private func dyingPlugin(_ name: String, _ action: String) throws {
        try plugin(
            name,
            """
            import bareosfd, ctypes, os, posix, signal
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith("zz-last.txt"):
                    \(action)
                return bareosfd.bRC_Core
            """)
    }

    /// Runs a `--json` backup of `tree` with `Plugin Isolation = isolation` and returns the result, its summary and
    /// the job's status letter in `list jobs`.
    private func isolatedBackup(
        _ module: String, tree: String, isolation: String = "process", catalog: String
    ) throws -> (Result, [String: Any], String?) {
        let string = "python3:module_path=\(plugins):module_name=\(module)"
        let path = try config(string, tree: tree, jobExtra: "; Plugin Isolation = \(isolation)")
        let result = try optionhost(["backup", path, "--job", "Nightly", "--catalog", catalog, "--archive", archivePath, "--json"])
        let summary = try XCTUnwrap(try objects(result).last, result.stderr)
        let jobs = try optionhost(["list", "jobs", "--catalog", catalog, "--json"])
        let job = try objects(jobs).first { $0["type"] as? String == "job" }
        return (result, summary, job?["status"] as? String)
    }

    func testAPluginProcessThatDiesFailsTheJobNamingPluginHowAndFile() throws {
        for index in 0..<3 { try makeFile("tree/f\(index).txt", "file \(index)") }
        try makeFile("tree/zz-last.txt", "last")
        let tree = work.appendingPathComponent("tree").path
        let file = "\(tree)/zz-last.txt"
        let refused = "called os._exit, which would have ended the process; the job fails instead (HostExit: "
        let cases: [(module: String, action: String, failure: String)] = [
            ("exits", "os._exit(1)", "handle_backup_file of \(file) \(refused)os._exit(1) called by the plugin; optionhost does not end the process for it)"),
            ("posixexits", "posix._exit(7)", "handle_backup_file of \(file) \(refused)os._exit(7) called by the plugin; optionhost does not end the process for it)"),
            ("killsitself", "os.kill(os.getpid(), signal.SIGKILL)", "the plugin process was killed by signal 9 (SIGKILL) during handle_backup_file of \(file); the job fails (Plugin Isolation = process)"),
            ("segfaults", "ctypes.string_at(0)", "the plugin process was killed by signal 11 (SIGSEGV) during handle_backup_file of \(file); the job fails (Plugin Isolation = process)"),
        ]
        for (number, item) in cases.enumerated() {
            try dyingPlugin(item.module, item.action)
            let catalog = work.appendingPathComponent("catalog-\(number).db").path
            let (result, summary, status) = try isolatedBackup(item.module, tree: tree, catalog: catalog)
            let expected = "python3:module_path=\(plugins):module_name=\(item.module): \(item.failure)"
            XCTAssertEqual(result.status, 3, item.module + ": " + result.output + result.stderr)
            XCTAssertEqual(summary["type"] as? String, "summary", item.module)
            XCTAssertEqual(summary["status"] as? String, "failed", item.module)
            XCTAssertEqual(summary["failure"] as? String, expected, item.module)
            XCTAssertEqual(summary["errors"] as? Int, 1, item.module)
            XCTAssertEqual(try objects(result).first?["message"] as? String, expected, item.module)
            XCTAssertEqual(status, "f", item.module)
            // Only the host's own lines: the plugin process printed nothing of its own (no backtrace).
            XCTAssertEqual(result.stderr, "", item.module)
        }
    }

    func testAnExceptionInAPluginProcessFailsOnlyItsFile() throws {
        for index in 0..<3 { try makeFile("tree/f\(index).txt", "file \(index)") }
        try makeFile("tree/zz-last.txt", "last")
        let tree = work.appendingPathComponent("tree").path
        try dyingPlugin("raises", "raise RuntimeError('boom')")
        let (result, summary, status) = try isolatedBackup("raises", tree: tree, catalog: catalogPath)
        XCTAssertEqual(result.status, 1, result.output + result.stderr)
        XCTAssertEqual(summary["status"] as? String, "warnings")
        XCTAssertEqual(summary["files_stored"] as? Int, 3)
        XCTAssertEqual(summary["files_failed"] as? Int, 1)
        XCTAssertEqual(status, "W")
        let error = try XCTUnwrap(try objects(result).first)
        XCTAssertEqual(error["path"] as? String, "\(tree)/zz-last.txt")
        XCTAssertEqual(
            error["message"] as? String,
            "stage python3:module_path=\(plugins):module_name=raises: handle_backup_file raised an exception:\n"
                + "Traceback (most recent call last):\n  File \"\(plugins)/raises.py\", line 8, in handle_backup_file\n"
                + "    raise RuntimeError('boom')\nRuntimeError: boom")
    }

    /// A call that hangs in a plugin process is ended by the process's own Plugin Call Timeout, reported like any
    /// fatal reason; the host does not wait for the call.
    func testAHangingCallInAPluginProcessAbortsTheJobAfterTheTimeout() throws {
        try makeFile("tree/a.txt", "a")
        try makeFile("tree/zz-last.txt", "last")
        let tree = work.appendingPathComponent("tree").path
        try dyingPlugin("hangs", "import time; time.sleep(120)")
        let string = "python3:module_path=\(plugins):module_name=hangs"
        let path = try config(string, tree: tree, jobExtra: "; Plugin Isolation = process; Plugin Call Timeout = 1s")
        let started = Date()
        let result = try optionhost(["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertEqual(result.status, 3, result.output + result.stderr)
        let summary = try XCTUnwrap(try objects(result).last)
        XCTAssertEqual(
            summary["failure"] as? String,
            "\(string): handle_backup_file(\(tree)/zz-last.txt) did not return within 1 s (Plugin Call Timeout); the job is aborted")
        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(try objects(jobs).first?["status"] as? String, "f")
    }

    /// In-process, `posix._exit` is refused like `os._exit` (it used to end the process with no report).
    func testPosixExitInProcessFailsTheJobNamingPluginAndFile() throws {
        try makeFile("tree/a.txt", "a")
        try makeFile("tree/zz-last.txt", "last")
        let tree = work.appendingPathComponent("tree").path
        try dyingPlugin("posixexits", "posix._exit(7)")
        let (result, summary, status) = try isolatedBackup("posixexits", tree: tree, isolation: "inprocess", catalog: catalogPath)
        XCTAssertEqual(result.status, 3, result.output + result.stderr)
        XCTAssertEqual(
            summary["failure"] as? String,
            "python3:module_path=\(plugins):module_name=posixexits: handle_backup_file of \(tree)/zz-last.txt called "
                + "os._exit, which would have ended the process; the job fails instead (HostExit: os._exit(7) called by "
                + "the plugin; optionhost does not end the process for it)")
        XCTAssertEqual(status, "f")
    }

    /// In-process, SIGKILL ends `optionhost` with no handler running; the call it was in is in
    /// `CATALOG.plugin-call`, and the next command names it when it marks the job failed.
    func testAPluginThatKillsTheProcessInProcessIsNamedByTheNextCommand() throws {
        try makeFile("tree/a.txt", "a")
        try makeFile("tree/zz-last.txt", "last")
        let tree = work.appendingPathComponent("tree").path
        try dyingPlugin("killsitself", "os.kill(os.getpid(), signal.SIGKILL)")
        let path = try config(
            "python3:module_path=\(plugins):module_name=killsitself", tree: tree, jobExtra: "; Plugin Isolation = inprocess")
        let backup = try optionhost(["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath])
        XCTAssertEqual(backup.status, SIGKILL, backup.output + backup.stderr)  // Process: the signal that ended it
        XCTAssertTrue(FileManager.default.fileExists(atPath: catalogPath + ".plugin-call"))
        let messages = try optionhost(["list", "messages", "--jobid", "1", "--catalog", catalogPath])
        XCTAssertEqual(messages.status, 0, messages.stderr)
        XCTAssertEqual(
            messages.output,
            "error: the job's process ended before the job finished (no process held the catalog lock); marked failed "
                + "by optionhost list. Its rows are what it committed before it ended. It ended during a Python plugin "
                + "call: python3:module_path=\(plugins):module_name=killsitself: handle_backup_file of \(tree)/zz-last.txt.\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: catalogPath + ".plugin-call"))
        // A job that ends normally leaves no note behind.
        try dyingPlugin("killsitself", "pass")
        let again = try optionhost(["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath])
        XCTAssertEqual(again.status, 0, again.output + again.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: catalogPath + ".plugin-call"))
    }

    /// The checksum-log and gzip_io examples (plugin_io bytes over the socket) in both modes: the same catalog rows
    /// (every column but id and atime) and `list files`, the same checksum log, and byte-identical restores.
    func testExamplePluginsGiveTheSameRowsAndRestoresInBothModes() throws {
        try makeFile("tree/docs/a.txt", String(repeating: "compressible text\n", count: 1000))
        try makeFile("tree/b.bin", bytes: (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
        // Incompressible, so its gzip stream is above the 8 MiB a taken file may keep in memory: the plugin process
        // and then the host spill it to a temporary file.
        var random = SplitMix64(state: 14)
        try makeFile("tree/large.bin", bytes: random.bytes(9 << 20))
        try makeFile("tree/empty", "")
        for index in 0..<20 { try makeFile("tree/many/f\(index)", "small \(index)") }
        let tree = work.appendingPathComponent("tree").path
        let log = work.appendingPathComponent("sums.txt").path
        var listings: [[UInt8]] = []
        var catalogRows: [String] = []
        var logs: [String] = []
        for isolation in ["inprocess", "process"] {
            let configuration = try write(
                "both.conf",
                """
                FileSet {
                  Name = fs
                  Include {
                    Options {
                      Signature = SHA256
                      Plugin = "python3:module_path=\(examples):module_name=bareos-fd-checksum-log:log=\(log)"
                      Plugin = "python3:module_path=\(examples):module_name=gzip_io"
                    }
                    File = "\(tree)"
                  }
                }
                Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Plugin Isolation = \(isolation) }

                """)
            let catalog = work.appendingPathComponent("\(isolation).db").path
            let backup = try optionhost(
                ["backup", configuration, "--job", "Nightly", "--catalog", catalog,
                 "--archive", archivePath + "-" + isolation, "--json"])
            XCTAssertEqual(backup.status, 0, isolation + ": " + backup.output + backup.stderr)
            let summary = try XCTUnwrap(try objects(backup).last)
            XCTAssertEqual(summary["files_stored"] as? Int, 24, isolation)
            XCTAssertGreaterThan(summary["bytes_stored"] as? Int ?? 0, 9 << 20, isolation)
            logs.append(try String(contentsOfFile: log, encoding: .utf8))
            try FileManager.default.removeItem(atPath: log)
            let files = try optionhost(["list", "files", "--jobid", "1", "--catalog", catalog, "--json"])
            XCTAssertEqual(files.status, 0, files.stderr)
            listings.append(files.stdout)
            // Every column of every row but the id and the access time (the first run's reads move it).
            let rows = try run(
                "/usr/bin/sqlite3",
                ["-readonly", catalog,
                 "SELECT job_id, file_index, hex(path), type, status, mode, uid, gid, user_name, group_name, size, mtime, "
                    + "mtime_ns, ctime, ctime_ns, inode, device, rdev, nlink, hex(link_target), hex(source_sha256), "
                    + "hex(stored_sha256), signature_algorithm, hex(signature), volume_id, header_offset, data_offset, "
                    + "stored_length, compression, sparse, chain, stage_metadata, block, error FROM files ORDER BY file_index"])
            XCTAssertEqual(rows.status, 0, rows.stderr)
            XCTAssertEqual(rows.lines.count, 27, isolation)  // 24 files, 3 directories
            catalogRows.append(rows.output)
            let target = work.appendingPathComponent("restore-\(isolation)").path
            let restore = try optionhost(["restore", "--jobid", "1", "--catalog", catalog, "--where", target])
            XCTAssertEqual(restore.status, 0, isolation + ": " + restore.output + restore.stderr)
            let compare = try run("/usr/bin/diff", ["-r", tree, target + tree])
            XCTAssertEqual(compare.status, 0, isolation + ": " + compare.output)
        }
        XCTAssertEqual(logs[0].split(separator: "\n").count, 24)  // every regular file, the empty one too
        XCTAssertEqual(logs[0], logs[1])
        XCTAssertEqual(String(decoding: listings[0], as: UTF8.self), String(decoding: listings[1], as: UTF8.self))
        XCTAssertEqual(catalogRows[0], catalogRows[1])
        XCTAssertTrue(catalogRows[0].contains("\"python.plugin\":\"python3:module_path=\(examples):module_name=gzip_io\""))
    }

    func testACommandPluginIsRefusedInAPluginProcessBeforeTheJobStarts() throws {
        let string = "python3:module_path=\(examples):module_name=bareos-fd-sqlite-dump:db=/nonexistent.db"
        let path = try write(
            "command.conf",
            """
            FileSet {
              Name = fs
              Include {
                Plugin = "\(string)"
              }
            }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs; Plugin Isolation = process }

            """)
        let result = try optionhost(["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertEqual(
            result.stderr,
            "optionhost: \(path):4:14: command plugin \(string) does not run with Plugin Isolation = process yet "
                + "(only Options-level plugins do); set Plugin Isolation = inprocess in this Job\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: catalogPath))
    }

    func testPluginIsolationMustBeProcessOrInprocess() throws {
        try makeFile("tree/a.txt", "a")
        let path = try config(
            "python3:module_path=\(plugins):module_name=x", tree: work.appendingPathComponent("tree").path,
            jobExtra: "; Plugin Isolation = sideways")
        let check = try optionhost(["check", path])
        XCTAssertEqual(check.status, 2, check.output)
        XCTAssertTrue(
            check.stderr.hasPrefix("\(path):11:85: invalid Plugin Isolation \"sideways\": expected inprocess or process"),
            check.stderr)
    }
}
