import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Python plugins through the built binary: the isolated interpreter, a hanging call, and a plugin that transforms
/// data end to end (backup, restore, verify).
final class PythonCommandTests: CommandLineTestCase {
    var catalogPath: String { work.appendingPathComponent("catalog.db").path }
    var archivePath: String { work.appendingPathComponent("volumes").path }
    var plugins: String { work.appendingPathComponent("plugins").path }
    var examples: String { CommandLineTestCase.repository.appendingPathComponent("examples/plugins").path }

    func plugin(_ name: String, _ code: String) throws {
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try code.write(toFile: plugins + "/" + name + ".py", atomically: true, encoding: .utf8)
    }

    func config(_ pluginString: String, tree: String, jobExtra: String = "") throws -> String {
        try write(
            "python.conf",
            """
            FileSet {
              Name = fs
              Include {
                Options {
                  Signature = SHA256
                  Plugin = "\(pluginString)"
                }
                File = "\(tree)"
              }
            }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs\(jobExtra) }

            """)
    }

    func objects(_ result: Result) throws -> [[String: Any]] {
        try result.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0) }
    }

    func testThePluginSeesDebiansIsolatedPythonWhateverTheEnvironmentSays() throws {
        try makeFile("tree/a.txt", "a")
        try plugin(
            "whoami",
            """
            import bareosfd, sys
            def load_bareos_plugin(plugindef):
                bareosfd.JobMessage(bareosfd.M_WARNING, "exe=%s prefix=%s version=%d.%d.%d isolated=%d" % (
                    sys.executable, sys.prefix, *sys.version_info[:3], sys.flags.isolated))
                return 0
            def parse_plugin_definition(plugindef): return 0
            """)
        // A fake python3 first on PATH, and PYTHONHOME/PYTHONPATH pointing elsewhere: none of them may be used.
        let fakeBin = work.appendingPathComponent("bin").path
        try FileManager.default.createDirectory(atPath: fakeBin, withIntermediateDirectories: true)
        try "#!/bin/sh\nexit 99\n".write(toFile: fakeBin + "/python3", atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(fakeBin + "/python3", 0o755), 0)
        let path = try config(
            "python3:module_path=\(plugins):module_name=whoami", tree: work.appendingPathComponent("tree").path)
        let result = try run(
            "/usr/bin/env",
            [
                "PYTHONHOME=/nonexistent", "PYTHONPATH=/nonexistent/lib", "PYTHONSTARTUP=/nonexistent/x.py",
                "PATH=\(fakeBin):/usr/bin:/bin", CommandLineTestCase.binary, "backup", path, "--job", "Nightly",
                "--catalog", catalogPath, "--archive", archivePath, "--json",
            ])
        XCTAssertEqual(result.status, 0, result.output + result.stderr)
        let warning = try XCTUnwrap(try objects(result).first { $0["type"] as? String == "warning" }, result.output)
        let message = try XCTUnwrap(warning["message"] as? String)
        XCTAssertTrue(message.hasSuffix("exe=/usr/bin/python3.11 prefix=/usr version=3.11.2 isolated=1"), message)
    }

    func testAHangingCallAbortsTheJobCleanlyAfterThePluginCallTimeout() throws {
        for index in 0..<20 { try makeFile("tree/f\(index).txt", "file \(index)") }
        try makeFile("tree/zz-hang.txt", "hang")
        try plugin(
            "sleeper",
            """
            import bareosfd, time
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith("zz-hang.txt"):
                    time.sleep(120)
                return bareosfd.bRC_Core
            """)
        let path = try config(
            "python3:module_path=\(plugins):module_name=sleeper", tree: work.appendingPathComponent("tree").path,
            jobExtra: "; Plugin Call Timeout = 1 s")
        let started = Date()
        let result = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertEqual(result.status, 3, result.output + result.stderr)
        let summary = try XCTUnwrap(try objects(result).last)
        XCTAssertEqual(summary["status"] as? String, "failed")
        let failure = try XCTUnwrap(summary["failure"] as? String ?? summary["message"] as? String, "\(summary)")
        XCTAssertTrue(failure.contains("handle_backup_file(") && failure.contains("zz-hang.txt)"), failure)
        XCTAssertTrue(failure.contains("did not return within 1 s (Plugin Call Timeout); the job is aborted"), failure)
        // The catalog is consistent: the job is recorded as failed and can be listed.
        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        let job = try XCTUnwrap(try objects(jobs).first { $0["type"] as? String == "job" } ?? objects(jobs).first)
        XCTAssertEqual(job["status"] as? String, "f", "\(job)")  // Bareos' letter for a fatal error
    }

    /// Issue 14, defect 3 (in-process part): `os._exit` in a plugin used to end the process silently with exit 1.
    /// The host's guarded `os._exit` raises instead: the job fails (exit 3) naming the plugin, the call and the
    /// file, the catalog records it failed, and a plugin's `except Exception` does not swallow it.
    func testOsExitInAPluginFailsTheJobNamingPluginAndFile() throws {
        for index in 0..<5 { try makeFile("tree/f\(index).txt", "file \(index)") }
        try makeFile("tree/zz-exit.txt", "exit")
        try plugin(
            "quitter",
            """
            import bareosfd, os
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith("zz-exit.txt"):
                    try:
                        os._exit(1)
                    except Exception:
                        pass  # must not swallow it
                return bareosfd.bRC_Core
            """)
        let path = try config(
            "python3:module_path=\(plugins):module_name=quitter", tree: work.appendingPathComponent("tree").path)
        let result = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(result.status, 3, result.output + result.stderr)
        let summary = try XCTUnwrap(try objects(result).last)
        XCTAssertEqual(summary["status"] as? String, "failed")
        let failure = try XCTUnwrap(summary["failure"] as? String, "\(summary)")
        XCTAssertTrue(failure.hasPrefix("python3:module_path=\(plugins):module_name=quitter: handle_backup_file"), failure)
        XCTAssertTrue(failure.contains("zz-exit.txt called os._exit, which would have ended the process"), failure)
        XCTAssertTrue(failure.contains("os._exit(1) called by the plugin"), failure)
        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        let job = try XCTUnwrap(try objects(jobs).first { $0["type"] as? String == "job" })
        XCTAssertEqual(job["status"] as? String, "f", "\(job)")
    }

    /// Issue 14, defect 3 (in-process part): a segfault in a plugin (here through ctypes) used to end the process
    /// with status 139 and a backtrace naming neither plugin nor file. The crash guard prints the plugin, the call
    /// and the file and ends with status 3; the next command marks the job failed.
    func testASegfaultInAPluginNamesPluginAndFileAndExitsFailed() throws {
        try makeFile("tree/a.txt", "a")
        try makeFile("tree/zz-crash.txt", "crash")
        try plugin(
            "crasher",
            """
            import bareosfd, ctypes
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef): return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith("zz-crash.txt"):
                    ctypes.string_at(0)
                return bareosfd.bRC_Core
            """)
        let tree = work.appendingPathComponent("tree").path
        let path = try config("python3:module_path=\(plugins):module_name=crasher", tree: tree)
        let result = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath])
        XCTAssertEqual(result.status, 3, result.output + result.stderr)
        XCTAssertTrue(
            result.stderr.contains(
                "optionhost: SIGSEGV while a Python plugin call ran: python3:module_path=\(plugins):module_name=crasher: "
                    + "handle_backup_file of \(tree)/zz-crash.txt\n"), result.stderr)
        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        let job = try XCTUnwrap(try objects(jobs).first { $0["type"] as? String == "job" })
        XCTAssertEqual(job["status"] as? String, "f", "\(job)")
    }

    func testGzipPluginBackupRestoreAndVerifyThroughTheCommandLine() throws {
        try makeFile("tree/docs/a.txt", String(repeating: "compressible text\n", count: 1000))
        try makeFile("tree/b.bin", bytes: (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
        try makeFile("tree/empty", "")
        let tree = work.appendingPathComponent("tree").path
        let path = try config("python3:module_path=\(examples):module_name=gzip_io", tree: tree)
        let backup = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(backup.status, 0, backup.output + backup.stderr)
        let summary = try XCTUnwrap(try objects(backup).last)
        XCTAssertEqual(summary["files_stored"] as? Int, 3)
        // What is stored (and counted as read from the source) is the plugin's gzip output, far below the 218,000
        // bytes of the files.
        XCTAssertLessThan(summary["bytes_stored"] as? Int ?? .max, 218_000 / 2)
        let jobID = try XCTUnwrap(summary["job_id"] as? Int)

        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", String(jobID)])
        XCTAssertEqual(verify.status, 0, verify.output + verify.stderr)
        let target = work.appendingPathComponent("restore").path
        let restore = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", String(jobID), "--where", target, "--json"])
        XCTAssertEqual(restore.status, 0, restore.output + restore.stderr)
        XCTAssertEqual(try objects(restore).count, 1, restore.output)  // the summary only
        let diff = try run("/usr/bin/diff", ["-r", tree, target + tree])
        XCTAssertEqual(diff.status, 0, diff.output)

        // The live tree against the catalog: taken files are compared by size and mtime (the stored bytes are gzip).
        let live = try optionhost(["verify", "--catalog", catalogPath, "--jobid", String(jobID), "--against-live"])
        XCTAssertEqual(live.status, 0, live.output + live.stderr)
        try makeFile("tree/b.bin", "now different\n")
        let changed = try optionhost(["verify", "--catalog", catalogPath, "--jobid", String(jobID), "--against-live"])
        XCTAssertEqual(changed.status, 4, changed.output + changed.stderr)
        XCTAssertTrue(changed.output.contains("content taken over by stage python3:"), changed.output)
    }

    func testEstimateNeverLoadsPythonPlugins() throws {
        try makeFile("tree/a.txt", "a")
        let path = try config(
            "python3:module_path=\(plugins):module_name=does_not_exist", tree: work.appendingPathComponent("tree").path)
        let estimate = try optionhost(["estimate", path, "--job", "Nightly"])
        XCTAssertEqual(estimate.status, 0, estimate.stderr)
        // A backup loads it at job start and fails before reading any file.
        let backup = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(backup.status, 3)
        let summary = try XCTUnwrap(try objects(backup).last)
        XCTAssertEqual(summary["files_examined"] as? Int, 0)
        XCTAssertTrue(backup.output.contains("ModuleNotFoundError: No module named 'does_not_exist'"), backup.output)
    }

    func testAPluginThreadThatNeverEndsCannotHangTheEndOfTheJob() throws {
        try makeFile("tree/a.txt", "a")
        try plugin(
            "lingering",
            """
            import threading, time
            def load_bareos_plugin(plugindef):
                threading.Thread(target=time.sleep, args=(3600,)).start()   # not a daemon: joined at the end
                return 0
            def parse_plugin_definition(plugindef): return 0
            """)
        let path = try config(
            "python3:module_path=\(plugins):module_name=lingering", tree: work.appendingPathComponent("tree").path,
            jobExtra: "; Plugin Call Timeout = 2 s")
        let started = Date()
        let result = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertEqual(result.status, 3, result.output + result.stderr)
        XCTAssertTrue(
            result.output.contains("the end of the plugin's interpreter (joining its threads) did not return within 2 s"),
            result.output)
    }

    /// A Full backup of `tree/a.txt` through the callorder example that takes it over; returns the tree and CONFIG.
    func callorderBackup() throws -> (tree: String, config: String) {
        try makeFile("tree/a.txt", "a")
        let tree = work.appendingPathComponent("tree").path
        let path = try config("python3:module_path=\(examples):module_name=callorder:answer=ok:root=\(tree)", tree: tree)
        let backup = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(backup.status, 0, backup.output + backup.stderr)
        return (tree, path)
    }

    func testListMessagesShowsTheBackupLogAndRestoreWithDebugLevelThePluginsMessages() throws {
        let (tree, _) = try callorderBackup()
        // The backup's log, plugin messages included, in order.
        let log = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(log.status, 0, log.stderr)
        let calls = log.lines.filter { $0.contains("callorder: ") }.map { $0.components(separatedBy: "callorder: ").last! }
        XCTAssertEqual(
            Array(calls.prefix(5)),
            ["load_bareos_plugin('answer=ok:root=\(tree):')", "parse_plugin_definition('answer=ok:root=\(tree):')",
             "handle_plugin_event(16)", "handle_plugin_event(3)", "handle_backup_file(a.txt, type=3)"])
        XCTAssertTrue(log.lines.allSatisfy { $0.hasPrefix("info: ") }, log.output)
        let target = work.appendingPathComponent("restore").path
        let restore = try optionhost(
            ["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target, "--json", "-d", "1"])
        XCTAssertEqual(restore.status, 0, restore.output + restore.stderr)
        let messages = try objects(restore).filter { $0["type"] as? String == "info" }.compactMap { $0["message"] as? String }
        XCTAssertEqual(messages.first, "callorder: load_bareos_plugin('answer=ok:root=\(tree):')", "\(messages)")
        XCTAssertTrue(messages.contains("callorder: end_restore_file()"), "\(messages)")
    }

    func testCheckWarnsAboutAModulePathWithoutTheModule() throws {
        // A namespace package (a directory without __init__.py) imports, so it is no warning.
        try FileManager.default.createDirectory(atPath: plugins + "/namespace", withIntermediateDirectories: true)
        try "x = 1\n".write(toFile: plugins + "/namespace/mod.py", atomically: true, encoding: .utf8)
        let path = try write(
            "modules.conf",
            """
            FileSet { Name = fs; Include { Options {
              Plugin = "python3:module_path=/nonexistent/dir:module_name=x"
              Plugin = "python3:module_path=\(examples):module_name=missing_one"
              Plugin = "python3:module_path=\(examples):module_name=gzip_io"
              Plugin = "python3:module_path=\(examples):module_name=bareos-fd-checksum-log:log=/tmp/x"
              Plugin = "python3:module_path=\(examples):module_name=gzip_io.__init__"
              Plugin = "python3:module_path=\(plugins):module_name=namespace.mod"
            } File = /tmp } }

            """)
        let result = try optionhost(["check", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(
            result.lines.filter { $0.contains("warning:") },
            [
                "\(path):2:12: warning: module_path \"/nonexistent/dir\" is not a directory",
                "\(path):3:12: warning: module \"missing_one\" is not in module_path \"\(examples)\"; the job must find it "
                    + "in the Plugin Directory or Python's own path",
            ])
    }

    /// A Python command plugin through the binary: `check` has nothing to warn about, `backup` runs it, `verify`
    /// checks its item in the volume, and a `restore` without CONFIG pipes the dump back.
    func testACommandPluginRunsThroughTheCommandLineAndRestoresWithoutConfig() throws {
        let database = work.appendingPathComponent("app.db").path
        let created = try run("/usr/bin/sqlite3", [database, "create table t(x); insert into t values (42);"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let path = try write(
            "command.conf",
            """
            FileSet {
              Name = fs
              Include {
                Options { Signature = SHA256 }
                Plugin = "python3:module_path=\(examples):module_name=bareos-fd-sqlite-dump:db=\(database)"
              }
            }
            Job { Name = Nightly; Type = Backup; Level = Full; FileSet = fs }

            """)
        let check = try optionhost(["check", path])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.output.hasSuffix("No warnings.\n"), check.output)
        // The string is checked as an option plugin's is (module_path holds the module).
        let misspelt = try write(
            "misspelt.conf", try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "sqlite-dump", with: "sqlite-dunp"))
        let warned = try optionhost(["check", misspelt])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(
            warned.output.contains(
                "\(misspelt):5:14: warning: module \"bareos-fd-sqlite-dunp\" is not in module_path \"\(examples)\""),
            warned.output)
        let backup = try optionhost(
            ["backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json"])
        XCTAssertEqual(backup.status, 0, backup.output + backup.stderr)
        let summary = try XCTUnwrap(try objects(backup).last)
        XCTAssertEqual(summary["files_stored"] as? Int, 1)
        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(verify.status, 0, verify.output + verify.stderr)
        let target = work.appendingPathComponent("restore").path
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 0, restore.output + restore.stderr)
        let rows = try run("/usr/bin/sqlite3", [target + database, "select x from t;"])
        XCTAssertEqual(rows.output, "42\n")
    }
}

