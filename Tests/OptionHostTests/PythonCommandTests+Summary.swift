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
}
