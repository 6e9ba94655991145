import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The progress a job reports while it runs (issue 16 item 1): bytes counted chunk by chunk inside large files, the
/// file being written shown, a closing summary line on the terminal, and `{"type":"progress"}` objects under
/// `--json`.
final class ProgressCommandTests: CommandLineTestCase {
    static let mebibyte = 1 << 20

    /// `tree/one.log` (64 MiB) and `tree/two.log` (192 MiB) of compressible text, and a config that stores them
    /// with GZIP into `archive/` and `catalog.db`. Both are streamed at once; `one.log` is written first, then
    /// `two.log` goes on alone: the path shown must move from one to the other.
    func makeLargeTree(megabytes: (Int, Int) = (64, 192)) throws -> String {
        let root = work.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var block = [UInt8]()
        var line = 0
        while block.count < ProgressCommandTests.mebibyte {
            block += Array("line \(line) of a log that compresses well: the quick brown fox\n".utf8)
            line += 1
        }
        block.removeLast(block.count - ProgressCommandTests.mebibyte)
        for (name, size) in [("one.log", megabytes.0), ("two.log", megabytes.1)] {
            let fd = open(root.appendingPathComponent(name).path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            for _ in 0..<size {
                XCTAssertEqual(block.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, block.count)
            }
            close(fd)
        }
        return try write(
            "progress.conf",
            """
            Catalog { Name = cat; DB Driver = sqlite3; DB Name = "\(work.path)/catalog.db" }
            Archive { Name = arc; Directory = "\(work.path)/archive" }
            FileSet {
              Name = fs
              Include {
                Options { Compression = GZIP1 }
                File = "\(root.path)"
              }
            }
            Job { Name = Big; Type = Backup; Level = Full; FileSet = fs; Catalog = cat; Archive = arc }

            """)
    }

    /// One redraw of the progress line: the bytes it shows (in tenths of MB) and the path at its end.
    struct Redraw {
        var tenths: Int
        var path: String
    }

    /// The progress lines of a terminal transcript (each redraw starts with `\r` and an erase-line sequence).
    func redraws(_ transcript: String, verb: String) -> [Redraw] {
        transcript.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).compactMap { raw in
            let line = raw.replacingOccurrences(of: "\u{1B}[K", with: "")
            guard line.hasPrefix(verb + " "), line.contains(" MB/s"), !line.contains(" average") else { return nil }
            let parts = line.components(separatedBy: ", ")
            guard parts.count > 1, let megabytes = parts[1].components(separatedBy: " ").first else { return nil }
            let digits = megabytes.replacingOccurrences(of: ".", with: "")
            guard let tenths = Int(digits) else { return nil }
            let path = line.components(separatedBy: "  ").count > 1 ? line.components(separatedBy: "  ").last! : ""
            return Redraw(tenths: tenths, path: path)
        }
    }

