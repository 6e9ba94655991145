import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, suite item 4: a Python plugin whose `module_path` any local user can write to is warned about by
/// `check` and by `backup` (whoever writes there chooses the code the backup runs, often as root).
extension BackupCommandTests {
    func testWorldWritableModulePathIsWarnedByCheckAndBackup() throws {
        let (plugins, message) = try worldWritablePluginDirectory()
        try makeFile("tree/a.txt", "hello\n")
        let config = try config(
            [work.appendingPathComponent("tree").path],
            options: "    Options { Plugin = \"python3:module_path=\(plugins):module_name=quiet\" }\n")

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

extension BackupCommandTests {
    /// Issue 14, suite item 4: a volume edited so that a member's name climbs out with `..` (same length, header
    /// checksums recomputed), rebuilt into a catalog with `scan` and restored: nothing is written outside
    /// `--where`, the other file comes back.
    func testScannedVolumeWithADotDotMemberRestoresNothingOutsideWhere() throws {
        try makeFile("tree/ok.txt", "fine\n")
        try makeFile("tree/zz/escape.txt", "evil\n")
        let root = work.appendingPathComponent("tree").path
        XCTAssertEqual(try backup(try config([root])).status, 0)
        let volume = archivePath + "/Nightly-1-0001.tar"
        var bytes = try XCTUnwrap(contents(volume))
        let from = Array("zz/escape.txt".utf8)
        let to = Array("../../../../x".utf8)
        var replaced = 0
        while let range = bytes.firstRange(of: from) {
            bytes.replaceSubrange(range, with: to)
            replaced += 1
        }
        XCTAssertGreaterThan(replaced, 0)
        // Every ustar header gets its checksum back: the sum of its bytes, the checksum field counted as spaces.
        for start in stride(from: 0, to: bytes.count - 512, by: 512) where bytes[(start + 257)..<(start + 262)].elementsEqual("ustar".utf8) {
            for index in 148..<156 { bytes[start + index] = 0x20 }
            let sum = bytes[start..<(start + 512)].reduce(0) { $0 + Int($1) }
            let field = Array(String(sum, radix: 8).utf8)
            let padded = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - field.count) + field + [0, 0x20]
            bytes.replaceSubrange((start + 148)..<(start + 156), with: padded)
        }
        let crafted = work.appendingPathComponent("crafted.tar").path
        try Data(bytes).write(to: URL(fileURLWithPath: crafted))

        let scanned = work.appendingPathComponent("scanned.db").path
        let scan = try optionhost(["scan", crafted, "--catalog", scanned])
        let target = work.appendingPathComponent("restored").path
        let restore = try optionhost(["restore", "--catalog", scanned, "--jobid", "1", "--where", target])
        let outside = [
            (root + "/../../../../x" as NSString).standardizingPath, (root + "/../../../x" as NSString).standardizingPath,
            ((target + root + "/../../../../x") as NSString).standardizingPath, work.appendingPathComponent("x").path,
        ]
        for path in outside { XCTAssertFalse(exists(path), "\(path): \(scan.output) \(scan.stderr) \(restore.stderr)") }
        XCTAssertEqual(contents(target + root + "/ok.txt"), Array("fine\n".utf8), scan.stderr + restore.stderr)
        XCTAssertEqual(scan.status, 0, scan.stderr)
        XCTAssertEqual(restore.status, 1)
        XCTAssertEqual(
            restore.stderr,
            "error: \(root)/../../../../x: refusing to restore: unsafe member name \"\(root.dropFirst())/../../../../x\": "
                + "it has a \"..\" component\n")
    }
}
