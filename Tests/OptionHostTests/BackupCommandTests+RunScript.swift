import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Bareos' RunScript (and Run Before Job / Run After Job / Run After Failed Job) around real backups: the `%`
/// substitutions each script sees, its output as job messages, a failing Before script failing the job before any
/// file is read, and the timeout.
extension BackupCommandTests {
    /// The script lines every job of these tests runs; each appends one line to `log`.
    private func scripts(log: String) -> String {
        let fields = "c=%c i=%i j=%j l=%l n=%n s=[%s] t=%t e=%e b=%b F=%F pct=%% x=%x"
        return """

              Client = web1
              RunScript {
                RunsWhen = Before
                Command = "echo before \(fields) >> \(log)"
              }
              RunScript {
                RunsWhen = After
                RunsOnFailure = yes
                Command = "echo after \(fields) >> \(log)"
                Command = "echo printed by the script"
              }
              Run After Job = "echo after-ok n=%n >> \(log)"
              Run After Failed Job = "echo after-failed i=%i e=%e >> \(log)"

            """
    }

    /// `NAME.2026-12-06_06.41.55_07` for a job that started at `start` (seconds, UTC).
    private func uniqueName(_ name: String, start: Int, jobID: Int) -> String {
        "\(name).\(utc(start, "_", "."))_" + String(format: "%02d", jobID % 100)
    }