    /// Runs `arguments` under a pseudo-terminal 200 columns wide (`script`), returning everything it printed. The
    /// line is redrawn every 0.05 s: a fast machine backs the files up in well under a second.
    func underTerminal(_ arguments: [String], environment: String = "OPTIONHOST_PROGRESS_INTERVAL=0.05 ") throws -> Result {
        let quoted = ([CommandLineTestCase.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try run("/usr/bin/script", ["-q", "-e", "-c", "stty cols 200; \(environment)exec \(quoted)", "/dev/null"])
    }

    func testBackupOfLargeCompressedFilesShowsBytesAndPathMovingUnderATerminal() throws {
        let config = try makeLargeTree()
        let result = try underTerminal(["backup", config, "--job", "Big"])
        XCTAssertEqual(result.status, 0, result.output)
        let total = 256 * ProgressCommandTests.mebibyte
        let totalTenths = (total + 50_000) / 100_000
        let lines = redraws(result.output, verb: "backup:")
        let moving = lines.filter { $0.tenths < totalTenths }
        // Bytes move inside the files: many distinct figures below the total (per-file counting shows only 0 and
        // 64 MiB), never going back, and never the same figure for a whole second (20 redraws).
        XCTAssertGreaterThanOrEqual(Set(moving.map(\.tenths)).count, 4, result.output)
        for (earlier, later) in zip(moving, moving.dropFirst()) {
            XCTAssertLessThanOrEqual(earlier.tenths, later.tenths, result.output)
        }
        if moving.count >= 21 {
            for start in 0...(moving.count - 21) {
                XCTAssertLessThan(moving[start].tenths, moving[start + 20].tenths, "stalled: \(result.output)")
            }
        }
        // The path is the file being written: one.log first, then two.log, never back (the directory's member
        // comes last).
        let paths = lines.map(\.path).filter { $0.hasSuffix(".log") }
        XCTAssertEqual(paths.first.map { $0.hasSuffix("/tree/one.log") }, true, result.output)
        XCTAssertEqual(paths.last.map { $0.hasSuffix("/tree/two.log") }, true, result.output)
        let firstTwo = paths.firstIndex { $0.hasSuffix("/tree/two.log") } ?? paths.count
        XCTAssertTrue(paths[firstTwo...].allSatisfy { $0.hasSuffix("/tree/two.log") }, result.output)
        XCTAssertTrue(lines.contains { $0.path.hasSuffix("/tree/two.log") && $0.tenths < totalTenths }, result.output)
        // One summary line replaces the progress line.
        let summaries = result.output.components(separatedBy: "\r\u{1B}[K").filter { $0.contains(" average") }
        XCTAssertEqual(summaries.count, 1, result.output)
        XCTAssertEqual(summaries.first.map { $0.hasPrefix("backup: 2 files, 268.4 MB in ") }, true, result.output)
        XCTAssertTrue(result.output.contains("Backup of Job \"Big\" (JobId 1, level Full): ok"), result.output)
    }

    /// `{"type":"progress"}` objects of a JSON Lines transcript, as dictionaries.
    func progressObjects(_ result: Result) throws -> [[String: Any]] {
        try result.lines.compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["type"] as? String == "progress" ? object : nil
        }
    }

    func testJSONProgressObjectsForBackupAndRestoreCountBytesInsideFiles() throws {
        let config = try makeLargeTree(megabytes: (16, 160))
        let total = 176 * ProgressCommandTests.mebibyte
        let backup = try run(
            "/usr/bin/env",
            ["OPTIONHOST_PROGRESS_INTERVAL=0.05", CommandLineTestCase.binary, "backup", config, "--job", "Big", "--json"])
        XCTAssertEqual(backup.status, 0, backup.stderr)
        XCTAssertEqual(backup.lines.last.map { $0.contains("\"type\":\"summary\"") }, true, backup.output)
        let objects = try progressObjects(backup)
        let bytes = objects.compactMap { $0["bytes"] as? Int }
        XCTAssertEqual(bytes.count, objects.count)
        XCTAssertEqual(objects.compactMap { $0["command"] as? String }, Array(repeating: "backup", count: objects.count))
        // Figures strictly inside the 160 MiB file: only chunk-by-chunk counting gives them.
        XCTAssertGreaterThanOrEqual(bytes.filter { $0 > 16 * ProgressCommandTests.mebibyte && $0 < total }.count, 2, backup.output)
        XCTAssertEqual(bytes, bytes.sorted(), backup.output)
        XCTAssertTrue(objects.allSatisfy { ($0["bytes_per_second"] as? Double ?? -1) >= 0 }, backup.output)
        XCTAssertTrue(objects.contains { ($0["path"] as? String)?.hasSuffix("/tree/two.log") == true }, backup.output)

        let restore = try run(
            "/usr/bin/env",
            [
                "OPTIONHOST_PROGRESS_INTERVAL=0.05", CommandLineTestCase.binary, "restore", config, "--jobid", "1",
                "--where", work.appendingPathComponent("restored").path, "--json", "--workers", "1",
            ])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        let restored = try progressObjects(restore).compactMap { $0["bytes"] as? Int }
        XCTAssertGreaterThanOrEqual(
            restored.filter { $0 > 16 * ProgressCommandTests.mebibyte && $0 < total }.count, 1, restore.output)
        XCTAssertEqual(restored, restored.sorted(), restore.output)
    }
}
