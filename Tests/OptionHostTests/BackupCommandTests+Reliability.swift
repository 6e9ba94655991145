import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, defects 7 and 10: names with control characters are escaped in every human-readable output, a
/// restore that restored nothing fails, and every catalog a command creates is private.
extension BackupCommandTests {
    /// A tree whose names hold an OSC title sequence (`ESC ] 0 ; ... BEL`), a newline, a C1 CSI (U+009B),
    /// printable UTF-8, and a lone byte 0x9B (not UTF-8).
    func makeHostileTree() throws -> String {
        try makeFile("hostile/esc\u{1B}]0;PWNED\u{07}", "x")
        try makeFile("hostile/new\nline", "y")
        try makeFile("hostile/c1\u{9B}31m", "z")
        try makeFile("hostile/ok-é", "w")
        // Not UTF-8: a lone 0x9B, which a terminal in an 8-bit mode reads as CSI.
        let lone = Array(work.appendingPathComponent("hostile").path.utf8) + Array("/lone".utf8) + [0x9B] + Array("31m".utf8)
        let fd = open((lone + [0]).map { CChar(bitPattern: $0) }, O_CREAT | O_WRONLY, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        return work.appendingPathComponent("hostile").path
    }

    /// No byte of `bytes` is a control character other than the newlines that end lines, nor a C1 control.
    func assertNoRawControls(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let raw = bytes.enumerated().filter { index, byte in
            (byte < 0x20 && byte != 0x0A) || byte == 0x7F || (byte == 0x9B && (index == 0 || bytes[index - 1] != 0xC2))
                || (byte == 0xC2 && index + 1 < bytes.count && (0x80...0x9F).contains(bytes[index + 1]))
        }
        XCTAssertEqual(raw.count, 0, "\(what): raw control bytes in \(String(decoding: bytes, as: UTF8.self).debugDescription)", file: file, line: line)
    }

    func testControlCharactersInNamesAreEscapedInEveryTextOutput() throws {
        let root = try makeHostileTree()
        let config = try config([root])
        let backup = try self.backup(config, json: false)
        XCTAssertEqual(backup.status, 0, backup.stderr)

        // list files: one line per entry, each name escaped; the rest of the line as before.
        let list = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1"])
        XCTAssertEqual(list.status, 0, list.stderr)
        assertNoRawControls(list.stdout, "list files")
        XCTAssertEqual(list.lines.count, 6, list.output)
        let names = list.lines.map { line -> String in
            guard let start = line.range(of: "  /") else { return line }
            return String(line[line.index(start.lowerBound, offsetBy: 2)...])
        }
        XCTAssertEqual(
            names.sorted(),
            [
                "\(root)  [stored]", "\(root)/c1\\xc2\\x9b31m  [stored]", "\(root)/esc\\e]0;PWNED\\a  [stored]",
                "\(root)/new\\nline  [stored]", "\(root)/ok-é  [stored]", "\(root)/lone\\x9b31m  [stored]",
            ].sorted())

        // JSON is exact, as before: JSON escapes, not terminal escapes.
        let json = try optionhost(["list", "files", "--catalog", catalogPath, "--jobid", "1", "--json"])
        XCTAssertTrue(json.output.contains("\"path\":\"\(root)/esc\\u001b]0;PWNED\\u0007\""), json.output)
        XCTAssertTrue(json.output.contains("\"path\":\"\(root)/new\\nline\""), json.output)

        // estimate --listing.
        let estimate = try optionhost(["estimate", config, "--job", "Nightly", "--listing"])
        XCTAssertEqual(estimate.status, 0, estimate.stderr)
        assertNoRawControls(estimate.stdout, "estimate")
        XCTAssertTrue(estimate.output.contains("  \(root)/esc\\e]0;PWNED\\a  [no block matched]\n"), estimate.output)

        // list versions of a name that was never stored: the name in the message is escaped.
        let versions = try optionhost(["list", "versions", root + "/gone\u{1B}[2J", "--catalog", catalogPath])
        XCTAssertEqual(versions.stderr, "no version of \(root)/gone\\e[2J in the catalog\n")

        // Error lines of a restore: the file cannot be linked where a directory of its name is in the way.
        let target = work.appendingPathComponent("restored").path
        try FileManager.default.createDirectory(
            atPath: target + root + "/new\nline/occupied", withIntermediateDirectories: true)
        let restore = try optionhost(["restore", "--catalog", catalogPath, "--jobid", "1", "--where", target])
        XCTAssertEqual(restore.status, 1, restore.stderr)
        assertNoRawControls(Array(restore.stderr.utf8), "restore errors")
        assertNoRawControls(restore.stdout, "restore summary")
        XCTAssertTrue(restore.stderr.hasPrefix("error: \(root)/new\\nline: "), restore.stderr)
        XCTAssertEqual(restore.stderr.filter { $0 == "\n" }.count, 1, restore.stderr)

        // verify --against-live: the differences name the files.
        XCTAssertEqual(unlink(root + "/esc\u{1B}]0;PWNED\u{07}"), 0)
        let verify = try optionhost(["verify", "--catalog", catalogPath, "--jobid", "1", "--against-live"])
        assertNoRawControls(verify.stdout, "verify")
        XCTAssertTrue(verify.output.hasPrefix("missing: \(root)/esc\\e]0;PWNED\\a\n"), verify.output)
    }

    // MARK: - Defect 4

    /// `check` of a config whose `File =` holds a NUL byte: exit 2, `file:line:col`, the line with the NUL escaped.
    func testCheckRefusesANULByteInAFileValue() throws {
        let path = work.appendingPathComponent("nul.conf").path
        let text = "FileSet {\n  Name = \"a\"\n  Include {\n    File = \"/etc/pass\u{0}wd\"\n  }\n}\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let check = try optionhost(["check", path])
        XCTAssertEqual(check.status, 2, check.output + check.stderr)
        XCTAssertEqual(
            check.stderr,
            "\(path):4:22: NUL byte in the configuration (a value cannot contain one)\n"
                + "    File = \"/etc/pass\\x00wd\"\n                     ^\n")
    }

    // MARK: - Defect 10

    /// Every selected file failed (its stored bytes do not match the digest): the restore restored nothing and
    /// exits 3, not 1; a restore where some of the files came back still exits 1.
    func testARestoreThatRestoredNoFileFails() throws {
        let tree = try makeTree()
        XCTAssertEqual(try backup(try config([tree.root])).status, 0)
        // Damage the data of a.txt ("hello\n") in the volume.
        let volume = archivePath + "/Nightly-1-0001.tar"
        var bytes = try XCTUnwrap(contents(volume))
        let offset = try XCTUnwrap(bytes.firstRange(of: Array("hello\n".utf8))).lowerBound
        bytes[offset] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: volume))