    private func utc(_ seconds: Int, _ dateSeparator: String, _ timeSeparator: String) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d%@%02d%@%02d%@%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            dateSeparator, parts.tm_hour, timeSeparator, parts.tm_min, timeSeparator, parts.tm_sec)
    }

    func testRunScriptsAroundAGoodAndAFailedJobSeeTheirSubstitutions() throws {
        let tree = try makeTree()
        let log = work.appendingPathComponent("scripts.log").path
        let good = try config([tree.root], jobExtra: scripts(log: log))
        XCTAssertEqual(try backup(good).status, 0)
        let incremental = try backup(good, extra: ["--level", "Incremental"])
        XCTAssertEqual(incremental.status, 0, incremental.stderr)
        // The failed job: a Before script that fails (FailJobOnError is Bareos' default) ends it before any file
        // is read; the After scripts that run on failure still run and see the failure.
        let bad = try config(
            [tree.root], name: "bad.conf",
            jobExtra: "\n  Run Before Job = \"sh -c 'echo checking the client; exit 3'\"" + scripts(log: log))
        let failed = try backup(bad)
        XCTAssertEqual(failed.status, 3, failed.stderr)
        assertCounts(try summary(failed), ["job_id": 3, "files_examined": 0, "files_stored": 0, "entries_stored": 0])
        XCTAssertEqual(
            try summary(failed)["failure"] as? String,
            "BeforeJob: command \"sh -c 'echo checking the client; exit 3'\" exited with status 3")

        let jobs = try objects(try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"]))
        let starts = Dictionary(uniqueKeysWithValues: jobs.compactMap { job -> (Int, Int)? in
            guard let id = job["job_id"] as? Int, let start = job["start"] as? Int else { return nil }
            return (id, start)
        })
        let (start1, start2, start3) = (try XCTUnwrap(starts[1]), try XCTUnwrap(starts[2]), try XCTUnwrap(starts[3]))
        let bytes = tree.totalBytes
        let host = "web1"  // the Job's Client
        XCTAssertEqual(
            try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init),
            [
                "before c=\(host) i=1 j=\(uniqueName("Nightly", start: start1, jobID: 1)) l=Full n=Nightly s=[] t=Backup e=Running b=0 F=0 pct=% x=%x",
                "after c=\(host) i=1 j=\(uniqueName("Nightly", start: start1, jobID: 1)) l=Full n=Nightly s=[] t=Backup e=OK b=\(bytes) F=4 pct=% x=%x",
                "after-ok n=Nightly",
                "before c=\(host) i=2 j=\(uniqueName("Nightly", start: start2, jobID: 2)) l=Incremental n=Nightly s=[\(utc(start1, " ", ":"))] t=Backup e=Running b=0 F=0 pct=% x=%x",
                "after c=\(host) i=2 j=\(uniqueName("Nightly", start: start2, jobID: 2)) l=Incremental n=Nightly s=[\(utc(start1, " ", ":"))] t=Backup e=OK b=0 F=0 pct=% x=%x",
                "after-ok n=Nightly",
                "after c=\(host) i=3 j=\(uniqueName("Nightly", start: start3, jobID: 3)) l=Full n=Nightly s=[] t=Backup e=Fatal Error b=0 F=0 pct=% x=%x",
                "after-failed i=3 e=Fatal Error",
            ])

        // What the scripts printed, and how they ended, are the job's messages.
        let messages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "3"])
        XCTAssertEqual(messages.status, 0, messages.stderr)
        let lines = messages.lines
        let expected = [
            "info: BeforeJob: run command \"sh -c 'echo checking the client; exit 3'\"",
            "info: BeforeJob: checking the client",
            "error: BeforeJob: command \"sh -c 'echo checking the client; exit 3'\" exited with status 3",
            "info: AfterJob: printed by the script",
            "error: BeforeJob: command \"sh -c 'echo checking the client; exit 3'\" exited with status 3",
        ]
        var position = lines.startIndex
        for line in expected {
            let found = try XCTUnwrap(lines[position...].firstIndex(of: line), "\(line) in order in \(lines)")
            position = found + 1
        }
        // The Before scripts after the failing one did not run.
        XCTAssertFalse(lines.contains { $0.hasPrefix("info: BeforeJob: run command \"echo before") }, "\(lines)")
    }

    func testARunScriptThatOutlivesItsTimeoutIsKilledAndFailsTheJob() throws {
        let tree = try makeTree()
        let path = try config(
            [tree.root],
            jobExtra: "\n  Run Script Timeout = 1\n  Run Before Job = \"sh -c 'echo waiting; sleep 30'\"\n")
        let started = Date()
        let result = try backup(path)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "the sleep was not killed")
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertEqual(
            try summary(result)["failure"] as? String,
            "BeforeJob: command \"sh -c 'echo waiting; sleep 30'\" did not finish within 1 s and was killed")
        assertCounts(try summary(result), ["files_examined": 0, "files_stored": 0])
    }

    /// FailJobOnError = no: a failing Before script is a warning and the job runs; a failing After script with
    /// Bareos' default (FailJobOnError = yes) is an error of the job, which then ends with warnings.
    func testFailingScriptsWithoutAndWithFailJobOnError() throws {
        let tree = try makeTree()
        let path = try config(
            [tree.root],
            jobExtra: """

                  RunScript {
                    RunsWhen = Before
                    FailJobOnError = no
                    Command = "sh -c 'echo no matter; exit 5'"
                  }
                  Run After Job = "sh -c 'exit 4'"

                """)
        let result = try backup(path)
        XCTAssertEqual(result.status, 1, result.stderr)
        let summary = try summary(result)
        XCTAssertEqual(summary["status"] as? String, "warnings")
        assertCounts(summary, ["files_stored": 4, "errors": 1, "warnings": 1])
        let messages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(
            messages.lines.filter { $0.contains("Job: ") },
            [
                "info: BeforeJob: run command \"sh -c 'echo no matter; exit 5'\"",
                "info: BeforeJob: no matter",
                "warning: BeforeJob: command \"sh -c 'echo no matter; exit 5'\" exited with status 5",
                "info: AfterJob: run command \"sh -c 'exit 4'\"",
                "error: AfterJob: command \"sh -c 'exit 4'\" exited with status 4",
            ])
    }

    /// Ctrl-C while a Before script runs kills the script's process group and cancels the job (it does not wait
    /// for the script's timeout); the After scripts that run on failure still run, to their end.
    func testCtrlCDuringABeforeScriptKillsItAndCancelsTheJob() throws {
        let tree = try makeTree()
        let started = work.appendingPathComponent("started").path
        let log = work.appendingPathComponent("after.log").path
        let path = try config(
            [tree.root],
            jobExtra: "\n  Run Before Job = \"sh -c 'touch \(started); sleep 30'\"\n"
                + "  Run After Failed Job = \"sh -c 'sleep 1; echo after %e >> \(log)'\"\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTestCase.binary)
        process.arguments = [
            "backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json",
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let begin = Date()
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !exists(started) && process.isRunning && Date() < deadline { usleep(2_000) }
        XCTAssertTrue(exists(started), "the Before script did not start")
        process.interrupt()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(begin), 20, "the job waited for the script")
        let result = Result(status: process.terminationStatus, stdout: Array(stdout), stderr: "")
        XCTAssertEqual(result.status, 3, result.output)
        let summary = try summary(result)
        XCTAssertEqual(summary["status"] as? String, "cancelled")
        XCTAssertEqual(summary["failure"] as? String, "interrupted (Ctrl-C)")
        assertCounts(summary, ["files_examined": 0])
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "after Canceled\n")
        let messages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertTrue(
            messages.lines.contains(
                "error: BeforeJob: command \"sh -c 'touch \(started); sleep 30'\" was killed: the job was cancelled"),
            messages.output)
    }
}
