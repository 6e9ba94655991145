import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the native stage tests: one FileSet over one tree with one Options block of stage strings.
class StageCommandTestCase: CommandLineTestCase {
    var catalog: String { work.path + "/catalog.db" }
    var volumes: String { work.path + "/volumes" }
    var tree: String { work.path + "/tree" }

    /// A config whose FileSet backs up `tree` with `plugins` as its chain (Job `Nightly`, Level Full).
    func config(_ plugins: [String], level: String = "Full") throws -> String {
        let lines = plugins.map { "      Plugin = \"\($0)\"" }.joined(separator: "\n")
        let path = try write(
            "stages.conf",
            """
            FileSet {
              Name = fs
              Include {
                Options {
            \(lines)
                }
                File = "\(tree)"
              }
            }
            Job { Name = Nightly; Type = Backup; Level = \(level); FileSet = fs }

            """)
        return path
    }

    /// Runs a backup and returns its JSON summary (exit status checked against `status`).
    @discardableResult
    func backup(_ config: String, status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let result = try optionhost(
            ["backup", config, "--job", "Nightly", "--catalog", catalog, "--archive", volumes, "--json"])
        XCTAssertEqual(result.status, status, result.output + result.stderr, file: file, line: line)
        let last = try XCTUnwrap(result.lines.last, result.stderr, file: file, line: line)
        return try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], last, file: file, line: line)
    }

    /// Restores job `id` under `where` and checks the exit status.
    func restore(_ id: Int, to target: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try optionhost(["restore", "--catalog", catalog, "--jobid", String(id), "--where", target])
        XCTAssertEqual(result.status, 0, result.output + result.stderr, file: file, line: line)
    }

    /// `bash -c command`: exit status and standard output + error.
    func shell(_ command: String) throws -> (status: Int32, output: String) {
        let result = try run("/bin/bash", ["-c", command + " 2>&1"])
        return (result.status, result.output)
    }

    /// Writes raw bytes at a raw name under `tree` (names that are not UTF-8 or hold newlines).
    func makeRaw(_ name: [UInt8], _ contents: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        var path = Array(tree.utf8) + [UInt8(ascii: "/")] + name + [0]
        let descriptor = path.withUnsafeMutableBytes {
            open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        XCTAssertEqual(contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }, contents.count)
        close(descriptor)
    }
}

/// The `checksum` stage end to end: real backups, the logs checked by coreutils and hashdeep against the live
/// tree (from `/`) and a restored tree (from `--where`).
final class ChecksumCommandTests: StageCommandTestCase {
    private func makeTree() throws {
        try makeFile("tree/a.txt", "hello\n")
        try makeFile("tree/with space.txt", "spaces\n")
        try makeFile("tree/sub/back\\slash", "backslash\n")
        try makeFile("tree/empty", "")
        try makeFile("tree/sub/big.bin", bytes: (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        try makeRaw(Array("new\nline".utf8), Array("newline\n".utf8))
        try makeRaw([0x6C, 0x61, 0x74, 0x69, 0x6E, 0xE9], Array("latin-1 name\n".utf8))
        XCTAssertEqual(symlink("a.txt", tree + "/link"), 0)
    }

    private let fileCount = 7

    func testSha256sumAndSha512sumCheckTheLiveAndTheRestoredTree() throws {
        try makeTree()
        let sha256 = work.path + "/logs/sums.sha256"
        let sha512 = work.path + "/logs/sums.sha512"
        try FileManager.default.createDirectory(atPath: work.path + "/logs", withIntermediateDirectories: true)
        let config = try config(["checksum:log=\(sha256)", "checksum:algorithm=sha512:log=\(sha512)"])
        let summary = try backup(config)
        XCTAssertEqual(summary["files_stored"] as? Int, fileCount)
        for (log, tool) in [(sha256, "sha256sum"), (sha512, "sha512sum")] {
            let text = try String(contentsOfFile: log, encoding: .isoLatin1)
            XCTAssertEqual(text.filter { $0 == "\n" }.count, fileCount, text)
            var (status, output) = try shell("cd / && \(tool) -c --strict \(log)")
            XCTAssertEqual(status, 0, output)
            XCTAssertEqual(output.components(separatedBy: ": OK").count - 1, fileCount, output)
            XCTAssertTrue(output.contains("\\\(String(work.path.dropFirst()))/tree/new\\nline: OK"), output)
            XCTAssertTrue(output.contains("/tree/sub/back\\slash: OK"), output)  // -c prints it unescaped
            var info = stat()
            XCTAssertEqual(stat(log, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, 0o600)
            let target = work.path + "/restored-\(tool)"
            try restore(1, to: target)
            (status, output) = try shell("cd \(target) && \(tool) -c --strict \(log)")
            XCTAssertEqual(status, 0, output)
            // One changed byte in the restored tree: FAILED.
            try Data("hellO\n".utf8).write(to: URL(fileURLWithPath: target + tree + "/a.txt"))
            (status, output) = try shell("cd \(target) && \(tool) -c \(log)")
            XCTAssertEqual(status, 1, output)
            XCTAssertTrue(output.contains("tree/a.txt: FAILED\n"), output)
            XCTAssertTrue(output.contains("1 computed checksum did NOT match"), output)
        }
    }

    func testHashdeepAuditsTheLiveAndTheRestoredTree() throws {
        try makeTree()
        // hashdeep cannot hold a newline in a name: that file is a comment line, and not in this tree. hashdeep
        // follows symbolic links; `-o f` (regular files only) leaves them out as the log does.
        XCTAssertEqual(unlink(tree + "/new\nline"), 0)
        let log = work.path + "/audit.hashdeep"
        let summary = try backup(try config(["checksum:format=hashdeep:algorithm=md5:log=\(log)"]))
        XCTAssertEqual(summary["files_stored"] as? Int, fileCount - 1)
        let relative = String(tree.dropFirst())
        var (status, output) = try shell("cd / && hashdeep -o f -l -r -a -k \(log) \(relative)")
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("Audit passed"), output)
        let target = work.path + "/restored"
        try restore(1, to: target)
        (status, output) = try shell("cd \(target) && hashdeep -o f -l -r -a -k \(log) \(relative)")
        XCTAssertEqual(status, 0, output)
        try Data("x".utf8).write(to: URL(fileURLWithPath: target + tree + "/with space.txt"))
        (status, output) = try shell("cd \(target) && hashdeep -o f -l -r -a -k \(log) \(relative)")
        XCTAssertNotEqual(status, 0, output)
    }

    /// Backs up, changes `a.txt`, backs up again; `sha256sum -c --strict` then accepts `log` for the live tree.
    private func backupTwiceOverAChangedFile(
        _ config: String, checking log: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try backup(config)
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: tree + "/a.txt"))
        try backup(config)
        let (status, output) = try shell("cd / && sha256sum -c --strict \(log)")
        XCTAssertEqual(status, 0, output, file: file, line: line)
        XCTAssertEqual(output.components(separatedBy: ": OK").count - 1, fileCount, output, file: file, line: line)
    }

