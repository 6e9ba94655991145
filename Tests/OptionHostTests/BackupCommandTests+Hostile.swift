import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 4: a Python plugin whose `module_path` any local user can write to is warned about by
/// `check` and by `backup` (whoever writes there chooses the code the backup runs, often as root).
extension BackupCommandTests {
    func testWorldWritableModulePathIsWarnedByCheckAndBackup() throws {
        let plugins = work.appendingPathComponent("open-plugins").path
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try """
            import bareosfd
            def load_bareos_plugin(plugindef): return 0
            def parse_plugin_definition(plugindef): return 0
            """.write(toFile: plugins + "/quiet.py", atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(plugins, 0o1777), 0)
        try makeFile("tree/a.txt", "hello\n")
        let config = try config(
            [work.appendingPathComponent("tree").path],
            options: "    Options { Plugin = \"python3:module_path=\(plugins):module_name=quiet\" }\n")
        let message = "module_path \"\(plugins)\" is world-writable (mode 1777): any local user can put code there "
            + "that the job imports and runs; make it writable by its owner only"

        let check = try optionhost(["check", config, "--json"])
        XCTAssertEqual(check.status, 0, check.stderr + check.output)
        let checkWarnings = try objects(check).filter { $0["type"] as? String == "warning" }
        XCTAssertEqual(checkWarnings.compactMap { $0["message"] as? String }, [message])
        XCTAssertEqual(checkWarnings.first?["line"] as? Int, 5)

        let backup = try self.backup(config)
        XCTAssertEqual(backup.status, 0, backup.stderr + backup.output)
        let warnings = try objects(backup).filter { $0["type"] as? String == "warning" }
        XCTAssertEqual(warnings.compactMap { $0["message"] as? String }, [message])
        XCTAssertEqual(warnings.first?["file"] as? String, config)
        let text = try self.backup(config, json: false)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.stderr, "\(config):5:\(checkWarnings.first?["column"] as? Int ?? 0): warning: \(message)\n")

        // Writable by its owner only: no warning.
        XCTAssertEqual(chmod(plugins, 0o755), 0)
        let quiet = try optionhost(["check", config, "--json"])
        XCTAssertEqual(try objects(quiet).filter { $0["type"] as? String == "warning" }.count, 0, quiet.output)
        let quietBackup = try self.backup(config)
        XCTAssertEqual(quietBackup.status, 0, quietBackup.stderr)
        XCTAssertEqual(try objects(quietBackup).filter { $0["type"] as? String == "warning" }.count, 0, quietBackup.output)
    }
}
