import XCTest

/// End-to-end tests of the built `optionhost` binary: exit codes, standard output and standard error.
final class CommandLineTests: CommandLineTestCase {
    // MARK: - check

    func testCheckExamples() throws {
        let result = try optionhost(["check", "examples/optionhost.conf"], directory: CommandLineTests.repository)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.output.hasPrefix("Configuration examples/optionhost.conf: OK (2 files read)\n"), result.output)
        XCTAssertTrue(result.output.contains("  FileSet: 2 (ExampleData, HomeDocuments)\n"), result.output)
        XCTAssertTrue(
            result.output.contains(
                "  Job ExampleBackup: type Backup, level Full, FileSet ExampleData, JobDefs ExampleDefaults, "
                    + "Catalog ExampleCatalog, Archive ExampleVolumes\n"), result.output)
        // The audit pipeline's two Python plugins are available: no stage warning.
        XCTAssertFalse(result.output.contains("stage \""), result.output)
    }

    func testCheckErrorPrintsLocationLineAndCaret() throws {
        let path = try write("bad.conf", "FileSet {\n  Name = \"a\"\n  Include = { File = /x }\n}\n")
        let result = try optionhost(["check", path])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.output, "")
        XCTAssertEqual(
            result.stderr,
            "\(path):3:11: Include takes a block: write 'Include {' without '='\n  Include = { File = /x }\n          ^\n")
    }

    func testCheckErrorAsJSON() throws {
        let path = try write("bad.conf", "FileSet {\n  Name = 12\n}\n")
        let result = try optionhost(["check", path, "--json"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(
            result.lines,
            [
                "{\"type\":\"error\",\"file\":\"\(path)\",\"line\":2,\"column\":10,\"message\":\"expected a name, got number 12 (quote it: \\\"12\\\")\"}",
                "{\"type\":\"summary\",\"status\":\"error\"}",
            ])
    }

    func testCheckEveryFixtureAndTheDefaultTree() throws {
        let fixtures = CommandLineTests.repository.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        guard FileManager.default.fileExists(atPath: fixtures.path) else {
            throw XCTSkip("../shared/fixtures is not present next to this checkout")
        }
        let directory = fixtures.appendingPathComponent("bareos-filesets")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".conf") }
        XCTAssertGreaterThan(names.count, 10)
        for name in names {
            let result = try optionhost(["check", directory.appendingPathComponent(name).path])
            XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
        }
        let tree = try optionhost(["check", fixtures.appendingPathComponent("bareos-default-config").path])
        XCTAssertEqual(tree.status, 0, tree.stderr)
        XCTAssertTrue(tree.output.contains("Job backup-bareos-fd: type Backup, level Incremental, FileSet SelfTest, JobDefs DefaultJob"), tree.output)
    }

    func testUsageErrorsExitWithTwo() throws {
        XCTAssertEqual(try optionhost(["estimate", "examples/optionhost.conf"], directory: CommandLineTests.repository).status, 2)
        XCTAssertEqual(try optionhost(["frobnicate"]).status, 2)
        let unknown = try optionhost(["estimate", "examples/optionhost.conf", "--job", "Nope"], directory: CommandLineTests.repository)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.stderr, "optionhost: no Job named \"Nope\" (Jobs: ExampleBackup, HomeDocuments)\n")
    }

    // MARK: - estimate

    private func estimateConfig(_ fileSetBody: String) throws -> String {
        try write(
            "e.conf",
            "FileSet {\n  Name = fs\n\(fileSetBody)\n}\nJob { Name = j; Type = Backup; Level = Full; FileSet = fs }\n")
    }

    func testEstimateListingAndTotals() throws {
        try makeFile("tree/a.txt", "hello")
        try makeFile("tree/sub/b.o", "obj")
        try makeFile("tree/sub/c.txt", "12345678")
        let tree = work.appendingPathComponent("tree").path
        let config = try estimateConfig(
            """
              Include {
                Options { WildFile = "*.o"; Exclude = yes }
                Options { Plugin = "checksum:log=/tmp/x" }
                File = "\(tree)"
              }
            """)
        let result = try optionhost(["estimate", config, "--job", "j", "--listing", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let objects = try result.lines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let entries = objects.filter { $0["path"] != nil }
        XCTAssertEqual(
            Set(entries.compactMap { $0["path"] as? String }),
            [tree, tree + "/a.txt", tree + "/sub", tree + "/sub/c.txt"])
        let a = try XCTUnwrap(entries.first { ($0["path"] as? String) == tree + "/a.txt" })
        XCTAssertEqual(a["type"] as? String, "file")
        XCTAssertEqual(a["size"] as? Int, 5)
        XCTAssertTrue(a["block"] is NSNull)
        XCTAssertEqual(a["chain"] as? [String], ["checksum:log=/tmp/x"])
        // The directory record comes after its contents.
        let order = entries.compactMap { $0["path"] as? String }
        XCTAssertLessThan(try XCTUnwrap(order.firstIndex(of: tree + "/sub/c.txt")), try XCTUnwrap(order.firstIndex(of: tree + "/sub")))
        XCTAssertEqual(order.last, tree)
        let summary = try XCTUnwrap(objects.last)
        XCTAssertEqual(summary["type"] as? String, "summary")
        XCTAssertEqual(summary["files"] as? Int, 2)
        XCTAssertEqual(summary["bytes"] as? Int, 13)
        XCTAssertEqual(summary["directories"] as? Int, 2)
        XCTAssertEqual(summary["errors"] as? Int, 0)

        let text = try optionhost(["estimate", config, "--job", "j"])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.output.hasPrefix("Estimate of Job \"j\" (FileSet \"fs\", level Full): 2 files, 13 bytes (0.0 MB)\n"), text.output)
    }

    func testNonUTF8NameIsBase64InJSON() throws {
        let tree = work.appendingPathComponent("raw")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        let name = Array(tree.path.utf8) + Array("/caf".utf8) + [0xE9]
        let fd = name.withUnsafeBufferPointer { buffer -> Int32 in
            let cString = buffer.map { CChar(bitPattern: $0) } + [0]
            return open(cString, O_CREAT | O_WRONLY, 0o644)
        }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let config = try estimateConfig("  Include {\n    File = \"\(tree.path)\"\n  }")
        let result = try optionhost(["estimate", config, "--job", "j", "--listing", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let encoded = Data(name).base64EncodedString()
        XCTAssertTrue(result.output.contains("{\"path_b64\":\"\(encoded)\",\"type\":\"file\""), result.output)
        let listing = try optionhost(["estimate", config, "--job", "j", "--listing"])
        XCTAssertNotNil(listing.stdout.firstRange(of: name), "raw bytes in the text listing")
    }

    func testUnreadableDirectoryIsReportedAndTheWalkGoesOn() throws {
        try makeFile("locked/secret/s.txt")
        try makeFile("locked/open.txt", "visible")
        let secret = work.appendingPathComponent("locked/secret").path
        XCTAssertEqual(chmod(secret, 0o000), 0)
        let tree = work.appendingPathComponent("locked").path
        let config = try estimateConfig("  Include {\n    File = \"\(tree)\"\n  }")
        _ = try run("/bin/chmod", ["0644", config])
        // CI runs as root, and root reads everything: drop to nobody for this run.
        let result = try run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", CommandLineTests.binary, "estimate", config, "--job", "j", "--listing"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("error: \(secret): Could not open directory"), result.stderr)
        XCTAssertTrue(result.output.contains(tree + "/open.txt"), result.output)
        XCTAssertTrue(result.output.contains("0 directories, 0 links") == false)
        XCTAssertTrue(result.output.contains("1 errors"), result.output)
    }

    func testFailingCommandListFailsTheJob() throws {
        let config = try estimateConfig("  Include {\n    File = \"|exit 7\"\n  }")
        let result = try optionhost(["estimate", config, "--job", "j"])
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stderr.contains("\(config):4:12"), result.stderr)
        XCTAssertTrue(result.stderr.contains("exit 7"), result.stderr)
    }

    // MARK: - demo

    func testDemoRunsOnTheExamples() throws {
        let result = try optionhost(["demo"], directory: CommandLineTests.repository)
        XCTAssertEqual(result.status, 0, result.stderr + result.output)
        let data = CommandLineTests.repository.appendingPathComponent("examples/data").path
        // The estimate listing: lines in `ls -l` form.
        let listing = result.lines.filter { line in
            line.contains(data) && "-dlpcbs".contains(line.first ?? " ") && line.dropFirst(10).hasPrefix(" ")
        }
        XCTAssertTrue(
            listing.contains {
                $0.contains(data + "/documents/report.txt  [block 1; chain owner:exclude_user=nobody | checksum:log=")
                    && $0.hasSuffix("| index]")
            }, result.output)
        XCTAssertTrue(
            listing.contains { $0.contains(data + "/home/alice/Documents/cv.txt  [block 2; chain index | gpg:recipient=") },
            result.output)
        XCTAssertTrue(listing.contains { $0.contains(data + "/src/main.c  [block 3; chain python3:") }, result.output)
        XCTAssertFalse(listing.contains { $0.contains("main.o") || $0.contains("out.bin") || $0.contains(".swp") })
        XCTAssertEqual(listing.count, 18, result.output)  // 7 files, 10 directories, 1 symlink
        XCTAssertTrue(result.output.contains("Estimate of Job \"demo\""))
        XCTAssertTrue(result.output.contains("restored tree: all 7 files identical to the originals"), result.output)
        // The checksum stage's log checks the restored documents with sha256sum.
        let relative = String(data.dropFirst())
        for name in ["notes.md", "report.txt", "meeting minutes.txt"] {
            XCTAssertTrue(result.lines.contains("\(relative)/documents/\(name): OK"), result.output)
        }
        // The index stage's text is found by search; stock gpg decrypts a member pulled out with tar.
        XCTAssertTrue(result.lines.contains("1. \(data)/documents/meeting minutes.txt"), result.output)
        XCTAssertTrue(result.lines.contains("cv.txt: decrypted by gpg, identical to the original"), result.output)
    }
}