        let nothing = try optionhost([
            "restore", "--catalog", catalogPath, "--jobid", "1", "--where", work.appendingPathComponent("r1").path,
            "--select", tree.path("a.txt"), "--json",
        ])
        XCTAssertEqual(nothing.status, 3, nothing.output + nothing.stderr)
        let summary = try self.summary(nothing)
        XCTAssertEqual(summary["status"] as? String, "failed")
        assertCounts(summary, ["files_examined": 1, "files_stored": 0, "files_failed": 1, "errors": 1])
        XCTAssertEqual(summary["failure"] as? String, "no selected file could be restored (1 errors)")

        let text = try optionhost([
            "restore", "--catalog", catalogPath, "--jobid", "1", "--where", work.appendingPathComponent("r2").path,
            "--select", tree.path("a.txt"),
        ])
        XCTAssertEqual(text.status, 3, text.stderr)
        XCTAssertTrue(text.output.contains("\n  reason: no selected file could be restored (1 errors)\n"), text.output)

        let some = try optionhost([
            "restore", "--catalog", catalogPath, "--jobid", "1", "--where", work.appendingPathComponent("r3").path,
            "--json",
        ])
        XCTAssertEqual(some.status, 1, some.output)
        assertCounts(try self.summary(some), ["files_examined": 4, "files_stored": 3, "files_failed": 1, "errors": 1])
    }

    /// `scan` creates its catalog 0600 as `backup` does, whatever the umask; volumes and checksum logs are 0600
    /// too (issue 14, suite item 4: everything that names files is private).
    func testEveryFileThatNamesFilesIsCreatedPrivate() throws {
        let old = umask(0o022)
        defer { umask(old) }
        let tree = try makeTree()
        let log = work.appendingPathComponent("logs/sums.sha256").path
        try FileManager.default.createDirectory(
            atPath: work.appendingPathComponent("logs").path, withIntermediateDirectories: true)
        let config = try config([tree.root], options: "    Options { Plugin = \"checksum:log=\(log)\" }\n")
        let backup = try self.backup(config)
        XCTAssertEqual(backup.status, 0, backup.output + backup.stderr)
        XCTAssertEqual(permissions(catalogPath), 0o600)
        XCTAssertEqual(permissions(archivePath + "/Nightly-1-0001.tar"), 0o600)
        XCTAssertEqual(permissions(log), 0o600)

        let rebuilt = work.appendingPathComponent("scanned/catalog.db").path
        let scan = try optionhost(["scan", archivePath + "/Nightly-1-0001.tar", "--catalog", rebuilt])
        XCTAssertEqual(scan.status, 0, scan.output + scan.stderr)
        XCTAssertEqual(permissions(rebuilt), 0o600)
        // --force replaces an existing catalog: the new file is private too, whatever the old one was.
        XCTAssertEqual(chmod(rebuilt, 0o644), 0)
        let again = try optionhost(["scan", archivePath + "/Nightly-1-0001.tar", "--catalog", rebuilt, "--force"])
        XCTAssertEqual(again.status, 0, again.output + again.stderr)
        XCTAssertEqual(permissions(rebuilt), 0o600)
    }
}
