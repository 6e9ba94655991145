import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, defect 10: a plugin's traceback counts in `errors` and its stderr line in `warnings`, in the text
/// summary, the JSON summary and the job's catalog row.
extension PythonCommandTests {
    func testPluginTracebackAndStderrCountInTheSummaryAndTheJobRow() throws {
        try makeFile("tree/a.txt", "a")
        try makeFile("tree/b.txt", "b")
        try makeFile("tree/c.txt", "c")
        try plugin(
            "grumbler",
            """
            import bareosfd, sys
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef):
                return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith("/a.txt"):
                    print("a.txt looks odd", file=sys.stderr)
                if savepkt.fname.endswith("/b.txt"):
                    raise ValueError("cannot handle b.txt")
                return bareosfd.bRC_Core
            """)
        let tree = work.appendingPathComponent("tree").path
        let path = try config("python3:module_path=\(plugins):module_name=grumbler", tree: tree)

        let result = try optionhost([
            "backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--json",
        ])
        XCTAssertEqual(result.status, 1, result.output + result.stderr)
        let objects = try self.objects(result)
        let events = objects.dropLast()
        XCTAssertEqual(events.map { $0["type"] as? String }, ["warning", "error"], result.output)
        XCTAssertEqual(events.first?["message"] as? String, "stderr: a.txt looks odd")
        XCTAssertTrue((events.last?["message"] as? String ?? "").contains("ValueError: cannot handle b.txt"))
        let summary = try XCTUnwrap(objects.last)
        XCTAssertEqual(summary["status"] as? String, "warnings")
        for (key, value) in ["files_stored": 2, "files_failed": 1, "errors": 1, "warnings": 1] {
            XCTAssertEqual(summary[key] as? Int, value, key)
        }

        let jobs = try optionhost(["list", "jobs", "--catalog", catalogPath, "--json"])
        let row = try XCTUnwrap(try self.objects(jobs).first)
        XCTAssertEqual(row["errors"] as? Int, 1, jobs.output)
        XCTAssertEqual(row["warnings"] as? Int, 1, jobs.output)

        let text = try optionhost([
            "backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath, "--level", "Full",
        ])
        XCTAssertEqual(text.status, 1, text.output + text.stderr)
        XCTAssertTrue(
            text.output.contains("\n  messages: 1 errors, 1 warnings (optionhost list messages)\n"), text.output)
    }

    /// One entry per line in the listings (issue 16 item 6): a traceback's lines are indented under its message in
    /// `list messages`, escaped in `list files`, whose line names the plugin string once.
    func testListingsKeepOneEntryPerLineWithATraceback() throws {
        try makeFile("tree/a.txt", "a")
        try plugin(
            "raiser",
            """
            import bareosfd
            def load_bareos_plugin(plugindef):
                bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
                return 0
            def parse_plugin_definition(plugindef):
                return 0
            def handle_backup_file(savepkt):
                if savepkt.fname.endswith("/a.txt"):
                    raise ValueError("cannot handle a.txt")
                return bareosfd.bRC_Core
            """)
        let tree = work.appendingPathComponent("tree").path
        let pluginString = "python3:module_path=\(plugins):module_name=raiser"
        let path = try config(pluginString, tree: tree)
        let backup = try optionhost([
            "backup", path, "--job", "Nightly", "--catalog", catalogPath, "--archive", archivePath,
        ])
        XCTAssertEqual(backup.status, 1, backup.output + backup.stderr)

        let messages = try optionhost(["list", "messages", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(messages.status, 0, messages.stderr)
        let lines = messages.lines
        XCTAssertEqual(
            lines.first,
            "error: \(tree)/a.txt: stage \(pluginString): handle_backup_file raised an exception:", messages.output)
        XCTAssertEqual(lines.dropFirst().first, "    Traceback (most recent call last):", messages.output)
        XCTAssertEqual(lines.last, "    ValueError: cannot handle a.txt", messages.output)
        XCTAssertEqual(lines.filter { !$0.hasPrefix("    ") }.count, 1, messages.output)

        let files = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1"])
        let failed = try XCTUnwrap(files.lines.first { $0.contains("/a.txt") }, files.output)
        XCTAssertEqual(files.lines.count, 2, files.output)  // a.txt and the directory
        XCTAssertEqual(failed.components(separatedBy: pluginString).count - 1, 1, failed)
        XCTAssertTrue(
            failed.contains(
                "[failed; chain \(pluginString)] (stage failed: handle_backup_file raised an exception:\\nTraceback "
                    + "(most recent call last):\\n"), failed)
    }
}