    func testASecondJobOverAChangedFileKeepsTheSharedLogCheckable() throws {
        try makeTree()
        let log = work.path + "/shared.sha256"
        let jsonl = work.path + "/history.jsonl"
        let config = try config(["checksum:log=\(log)", "checksum:format=jsonl:log=\(jsonl)"])
        try backupTwiceOverAChangedFile(config, checking: log)
        // The jsonl log keeps both jobs' lines (history).
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2 * fileCount)
        XCTAssertTrue(lines.last { $0.contains("\"path\":\"\(String(tree.dropFirst()))/a.txt\"") }!.contains("\"job_id\":2"))
    }

    /// The example plugin `examples/plugins/bareos-fd-checksum-log.py` follows the same rules as the stage.
    func testThePythonExampleKeepsASharedLogCheckable() throws {
        try makeTree()
        let log = work.path + "/python.sha256"
        let plugins = Self.repository.appendingPathComponent("examples/plugins").path
        let config = try config(
            ["python3:module_path=\(plugins):module_name=bareos-fd-checksum-log:log=\(log)"])
        try backupTwiceOverAChangedFile(config, checking: log)
        var info = stat()
        XCTAssertEqual(stat(log, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }

    func testALogPerJobAndTheJobsUnderOneLog() throws {
        try makeFile("tree/a.txt", "a\n")
        let config = try config(["checksum:log=\(work.path)/%j-%i-%l.sha256"])
        try backup(config)
        try backup(config)
        for id in [1, 2] {
            let log = work.path + "/Nightly-\(id)-Full.sha256"
            XCTAssertEqual(try shell("cd / && sha256sum -c --strict \(log)").status, 0)
        }
    }

    func testEstimateDoesNotRunTheStage() throws {
        try makeFile("tree/a.txt", "a\n")
        let log = work.path + "/estimate.sha256"
        let result = try optionhost(["estimate", try config(["checksum:log=\(log)"]), "--job", "Nightly", "--listing"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.output.contains("tree/a.txt"), result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: log))
    }

    func testCheckRefusesAChecksumStageWithoutLog() throws {
        try makeFile("tree/a.txt", "a\n")
        let result = try optionhost(["check", try config(["checksum:algorithm=sha512"])])
        XCTAssertEqual(result.status, 2, result.output)
        XCTAssertTrue(
            (result.output + result.stderr).contains("stage \"checksum\": option log= is required"),
            result.output + result.stderr)
        XCTAssertEqual(try optionhost(["check", try config(["checksum:log=/tmp/x.sha256"])]).status, 0)
    }
}
